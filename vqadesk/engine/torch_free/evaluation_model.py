"""Which model an evaluation runs: its kind, the reference ``--model`` takes, a short label.

``evaluated_model(reference)`` accepts what every ``--model`` option does: a bundled or user
model name, a checkpoint path (``runs/x/best.json``, ``runs/x/best``), ``hf:ORG/NAME[@REV]`` from
the Hugging Face cache, or a transformers model folder. It reads only JSON (no torch), so the
routine refuses an unknown model, a pickle or a foreign file at once, in one line. The kind
decides what the split must hold (questions with human answers, or reference captions).

The reference recorded in the manifest works from any folder: a checkpoint or model folder path
becomes absolute; names and ``hf:`` references stay as given. The label is what the evaluation's
folder name and the app's list show: the model name, ``<run folder>/best`` for a run's
checkpoint, or the pretrained model's name without its organisation and revision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.checkpoints.checkpoint_files import PICKLE_SUFFIXES, pickle_refusal
from vqadesk.engine.torch_free.hub.references import is_pretrained_reference, resolve_pretrained
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import UnknownModelError, list_models, looks_like_path, resolve_model
from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import read_json

_CHECKPOINT_FORMAT = "vqadesk.checkpoint"


@dataclass(frozen=True)
class EvaluatedModel:
    reference: str
    label: str
    kind: ModelKind


def evaluated_model(reference: str | os.PathLike[str]) -> EvaluatedModel:
    """The model ``reference`` names (see the module docstring); a ``VqadeskError`` when none."""
    text = str(reference).strip()
    if not text:
        raise UnknownModelError(f"no model given; {_available()}")
    if is_pretrained_reference(reference):
        source = resolve_pretrained(reference)
        assert source is not None
        if source.reference is not None:
            label = source.reference.repo_id.rsplit("/", 1)[-1]
            return EvaluatedModel(reference=text, label=label, kind=source.kind)
        folder = Path(reference).expanduser().resolve()
        return EvaluatedModel(reference=str(folder), label=folder.name, kind=source.kind)
    try:
        path = resolve_model(reference, ModelKind.VQA.value)
    except UnknownModelError:
        raise UnknownModelError(f"unknown model {text!r}; {_available()}") from None
    json_path = _json_of(path)
    kind = _checkpoint_kind(json_path)
    if looks_like_path(reference):
        absolute = json_path.resolve()
        label = f"{absolute.parent.name}/{absolute.stem}" if absolute.stem in ("best", "last") else absolute.stem
        return EvaluatedModel(reference=str(absolute), label=label, kind=kind)
    return EvaluatedModel(reference=text, label=text, kind=kind)


def _json_of(path: Path) -> Path:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise pickle_refusal(path)
    if suffix == ".json":
        return path
    if suffix == ".safetensors":
        return path.with_suffix(".json")
    return path.with_name(path.name + ".json")


def _checkpoint_kind(json_path: Path) -> ModelKind:
    if not json_path.is_file():
        raise VqadeskError(f"{json_path}: checkpoint not found")
    document = read_json(json_path)
    if not isinstance(document, dict) or document.get("format") != _CHECKPOINT_FORMAT:
        raise DataFormatError(json_path, "not a vqadesk checkpoint (no \"format\": \"vqadesk.checkpoint\")")
    kind = document.get("kind")
    if kind not in {k.value for k in ModelKind}:
        raise DataFormatError(json_path, f"unknown model kind {kind!r}", "kind")
    return ModelKind(kind)


def _available() -> str:
    names = ", ".join(f"{m.name} ({m.kind.value})" for m in list_models())
    where = f"available models: {names}" if names else "no models are installed"
    return f"{where}; or give a checkpoint path (runs/x/best.json), hf:ORG/NAME or a model folder"

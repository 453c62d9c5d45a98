"""Model names: which checkpoint ``--model shapes-vqa`` (or ``--model runs/x/best``) means.

A model is a checkpoint pair ``NAME.json`` + ``NAME.safetensors`` (see
``engine/checkpoints/checkpoint.py``). ``resolve_model`` turns what the user typed into the
checkpoint's JSON path:

* a path -- anything with a folder separator or a checkpoint-like suffix
  (``runs/x/best.json``, ``best.safetensors``, ``runs/x/best``, ``model.pt``)
  -- is returned as given; loading it reports a missing, foreign or pickled
  file (pickles are refused by the checkpoint module, never opened);
* a bare name is looked up in the bundled models (``resources/models/``) and
  then in the user's own (``<user data folder>/models/``); a bundled name
  wins, so ``shapes-vqa`` always means the model shipped with vqadesk;
* a bare name found in neither, but naming a checkpoint in the current folder
  (``best`` with ``best.json`` here), is that checkpoint;
* anything else is an ``UnknownModelError`` listing the names available.

``list_models(kind)`` lists the named models of one kind with a one-line
description from each checkpoint (its model card's title when it has one).
This module reads JSON only; it never imports torch, so listing is instant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqadesk.engine.checkpoints.checkpoint_files import PICKLE_SUFFIXES
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json
from vqadesk.paths import resources_root, user_data_dir

KINDS = tuple(kind.value for kind in ModelKind)  # plain strings: error messages show them as such
DEFAULT_VQA_NAME = "shapes-vqa"
DEFAULT_CAPTIONER_NAME = "shapes-captioner"
DEFAULT_NAMES = {ModelKind.VQA: DEFAULT_VQA_NAME, ModelKind.CAPTIONING: DEFAULT_CAPTIONER_NAME}

_CHECKPOINT_FORMAT = "vqadesk.checkpoint"  # checkpoint.FORMAT_NAME, without importing torch
_PATH_SUFFIXES = frozenset({".json", ".safetensors"}) | PICKLE_SUFFIXES
_KIND_WORDS = {ModelKind.VQA: "VQA", ModelKind.CAPTIONING: "captioning"}


class UnknownModelError(VqadeskError):
    """A model name that is neither bundled, nor the user's, nor a checkpoint path."""


@dataclass(frozen=True)
class ModelInfo:
    """One named model: ``source`` is ``"bundled"`` or ``"user"``; ``path`` its JSON file."""

    name: str
    kind: ModelKind
    path: Path
    source: str
    description: str


def bundled_models_dir() -> Path:
    """``resources/models``: the models shipped with vqadesk (may not exist)."""
    return resources_root() / "models"


def user_models_dir() -> Path:
    """``<user data folder>/models``: models the user trained or copied there (may not exist)."""
    return user_data_dir() / "models"


def looks_like_path(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether the user gave a file path rather than a model name."""
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in text for sep in separators) or Path(text).suffix.lower() in _PATH_SUFFIXES


def resolve_model(name_or_path: str | os.PathLike[str], kind: str) -> Path:
    """The checkpoint path ``name_or_path`` means for a model of ``kind`` (see the module docstring).

    A path is returned without being opened: whether it exists and holds a
    ``kind`` checkpoint is the loader's to say (one clear error naming the file).
    """
    _check_kind(kind)
    if looks_like_path(name_or_path):
        return Path(name_or_path).expanduser()
    name = str(name_or_path).strip()
    if not name:
        raise UnknownModelError(f"no model name given; {_available_sentence(kind)}")
    for folder in _model_folders():
        candidate = folder / f"{name}.json"
        if candidate.is_file():
            return candidate
    local = Path(f"{name}.json")
    if local.is_file():
        return local
    raise UnknownModelError(f"unknown model name {name!r}; {_available_sentence(kind)}")


def list_models(kind: str | None = None) -> list[ModelInfo]:
    """The named models (bundled first, then the user's), of ``kind`` when given.

    Files that are not readable vqadesk checkpoints are left out: they are
    not models, and one damaged file must not hide the others. A user model
    with a bundled model's name is left out too, since the name means the
    bundled one.
    """
    if kind is not None:
        _check_kind(kind)
    found: list[ModelInfo] = []
    seen: set[str] = set()
    for source, folder in (("bundled", _bundled_or_none()), ("user", _user_or_none())):
        if folder is None:
            continue
        for path in sorted(folder.glob("*.json")):
            name = path.stem
            if name in seen:
                continue
            info = _read_info(path, name, source)
            if info is None or (kind is not None and info.kind != kind):
                continue
            seen.add(name)
            found.append(info)
    return found


def describe_checkpoint(document: dict[str, Any]) -> str:
    """One line about a checkpoint from its JSON: the model card's title, else its architecture."""
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    card = metadata.get("model_card") if isinstance(metadata.get("model_card"), dict) else {}
    title = card.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    config = document.get("model_config") if isinstance(document.get("model_config"), dict) else {}
    encoder = config.get("image_encoder") if isinstance(config.get("image_encoder"), dict) else {}
    kind = document.get("kind")
    if kind == ModelKind.VQA:
        what = f"{config.get('model', '?')} VQA model"
    else:
        cell = config.get("cell", "?")
        what = f"{cell} captioner{' with attention' if config.get('attention') else ''}"
    details = [what]
    if encoder.get("name"):
        details.append(f"{encoder['name']} image encoder at {encoder.get('image_size', '?')} px")
    history = metadata.get("history")
    if isinstance(history, list) and history and isinstance(history[-1], dict):
        metrics = history[-1].get("metrics")
        if isinstance(metrics, dict):
            shown = [f"{key} {value:.3g}" for key, value in metrics.items()
                     if key in ("accuracy", "BLEU-4", "CIDEr") and isinstance(value, (int, float))]
            if shown:
                details.append("validation " + ", ".join(shown))
    return ", ".join(details)


# -- helpers -------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _bundled_or_none() -> Path | None:
    try:
        folder = bundled_models_dir()
    except VqadeskError:  # no resources folder at all: a broken install, reported elsewhere
        return None
    return folder if folder.is_dir() else None


def _user_or_none() -> Path | None:
    try:
        folder = user_models_dir()
    except OSError:  # the user data folder cannot be created (read-only home...)
        return None
    return folder if folder.is_dir() else None


def _model_folders() -> list[Path]:
    return [folder for folder in (_bundled_or_none(), _user_or_none()) if folder is not None]


def _read_info(path: Path, name: str, source: str) -> ModelInfo | None:
    try:
        document = read_json(path)
    except VqadeskError:
        return None
    if not isinstance(document, dict) or document.get("format") != _CHECKPOINT_FORMAT:
        return None
    kind = document.get("kind")
    if kind not in KINDS:
        return None
    return ModelInfo(
        name=name, kind=ModelKind(kind), path=path, source=source, description=describe_checkpoint(document)
    )


def _available_sentence(kind: str) -> str:
    models = list_models(kind)
    word = _KIND_WORDS[kind]
    if not models:
        return (
            f"no {word} models are installed (bundled in {_folder_text(_bundled_or_none, 'resources/models')}, "
            f"yours in {_folder_text(user_models_dir, 'the user data folder')}); give a checkpoint path "
            f"such as runs/{kind}/best.json"
        )
    names = ", ".join(f"{m.name} ({m.description})" for m in models)
    return f"available {word} models: {names}; or give a checkpoint path such as runs/{kind}/best.json"


def _folder_text(locate, fallback: str) -> str:
    try:
        folder = locate()
    except (VqadeskError, OSError):
        return fallback
    return str(folder) if folder is not None else fallback

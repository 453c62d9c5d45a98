"""What the app's Models panel shows about a checkpoint, read from its JSON alone (no torch).

``read_model_card(path)`` gives a ``ModelCard``: kind, title, the world it
was trained on (``domain``), its size on disk, parameter count and a Markdown
text -- the bundled model card (``NAME.md`` beside ``NAME.json``) when there
is one, else one written from the checkpoint's metadata (architecture,
training options, the last validation metrics). A file that is not a vqadesk
checkpoint is a ``DataFormatError`` naming it, like every other reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import KINDS, describe_checkpoint
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import read_json

SHAPES_DOMAIN = "shapes"


@dataclass(frozen=True)
class ModelCard:
    path: Path
    kind: ModelKind
    title: str
    domain: str | None  # "shapes", "photos", or None when the checkpoint does not say
    size_bytes: int
    parameters: int | None
    markdown: str

    @property
    def knows_only_shapes(self) -> bool:
        return self.domain == SHAPES_DOMAIN


def model_domain(document: dict[str, Any]) -> str | None:
    """The world a checkpoint was trained on: its ``metadata.domain``; older checkpoints
    without one count as Shapes models when their model card says it was trained on the Shapes world."""
    metadata = _dict(document.get("metadata"))
    domain = metadata.get("domain")
    if isinstance(domain, str):
        return domain
    data = _dict(metadata.get("model_card")).get("data")
    if isinstance(data, str) and data.lower().startswith("shapes world"):
        return SHAPES_DOMAIN
    return None


def read_model_card(path: str | os.PathLike[str]) -> ModelCard:
    path = Path(path)
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != "vqadesk.checkpoint":
        raise DataFormatError(path, "not a vqadesk checkpoint (no 'format': 'vqadesk.checkpoint')")
    kind = document.get("kind")
    if kind not in KINDS:
        raise DataFormatError(path, f"unknown checkpoint kind {kind!r}", "kind")
    tensors = path.with_name(str(_dict(document.get("tensors")).get("file") or f"{path.stem}.safetensors"))
    size = path.stat().st_size + (tensors.stat().st_size if tensors.is_file() else 0)
    metadata = _dict(document.get("metadata"))
    card = _dict(metadata.get("model_card"))
    parameters = card.get("parameters") if isinstance(card.get("parameters"), int) else None
    bundled = path.with_suffix(".md")
    markdown = bundled.read_text(encoding="utf-8") if bundled.is_file() else _markdown(document, path)
    return ModelCard(
        path=path, kind=ModelKind(kind), title=describe_checkpoint(document), domain=model_domain(document),
        size_bytes=size, parameters=parameters, markdown=markdown,
    )


def _markdown(document: dict[str, Any], path: Path) -> str:
    """A model card for a checkpoint that has none: what it is, how it was trained, how it scored."""
    metadata = _dict(document.get("metadata"))
    config = _dict(document.get("model_config"))
    encoder = _dict(config.get("image_encoder"))
    training = _dict(metadata.get("training_config"))
    lines = [f"# {path.stem}", "", describe_checkpoint(document), ""]
    rows = [
        ("kind", document.get("kind")),
        ("model", config.get("model") or config.get("cell")),
        ("image encoder",
         f"{encoder.get('name', '?')} ({encoder.get('layer', '?')}, {encoder.get('image_size', '?')} px)"),
        ("trained on", training.get("data")),
        ("epochs / steps", f"{metadata.get('epoch', '?')} / {metadata.get('step', '?')}"),
        # Resolved by the trainer; older checkpoints' training_config holds an explicit choice, or nothing (fp32).
        ("trained in", metadata.get("precision") or training.get("precision") or "fp32"),
        ("created", metadata.get("created")),
    ]
    lines += ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows if value is not None]
    if training:
        shown = ("epochs", "batch_size", "lr", "optimizer", "dropout", "seed", "device")
        options = ", ".join(f"{key}={training[key]}" for key in shown if key in training)
        lines += ["", f"Training options: {options}"]
    history = metadata.get("history")
    if isinstance(history, list) and history and isinstance(history[-1], dict):
        last = history[-1]
        metrics = _dict(last.get("metrics")) or {k: v for k, v in last.items() if k not in ("epoch", "step")}
        flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        for group, values in metrics.items():
            if isinstance(values, dict):
                flat.update({f"{group}: {k}": v for k, v in values.items() if isinstance(v, (int, float))})
        if flat:
            lines += ["", f"Validation after epoch {last.get('epoch', '?')}:", "", "| metric | value |", "|---|---|"]
            lines += [f"| {name} | {value:.4g} |" for name, value in flat.items()]
    return "\n".join(lines) + "\n"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

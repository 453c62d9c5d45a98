"""``evaluation.json``: the manifest of one evaluation folder, read with errors that name the field.

The folder format (docs/evaluate.md) is the contract between the runner that
writes it (``python -m training.evaluate_model``), this store that reads it,
and the Evaluate tab. The manifest is all the results list needs, so listing
a hundred evaluations reads a hundred small files and nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import check_format, expect, field, optional_field, read_json

MANIFEST_FILE = "evaluation.json"
RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.json"
ROWS_FILE = "rows.jsonl"
MAPS_FILE = "maps.safetensors"
FORMAT = "vqadesk-evaluation"
VERSION = 1

KINDS = ("vqa", "captioning")
PRECISIONS = ("fp32", "bf16", "fp16")
HEADLINES = {"vqa": "VQA accuracy", "captioning": "CIDEr-D"}

# A manifest is a few hundred bytes; anything far bigger is not one.
_MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Subset:
    """A random subset of a split: ``size`` questions (VQA) or images (captions) drawn with ``seed``."""

    size: int
    seed: int


@dataclass(frozen=True)
class EvaluationManifest:
    """What ``evaluation.json`` says: model, split, when, how long, where, and the headline score."""

    kind: str  # "vqa" | "captioning" (ModelKind's strings)
    model_reference: str  # what ``--model`` takes
    model_label: str  # a short name for lists
    dataset: str  # the dataset's root folder
    split: str
    subset: Subset | None
    count: int  # questions (VQA) or images (captions) evaluated
    created: str  # ISO 8601, UTC
    seconds: float
    device: str
    precision: str
    headline_name: str  # "VQA accuracy" | "CIDEr-D"
    headline_value: float
    has_maps: bool
    # The part of the photo the maps cover (predictions.py): optional in the file, the own models' by default.
    attention_region: str = CENTRE_SQUARE

    @property
    def created_at(self) -> datetime:
        """``created`` as an aware datetime (checked parseable when read)."""
        return datetime.fromisoformat(self.created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "model": {"reference": self.model_reference, "label": self.model_label},
            "dataset": self.dataset,
            "split": self.split,
            "subset": None if self.subset is None else {"size": self.subset.size, "seed": self.subset.seed},
            "count": self.count,
            "created": self.created,
            "seconds": self.seconds,
            "device": self.device,
            "precision": self.precision,
            "headline": {"name": self.headline_name, "value": self.headline_value},
            "has_maps": self.has_maps,
            "attention_region": self.attention_region,
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str | os.PathLike[str]) -> EvaluationManifest:
        """Check ``data`` field by field; a bad field raises ``DataFormatError`` naming it."""
        expect(data, dict, source, "")
        check_format(data, name=FORMAT, version=VERSION, source=source, what="a vqadesk evaluation manifest",
                     version_label="evaluation format version")
        kind = _choice(data, "kind", KINDS, source)
        model = field(data, "model", dict, source)
        subset = expect(data.get("subset"), (dict, type(None)), source, "subset")
        headline = field(data, "headline", dict, source)
        created = field(data, "created", str, source)
        try:
            stamp = datetime.fromisoformat(created)
        except ValueError:
            raise DataFormatError(source, f"not an ISO 8601 date: {created!r}", "created") from None
        if stamp.tzinfo is None:
            raise DataFormatError(source, f"a date without its time zone: {created!r} (expected UTC)", "created")
        count = field(data, "count", int, source)
        if count < 1:
            raise DataFormatError(source, f"expected at least 1, got {count}", "count")
        return cls(
            kind=kind,
            model_reference=field(model, "reference", str, source, "model"),
            model_label=field(model, "label", str, source, "model"),
            dataset=field(data, "dataset", str, source),
            split=field(data, "split", str, source),
            subset=None if subset is None else Subset(
                size=field(subset, "size", int, source, "subset"), seed=field(subset, "seed", int, source, "subset")),
            count=count,
            created=created,
            seconds=float(field(data, "seconds", float, source)),
            device=field(data, "device", str, source),
            precision=_choice(data, "precision", PRECISIONS, source),
            headline_name=field(headline, "name", str, source, "headline"),
            headline_value=float(field(headline, "value", float, source, "headline")),
            has_maps=field(data, "has_maps", bool, source),
            attention_region=_region(data, source),
        )


def _choice(data: dict, key: str, allowed: tuple[str, ...], source: str | os.PathLike[str]) -> str:
    value = field(data, key, str, source)
    if value not in allowed:
        raise DataFormatError(source, f"expected one of {', '.join(allowed)}, got {value!r}", key)
    return value


def _region(data: dict, source: str | os.PathLike[str]) -> str:
    region = optional_field(data, "attention_region", str, source, default=CENTRE_SQUARE)
    if region not in (CENTRE_SQUARE, WHOLE_IMAGE):
        raise DataFormatError(source, f"expected {CENTRE_SQUARE} or {WHOLE_IMAGE}, got {region!r}", "attention_region")
    return region


def read_manifest(path: str | os.PathLike[str]) -> EvaluationManifest:
    """The manifest at ``path`` (an ``evaluation.json``); ``DataFormatError`` names the file and field."""
    return EvaluationManifest.from_dict(read_json(path, max_bytes=_MAX_MANIFEST_BYTES), source=path)

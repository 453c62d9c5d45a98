"""The difference between two evaluations of the same questions (or images).

Works on two ``--json`` documents (``vqadesk evaluate … --json``, the
``metrics.json`` of an evaluation folder), so the CLI and the Evaluate tab
compare the same numbers. VQA: overall and per answer / question type, A, B
and B - A (the official rounded figures of each), and the questions A gets
right (accuracy 100) that B does not, and the reverse, in A's order. Captions:
each corpus score, and the images whose CIDEr-D is higher in A, and in B,
biggest difference first. Evaluations of different question (image) sets
cannot be compared: one ``EvaluationError`` says how they differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vqadesk.errors import EvaluationError, list_ids
from vqadesk.metrics.analysis.vqa import RIGHT
from vqadesk.text.counts import plural

CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr")


@dataclass(frozen=True)
class DiffRow:
    name: str
    count: int | None
    a: float | None  # None: the type does not occur in that evaluation
    b: float | None

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else round(self.b - self.a, 4)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "a": self.a, "b": self.b, "difference": self.difference}


@dataclass(frozen=True)
class EvaluationDiff:
    kind: str  # "vqa" | "captioning"
    overall: tuple[DiffRow, ...]  # VQA: one row; captions: BLEU-1..4, CIDEr
    per_answer_type: tuple[DiffRow, ...]
    per_question_type: tuple[DiffRow, ...]
    a_only: tuple[int, ...]  # VQA: right in A, not in B; captions: higher CIDEr-D in A
    b_only: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        rows = lambda group: [row.to_json() for row in group]  # noqa: E731 - three uses, one line
        document: dict[str, Any] = {"kind": self.kind, "overall": rows(self.overall)}
        if self.kind == "vqa":
            document |= {"perAnswerType": rows(self.per_answer_type), "perQuestionType": rows(self.per_question_type),
                         "rightAccuracy": RIGHT, "aRightBWrong": list(self.a_only), "bRightAWrong": list(self.b_only)}
        else:
            document |= {"aBetter": list(self.a_only), "bBetter": list(self.b_only)}
        return document


def _per_item(metrics: Mapping[str, Any], key: str, name: str) -> dict[int, float]:
    values = metrics.get(key)
    if not isinstance(values, dict):
        raise EvaluationError(f"{name}: the metrics lack {key!r} (made by an older vqadesk? evaluate it again)")
    try:
        return {int(item): float(value) for item, value in values.items()}
    except (TypeError, ValueError):
        raise EvaluationError(f"{name}: {key!r} holds a value that is not a number") from None


def _check_same(a: dict[int, float], b: dict[int, float], names: tuple[str, str], what: str) -> None:
    if a.keys() == b.keys():
        return
    only_a = [item for item in a if item not in b]
    only_b = [item for item in b if item not in a]
    parts = [f"{plural(len(ids), what)} only in {name} ({what.split()[0]}_id {list_ids(ids)})"
             for ids, name in ((only_a, names[0]), (only_b, names[1])) if ids]
    raise EvaluationError(f"{names[0]} and {names[1]} were not evaluated on the same {what}s: " + "; ".join(parts))


def _type_rows(a: Mapping[str, Any], b: Mapping[str, Any], key: str, counts_key: str) -> tuple[DiffRow, ...]:
    a_values, b_values = a.get(key) or {}, b.get(key) or {}
    counts = a.get(counts_key) or {}
    names = list(a_values) + [name for name in b_values if name not in a_values]
    return tuple(DiffRow(name, counts.get(name), a_values.get(name), b_values.get(name)) for name in names)


def diff_evaluations(kind: str, a: Mapping[str, Any], b: Mapping[str, Any],
                     names: tuple[str, str] = ("A", "B")) -> EvaluationDiff:
    """Compare two ``--json`` metrics documents of ``kind``; ``names`` label them in errors."""
    if kind == "vqa":
        a_items, b_items = _per_item(a, "perQuestion", names[0]), _per_item(b, "perQuestion", names[1])
        _check_same(a_items, b_items, names, "question")
        return EvaluationDiff(
            kind, (DiffRow("overall", len(a_items), a.get("overall"), b.get("overall")),),
            _type_rows(a, b, "perAnswerType", "answerTypeCounts"),
            _type_rows(a, b, "perQuestionType", "questionTypeCounts"),
            tuple(q for q, acc in a_items.items() if acc >= RIGHT > b_items[q]),
            tuple(q for q, acc in a_items.items() if b_items[q] >= RIGHT > acc),
        )
    a_items, b_items = _per_item(a, "perImageCIDEr", names[0]), _per_item(b, "perImageCIDEr", names[1])
    _check_same(a_items, b_items, names, "image")
    gains = sorted(a_items, key=lambda image: a_items[image] - b_items[image], reverse=True)
    return EvaluationDiff(
        kind, tuple(DiffRow(metric, len(a_items), a.get(metric), b.get(metric)) for metric in CAPTION_METRICS), (), (),
        tuple(image for image in gains if a_items[image] > b_items[image]),
        tuple(image for image in reversed(gains) if b_items[image] > a_items[image]),
    )

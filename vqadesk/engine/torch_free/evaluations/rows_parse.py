"""One line of ``rows.jsonl`` as a record, checked field by field.

``VqaRow`` / ``CaptionRow`` are what the store hands out; ``parse_row`` checks
a parsed line with a fast type test and only a bad one pays for the precise
message naming the line and field (``rows.jsonl: field 'line 12.accuracy':
missing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import expect, field, int64


@dataclass(frozen=True, slots=True)
class VqaRow:
    """One evaluated question: the model's answer, its top-k, the ten human answers, the accuracy."""

    question_id: int
    image_id: int
    image: str  # the photo's path relative to the dataset root
    question: str
    question_type: str
    answer_type: str
    answer: str
    score: float | None  # the model's probability of ``answer``; None when the model gives none
    top_k: tuple[tuple[str, float], ...]
    accuracy: float  # official per-question VQA accuracy, 0-100
    human_answers: tuple[str, ...]

    @property
    def row_id(self) -> int:
        return self.question_id


@dataclass(frozen=True, slots=True)
class CaptionRow:
    """One captioned image: the caption, its CIDEr-D and BLEU-4 in the split, the references."""

    image_id: int
    image: str
    caption: str
    cider: float
    bleu4: float
    references: tuple[str, ...]

    @property
    def row_id(self) -> int:
        return self.image_id


_VQA_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("question_id", int), ("image_id", int), ("image", str), ("question", str), ("question_type", str),
    ("answer_type", str), ("answer", str), ("score", (float, type(None))), ("top_k", list),
    ("accuracy", float), ("human_answers", list),
)
_CAPTION_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("image_id", int), ("image", str), ("caption", str), ("cider", float), ("bleu4", float), ("references", list),
)


def parse_row(kind: str, entry: Any, path: Path, number: int) -> VqaRow | CaptionRow:
    """The row of one parsed line (``number``: its line in ``path``) of an evaluation of ``kind``."""
    return _vqa_row(entry, path, number) if kind == "vqa" else _caption_row(entry, path, number)


def _vqa_row(entry: Any, path: Path, number: int) -> VqaRow:
    try:
        top_k = tuple((answer, float(score)) for answer, score in entry["top_k"]
                      if type(answer) is str and type(score) in (float, int))
        humans = entry["human_answers"]
        row = VqaRow(entry["question_id"], entry["image_id"], entry["image"], entry["question"],
                     entry["question_type"], entry["answer_type"], entry["answer"], entry["score"], top_k,
                     entry["accuracy"], tuple(humans))
    except (KeyError, TypeError, ValueError):
        _raise_row_problem(entry, _VQA_FIELDS, path, number)
    if (not int64(row.question_id) or not int64(row.image_id) or len(top_k) != len(entry["top_k"])
            or not all(type(h) is str for h in humans) or not _number(row.accuracy)
            or not (row.score is None or _number(row.score))
            or not all(type(getattr(row, name)) is str for name in ("image", "question", "question_type",
                                                                      "answer_type", "answer"))):
        _raise_row_problem(entry, _VQA_FIELDS, path, number)
    if not 0 <= row.accuracy <= 100:  # NaN fails too
        raise DataFormatError(path, f"expected an accuracy from 0 to 100, got {row.accuracy}",
                              f"line {number}.accuracy")
    if row.score is not None and not 0 <= row.score <= 1:
        raise DataFormatError(path, f"expected a probability in [0, 1], got {row.score}", f"line {number}.score")
    return row


def _caption_row(entry: Any, path: Path, number: int) -> CaptionRow:
    try:
        references = entry["references"]
        row = CaptionRow(entry["image_id"], entry["image"], entry["caption"], entry["cider"], entry["bleu4"],
                         tuple(references))
    except (KeyError, TypeError):
        _raise_row_problem(entry, _CAPTION_FIELDS, path, number)
    if (not int64(row.image_id) or type(row.image) is not str or type(row.caption) is not str
            or not _number(row.cider) or not _number(row.bleu4) or not all(type(r) is str for r in references)):
        _raise_row_problem(entry, _CAPTION_FIELDS, path, number)
    return row


def _number(value: Any) -> bool:
    return type(value) in (float, int)


def _raise_row_problem(entry: Any, fields: tuple[tuple[str, Any], ...], path: Path, number: int) -> NoReturn:
    """Name the first field of line ``number`` that is missing or has the wrong type."""
    where = f"line {number}"
    for key, types in fields:
        value = field(entry, key, types, path, where) if not isinstance(types, tuple) or type(None) not in types \
            else _present(entry, key, types, path, where)
        if key == "top_k":
            for position, pair in enumerate(value):
                name = f"{where}.top_k[{position}]"
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise DataFormatError(path, "expected [answer, score]", name)
                expect(pair[0], str, path, f"{name}[0]")
                expect(pair[1], float, path, f"{name}[1]")
        elif key in ("human_answers", "references"):
            for position, text in enumerate(value):
                expect(text, str, path, f"{where}.{key}[{position}]")
    raise DataFormatError(path, "not a valid row", where)


def _present(entry: Any, key: str, types: tuple[type, ...], path: Path, where: str) -> Any:
    if key not in entry:
        raise DataFormatError(path, "missing", f"{where}.{key}")
    return expect(entry[key], types, path, f"{where}.{key}")

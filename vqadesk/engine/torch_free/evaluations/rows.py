"""``rows.jsonl``: one line per question (VQA) or image (captions), read fast and checked.

A full VQA v2 val evaluation has 214k lines. They are parsed by the C JSON
parser ``PARSE_CHUNK`` lines per call (the lines joined into one array): one
call for the whole file would hold the interpreter lock for seconds, and the
Evaluate tab reads rows in a pool thread of the GUI process, whose window would
freeze that long (40k rows: 1.5 s in one call; in chunks of 500, no call over
about 20 ms, the same total). Each chunk's rows are made at once, so its parsed
dicts are freed a chunk at a time (freeing 40k at the end took 100 ms, holding
the lock too), and the lines are iterated rather than split in one call. Each
row is checked with a fast type test; only a bad row pays for the precise
message (``rows.jsonl: field 'line 12.accuracy': missing``). A file whose array
does not parse is re-read line by line to name the first bad line.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

import numpy as np

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import expect, field, int64, read_regular_file

# rows.jsonl of the VQA v2 train split (443k questions) is about 250 MB.
MAX_ROWS_BYTES = 2 << 30
PARSE_CHUNK = 500  # lines per call of the JSON parser (see above)


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
    def key(self) -> str:
        """The row's key in ``maps.safetensors``."""
        return f"q{self.question_id}"

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
    def key(self) -> str:
        """The prefix of the row's keys in ``maps.safetensors`` (``i<image_id>:<word index>``)."""
        return f"i{self.image_id}"

    @property
    def row_id(self) -> int:
        return self.image_id


Row = TypeVar("Row", VqaRow, CaptionRow)

_VQA_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("question_id", int), ("image_id", int), ("image", str), ("question", str), ("question_type", str),
    ("answer_type", str), ("answer", str), ("score", (float, type(None))), ("top_k", list),
    ("accuracy", float), ("human_answers", list),
)
_CAPTION_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("image_id", int), ("image", str), ("caption", str), ("cider", float), ("bleu4", float), ("references", list),
)


class EvaluationRows(Sequence[Row], Generic[Row]):
    """The rows of one evaluation in file order, with lookup by id and numeric columns as arrays."""

    def __init__(self, rows: list[Row]):
        self._rows = rows
        self._by_id: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):  # type: ignore[override]
        return self._rows[index]

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def by_id(self, row_id: int) -> Row:
        """The row of a question id (VQA) or image id (captions); ``KeyError`` if there is none."""
        if self._by_id is None:
            self._by_id = {row.row_id: position for position, row in enumerate(self._rows)}
        return self._rows[self._by_id[row_id]]

    def column(self, name: str) -> np.ndarray:
        """One numeric field of every row as a float64 array (``score``: NaN where absent)."""
        return np.array([getattr(row, name) for row in self._rows], dtype=np.float64) if self._rows \
            else np.zeros(0)


def read_rows(path: str | os.PathLike[str], kind: str) -> EvaluationRows:
    """The rows of ``path`` for an evaluation of ``kind`` ("vqa" or "captioning")."""
    path = Path(path)
    raw = read_regular_file(path, MAX_ROWS_BYTES, "rows file")
    make = _vqa_row if kind == "vqa" else _caption_row
    rows: list = []
    for chunk in _chunks(raw):
        try:
            entries = json.loads(b"[" + b",".join(chunk) + b"]")
        except (ValueError, RecursionError):
            _raise_bad_line(path, [line for line in raw.split(b"\n") if line.strip()])
        rows += [make(entry, path, number) for number, entry in enumerate(entries, len(rows) + 1)]
    return EvaluationRows(rows)


def _chunks(raw: bytes) -> Iterator[list[bytes]]:
    """The file's non-blank lines, ``PARSE_CHUNK`` at a time (iterated, not split in one call: see above)."""
    chunk: list[bytes] = []
    for line in io.BytesIO(raw):
        if line.strip():
            chunk.append(line)
            if len(chunk) == PARSE_CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk

def _raise_bad_line(path: Path, lines: list[bytes]) -> NoReturn:
    for number, line in enumerate(lines, 1):
        try:
            json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(path, f"line {number} is not valid JSON ({exc})") from None
    raise DataFormatError(path, "not valid JSON lines")  # the join failed but no line alone did: not reached


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

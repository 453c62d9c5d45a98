"""The rows of an evaluation: columns for listing, filtering and sorting; whole rows when asked for.

``read_rows`` reads ``rows.jsonl`` once (its bytes stay in memory: about
440 bytes a question) and its columnar index (``rows_index.py``: built and
saved on the first read, loaded in milliseconds afterwards). ``EvaluationRows``
is a sequence of ``VqaRow`` / ``CaptionRow`` in file order; a row is parsed
from its line when indexed (the last few thousand are kept), while
``column``, ``categories`` and ``strings`` give whole columns as arrays and
lists for the tables. A full VQA v2 val evaluation (214k rows) costs a few
seconds the first time, then opens at once (docs/evaluate.md, "Speed").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar, overload

import numpy as np

from vqadesk.engine.torch_free.evaluations.rows_index import (
    CATEGORIES,
    INDEX_FILE,
    NUMERIC,
    STRINGS,
    RowsIndex,
    blob_strings,
    build_index,
    load_index,
    save_index,
)
from vqadesk.engine.torch_free.evaluations.rows_parse import CaptionRow, VqaRow, parse_row
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import read_regular_file

__all__ = ["CaptionRow", "EvaluationRows", "VqaRow", "read_rows"]

# rows.jsonl of the VQA v2 train split (443k questions) is about 200 MB.
MAX_ROWS_BYTES = 2 << 30
_PARSED_ROWS_KEPT = 4096

Row = TypeVar("Row", VqaRow, CaptionRow)


class EvaluationRows(Sequence[Row], Generic[Row]):
    """The rows of one evaluation in file order, with lookup by id and whole columns as arrays."""

    def __init__(self, kind: str, path: Path, raw: bytes, index: RowsIndex):
        self.kind = kind
        self._path = path
        self._raw = raw
        self._index = index
        self._by_id: dict[int, int] | None = None
        self._row = lru_cache(maxsize=_PARSED_ROWS_KEPT)(self._parse)

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, position: int) -> Row: ...
    @overload
    def __getitem__(self, position: slice) -> list[Row]: ...

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self._row(i) for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        return self._row(position)

    def __iter__(self) -> Iterator[Row]:
        for position in range(len(self)):
            yield self._parse(position)  # not kept: a pass over every row would flush the cache

    def _parse(self, position: int) -> Row:
        start, end = int(self._index.starts[position]), int(self._index.ends[position])
        try:
            return parse_row(self.kind, json.loads(self._raw[start:end]), self._path, 0)  # type: ignore[return-value]
        except (ValueError, RecursionError, DataFormatError):
            pass  # checked when the index was built; only a bug or a changed file gets here: name the line
        line = self._raw.count(b"\n", 0, start) + 1
        try:
            entry = json.loads(self._raw[start:end])
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(self._path, f"line {line} is not valid JSON ({exc})") from None
        return parse_row(self.kind, entry, self._path, line)  # type: ignore[return-value]

    @property
    def ids(self) -> np.ndarray:
        """The question ids (VQA) or image ids (captions), int64, in row order."""
        return self._index.numeric["question_id" if self.kind == "vqa" else "image_id"]

    def position_of(self, row_id: int) -> int:
        """The position of the row of a question (image) id; ``KeyError`` if there is none."""
        if self._by_id is None:
            self._by_id = {row_id: position for position, row_id in enumerate(self.ids.tolist())}
        return self._by_id[row_id]

    def by_id(self, row_id: int) -> Row:
        """The row of a question id (VQA) or image id (captions); ``KeyError`` if there is none."""
        return self[self.position_of(row_id)]

    def column(self, name: str) -> np.ndarray:
        """A numeric field of every row (VQA: question_id, image_id, score -- NaN where absent --, accuracy;
        captions: image_id, cider, bleu4). Read-only."""
        return self._index.numeric[name]

    def categories(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """A short repeated text field (VQA: question_type, answer_type, answer) as int32 codes per row and
        the names they index, in order of first appearance."""
        return self._index.categories[name]

    def strings(self, name: str) -> list[str]:
        """A text field of every row (VQA: question, image; captions: caption, image), for search."""
        blob, ends = self._index.strings[name]
        return blob_strings(blob, ends)

    @staticmethod
    def fields(kind: str) -> dict[str, tuple[str, ...]]:
        """Which names ``column``, ``categories`` and ``strings`` take for ``kind``."""
        return {"column": NUMERIC[kind], "categories": CATEGORIES[kind], "strings": STRINGS[kind]}


def read_rows(path: str | os.PathLike[str], kind: str) -> EvaluationRows:
    """The rows of ``path`` for an evaluation of ``kind`` ("vqa" or "captioning"), indexed.

    The index beside it is used when it was made from this very file, else
    built (every line checked: a bad one raises naming it) and saved.
    """
    path = Path(path)
    raw = read_regular_file(path, MAX_ROWS_BYTES, "rows file")
    rows_stat = os.stat(path)
    index_path = path.with_name(INDEX_FILE)
    index = load_index(index_path, rows_stat, kind) if rows_stat.st_size == len(raw) else None
    if index is None:
        index = build_index(raw, kind, path)
        if rows_stat.st_size == len(raw):
            save_index(index, index_path, rows_stat, kind)
    return EvaluationRows(kind, path, raw, index)

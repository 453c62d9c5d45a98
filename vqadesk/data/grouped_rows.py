"""Rows grouped by image id, kept as columns and made into records one image at a time.

A ``CocoIndex`` parsed from JSON holds ``{image id: [row, ...]}`` dicts. One
read back from the index cache (``split_cache``) holds numpy columns sorted
by image instead, and ``GroupedRows`` gives them the same ``Mapping`` face:
``groups.get(image_id, ())`` builds that image's rows on first ask (and keeps
them), so opening val2014 does not create 291,875 object dicts up front.
``row_count(groups)`` counts either kind without building anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from typing import Any

import numpy as np

MakeRows = Callable[[int, int, int], list]  # (image id, first row, end row) -> that image's rows


class GroupedRows(Mapping[int, list]):
    """``{key: rows}`` where key ``keys[g]`` owns rows ``offsets[g]:offsets[g + 1]`` of some columns."""

    def __init__(
        self,
        keys: Sequence[int],
        offsets: Sequence[int],
        make_rows: MakeRows,
        columns: Mapping[str, Sequence[Any]] | None = None,
    ):
        self._keys = list(keys)
        self._offsets = list(offsets)
        self._position = dict(zip(self._keys, range(len(self._keys))))
        self._make_rows = make_rows
        self._columns = dict(columns or {})
        self._built: dict[int, list] = {}

    @property
    def row_count(self) -> int:
        return self._offsets[-1] if self._keys else 0

    def column(self, name: str) -> Sequence[Any]:
        """One whole column, row-aligned with ``spans`` (only those given at construction)."""
        return self._columns[name]

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """``(key, first row, end row)`` per group, in order: whole-column work without building rows."""
        offsets = self._offsets
        for position, key in enumerate(self._keys):
            yield key, offsets[position], offsets[position + 1]

    def __getitem__(self, key: int) -> list:
        rows = self._built.get(key)
        if rows is None:
            position = self._position[key]  # KeyError for an unknown key, as a dict would
            rows = self._make_rows(key, self._offsets[position], self._offsets[position + 1])
            self._built[key] = rows  # two threads may both build it: same rows, harmless
        return rows

    def __contains__(self, key: object) -> bool:
        return key in self._position

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def row_count(groups: Mapping[Any, Sized]) -> int:
    """Rows in all groups of a dict of lists or a ``GroupedRows`` (without building its rows)."""
    if isinstance(groups, GroupedRows):
        return groups.row_count
    return sum(len(rows) for rows in groups.values())


class PackedStrings(Sequence[str]):
    """Strings stored as one UTF-8 buffer and offsets (``array_cache.pack_strings``), decoded when read.

    A damaged buffer never raises: undecodable bytes read as U+FFFD.
    """

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self._raw = data.tobytes()
        self._offsets = offsets.tolist()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._decode(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._decode(index)

    def _decode(self, index: int) -> str:
        return self._raw[self._offsets[index] : self._offsets[index + 1]].decode("utf-8", "replace")

"""``maps.safetensors``: the model's attention maps, stacked per shape, read lazily from a memory map.

Layout (written by ``engine/torch_free/evaluation_maps.py``; docs/evaluate.md): the metadata
``{"format": "vqadesk-evaluation-maps", "version": "2"}`` and, for each map shape ``h x w``,
``maps/<h>x<w>`` (float16, ``(N, h, w)``) with ``ids/<h>x<w>`` (int64, in the same order: the
question ids ``(N,)`` for VQA, image id and word index ``(N, 2)`` for captions). Read with
safetensors' NumPy backend, never torch (the GUI process reads it too).

Opening parses the header, a few entries whatever the number of rows, and checks every
tensor's name, dtype and shape without reading data. The first map asked for reads the ids
(8 bytes a question) and sorts them into a lookup (duplicates refused); each map is then one
slice of the memory-mapped file, checked to be finite. The first layout, one tensor per row
(a header of one entry per row: 120-400 ms to parse at 40k rows), is refused with one line.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import kind_of_file

MAPS_FORMAT = "vqadesk-evaluation-maps"
MAPS_VERSION = "2"  # "1" (or no metadata): one tensor per row, no longer read
_NAME = re.compile(r"(maps|ids)/([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")
_PER_ROW_KEY = re.compile(r"[qi]-?[0-9]")


@dataclass(frozen=True, slots=True)
class _Lookup:
    """Every map's id in sorted order, with the shape group and the position in it that hold the map."""

    ids: np.ndarray  # int64: question ids (M,), or image ids (M,) sorted with ``words``
    words: np.ndarray | None  # int64 word indices (M,), captions only
    groups: np.ndarray  # int32 index into MapsFile._names
    positions: np.ndarray  # int64 row of the group's tensors


class MapsFile:
    """The maps of one evaluation (``kind``: "vqa" or "captioning"); ``get`` / ``words`` read them as float32."""

    def __init__(self, path: str | os.PathLike[str], kind: str = "vqa"):
        self.path = Path(path)
        self.kind = kind
        self._handle: Any = None
        self._names: list[str] = []  # the shapes, "<h>x<w>", one per group
        self._lookup: _Lookup | None = None

    def _open(self) -> Any:
        if self._handle is None:
            from safetensors import SafetensorError, safe_open

            try:
                mode = self.path.stat().st_mode
            except FileNotFoundError:
                raise DataFormatError(self.path, "file not found (evaluation.json says has_maps)") from None
            except OSError as exc:
                raise DataFormatError(self.path, f"cannot be read ({exc.strerror or exc})") from None
            if not stat.S_ISREG(mode):  # safetensors would wait forever on a FIFO
                raise DataFormatError(self.path, f"is not a regular file ({kind_of_file(mode)}), expected maps")
            try:
                handle = safe_open(str(self.path), framework="numpy")
            except (SafetensorError, OSError, ValueError) as exc:
                raise DataFormatError(self.path, f"not a readable safetensors file ({exc})") from None
            self._names = self._check_header(handle)
            self._handle = handle
        return self._handle

    def _check_header(self, handle: Any) -> list[str]:
        """The shape groups, after checking the metadata and each tensor's name, dtype and shape."""
        metadata = handle.metadata() or {}
        keys = list(handle.keys())
        if metadata.get("version") == "1" or (metadata.get("format") != MAPS_FORMAT
                                              and any(_PER_ROW_KEY.match(key) for key in keys[:10])):
            raise DataFormatError(self.path, "maps of an earlier vqadesk (one tensor per row), no longer read: "
                                             "evaluate the model again")
        if metadata.get("format") != MAPS_FORMAT or metadata.get("version") != MAPS_VERSION:
            raise DataFormatError(self.path, f"not vqadesk evaluation maps version {MAPS_VERSION} (metadata "
                                             f"format {metadata.get('format')!r}, version {metadata.get('version')!r})")
        for key in keys:
            if not _NAME.fullmatch(key):
                raise DataFormatError(self.path, "unexpected tensor (expected maps/<h>x<w> and ids/<h>x<w>)", key)
        names = sorted({key.split("/", 1)[1] for key in keys})
        for name in names:
            height, width = (int(size) for size in name.split("x"))
            for part in ("maps", "ids"):
                if f"{part}/{name}" not in keys:
                    other = "ids" if part == "maps" else "maps"
                    raise DataFormatError(self.path, f"missing (the file has {other}/{name})", f"{part}/{name}")
            maps, ids = handle.get_slice(f"maps/{name}"), handle.get_slice(f"ids/{name}")
            count = maps.get_shape()[0] if maps.get_shape() else 0
            if maps.get_dtype() != "F16" or list(maps.get_shape()) != [count, height, width]:
                raise DataFormatError(self.path, f"expected float16 (N, {height}, {width}), got "
                                                 f"{maps.get_dtype()} {tuple(maps.get_shape())}", f"maps/{name}")
            expected = [count] if self.kind == "vqa" else [count, 2]
            if ids.get_dtype() != "I64" or list(ids.get_shape()) != expected:
                raise DataFormatError(self.path, f"expected int64 {tuple(expected)} ({count} maps), got "
                                                 f"{ids.get_dtype()} {tuple(ids.get_shape())}", f"ids/{name}")
        return names

    def close(self) -> None:
        """Let go of the file (Windows cannot delete a folder holding an open one); reopened when next asked."""
        self._handle = None
        self._lookup = None

    def _table(self) -> _Lookup:
        """The sorted ids of every map, read and checked on first use."""
        handle = self._open()
        if self._lookup is None:
            parts = [np.asarray(handle.get_tensor(f"ids/{name}")) for name in self._names]
            ids = np.concatenate(parts) if parts else np.zeros((0, 1 if self.kind == "vqa" else 2), np.int64)
            ids = ids.reshape(-1, 1) if self.kind == "vqa" else ids
            groups = np.repeat(np.arange(len(parts), dtype=np.int32), [len(part) for part in parts])
            positions = np.concatenate([np.arange(len(part)) for part in parts]) if parts else np.zeros(0, np.int64)
            order = np.lexsort(ids.T[::-1])  # by the first column, then the word
            ids, groups, positions = ids[order], groups[order], positions[order]
            same = np.all(ids[1:] == ids[:-1], axis=1)
            if same.any():
                first = int(np.argmax(same))
                what = "question id" if self.kind == "vqa" else "image id and word"
                raise DataFormatError(self.path, f"{what} {', '.join(str(int(v)) for v in ids[first])} appears "
                                                 f"more than once", f"ids/{self._names[groups[first]]}")
            if self.kind != "vqa" and (ids[:, 1] < 0).any():
                bad = int(np.argmax(ids[:, 1] < 0))
                raise DataFormatError(self.path, f"negative word index for image {int(ids[bad, 0])}",
                                      f"ids/{self._names[groups[bad]]}")
            words = None if self.kind == "vqa" else np.ascontiguousarray(ids[:, 1])
            self._lookup = _Lookup(np.ascontiguousarray(ids[:, 0]), words, groups, positions)
        return self._lookup

    def _read(self, entry: int) -> np.ndarray:
        table = self._table()
        name = self._names[table.groups[entry]]
        value = np.asarray(self._handle.get_slice(f"maps/{name}")[int(table.positions[entry])], dtype=np.float32)
        if not np.isfinite(value).all():
            raise DataFormatError(self.path, f"non-finite values in the map of id {int(table.ids[entry])}",
                                  f"maps/{name}")
        return value

    def _range(self, row_id: int) -> tuple[int, int]:
        ids = self._table().ids
        if not -(2**63) <= row_id < 2**63:
            return 0, 0
        return int(np.searchsorted(ids, row_id, "left")), int(np.searchsorted(ids, row_id, "right"))

    def get(self, question_id: int) -> np.ndarray | None:
        """Question ``question_id``'s map as float32 ``(h, w)``, or None if there is none; a malformed one raises."""
        start, end = self._range(question_id)
        return self._read(start) if end > start else None

    def words(self, image_id: int) -> list[np.ndarray]:
        """The maps of image ``image_id``'s words 0, 1, ... until the first missing one."""
        start, end = self._range(image_id)
        words = self._table().words
        maps: list[np.ndarray] = []
        for entry in range(start, end):
            if words is None or words[entry] != len(maps):
                break
            maps.append(self._read(entry))
        return maps

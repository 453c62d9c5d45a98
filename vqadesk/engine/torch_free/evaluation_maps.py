"""Writing ``maps.safetensors`` of an evaluation folder: the maps stacked per shape.

The layout is the store's (docs/evaluate.md, ``evaluations/maps.py`` reads it): for every map
shape ``h x w``, ``maps/<h>x<w>`` holds the maps as one float16 ``(N, h, w)`` tensor and
``ids/<h>x<w>`` says whose they are, in the same order: the question ids, int64 ``(N,)``, for
VQA; image id and word index (0-based, the caption split on spaces), int64 ``(N, 2)``, for
captions. A few tensors instead of one per row keep the file's JSON header small, so opening
it stays cheap at 200k rows; several shapes occur because some models (ViLT) give a patch grid
that follows each photo's aspect ratio. Written in one go through ``safetensors.numpy`` (no
torch), into a temporary file renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save

from vqadesk.engine.torch_free.evaluations.maps import MAPS_FORMAT, MAPS_VERSION
from vqadesk.jsonio import atomic_file


class MapsWriter:
    """Collects maps by key (a question id, or ``(image_id, word index)``) and writes them grouped by shape."""

    def __init__(self) -> None:
        self._groups: dict[tuple[int, int], tuple[list[np.ndarray], list[int | tuple[int, int]]]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, key: int | tuple[int, int], grid: np.ndarray) -> None:
        grid = np.asarray(grid)
        if grid.ndim != 2:
            raise ValueError(f"a map is (h, w), got shape {grid.shape} for {key}")
        if not (isinstance(key, (int, np.integer)) or (isinstance(key, tuple) and len(key) == 2)):
            raise TypeError(f"a map's key is a question id or (image id, word index), got {key!r}")
        maps, ids = self._groups.setdefault((int(grid.shape[0]), int(grid.shape[1])), ([], []))
        maps.append(grid.astype(np.float16))
        ids.append(key)
        self._count += 1

    def tensors(self) -> dict[str, np.ndarray]:
        """The file's tensors: ``maps/<h>x<w>`` and ``ids/<h>x<w>`` for each shape."""
        tensors = {}
        for (height, width), (maps, ids) in self._groups.items():
            tensors[f"maps/{height}x{width}"] = np.stack(maps)
            tensors[f"ids/{height}x{width}"] = np.asarray(ids, dtype=np.int64)
        return tensors

    def write(self, path: str | os.PathLike[str]) -> None:
        data = save(self.tensors(), metadata={"format": MAPS_FORMAT, "version": MAPS_VERSION})
        with atomic_file(Path(path), "wb") as handle:  # the permissions and the rename of every file written
            handle.write(data)

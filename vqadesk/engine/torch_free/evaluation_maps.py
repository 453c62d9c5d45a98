"""Writing ``maps.safetensors`` of an evaluation folder: one float16 ``(h, w)`` tensor per key.

The keys are the store's (docs/evaluate.md, ``evaluations/maps.py`` reads them): ``q<question_id>``
for a question's map, ``i<image_id>:<k>`` for the k-th word of an image's caption. Maps may differ
in shape within one file (ViLT's patch grid follows each photo's aspect ratio). Written in one
go through ``safetensors.numpy`` (no torch), into a temporary file renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save

from vqadesk.jsonio import atomic_file


class MapsWriter:
    """Collects maps by key and writes them as one safetensors file."""

    def __init__(self) -> None:
        self._maps: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._maps)

    def add(self, key: str, grid: np.ndarray) -> None:
        grid = np.asarray(grid)
        if grid.ndim != 2:
            raise ValueError(f"a map is (h, w), got shape {grid.shape} for {key}")
        self._maps[key] = np.ascontiguousarray(grid, dtype=np.float16)

    def write(self, path: str | os.PathLike[str]) -> None:
        data = save(self._maps, metadata={"format": "vqadesk-evaluation-maps", "version": "1"})
        with atomic_file(Path(path), "wb") as handle:  # the permissions and the rename of every file written
            handle.write(data)

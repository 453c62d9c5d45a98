"""``maps.safetensors`` of an evaluation folder: where the model looked, one map per row (or per word).

Maps differ in shape within one evaluation (ViLT's patch grid follows each photo's aspect
ratio), so the file holds them flattened, back to back, with four tensors:

* ``values``  float16 ``(total cells,)``: every map's cells, row-major, one map after another;
* ``offsets`` int64 ``(M + 1,)``: map ``i`` is ``values[offsets[i]:offsets[i + 1]]``;
* ``shapes``  int32 ``(M, 2)``: map ``i``'s ``(h, w)``;
* ``ids``     int64: ``(M,)`` question ids (VQA) or ``(M, 2)`` ``(image id, word index)`` (captions).

A row of ``rows.jsonl`` names its maps: a VQA row ``"map": i`` (or ``null`` for a model without
attention), a caption row ``"map": [start, stop]``, the maps of its caption's words in order. The
file is written by ``MapsWriter`` and read by ``EvaluationMaps`` (``safetensors.numpy``, no torch):
opening it reads the three index tensors; each map is read from the file when asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import atomic_file

MAPS_FILE = "maps.safetensors"
_TENSORS = ("values", "offsets", "shapes", "ids")


class MapsWriter:
    """Collects maps (float32 or float16 ``(h, w)`` arrays) and writes them as one file."""

    def __init__(self) -> None:
        self._values: list[np.ndarray] = []
        self._shapes: list[tuple[int, int]] = []
        self._ids: list[tuple[int, ...]] = []

    def __len__(self) -> int:
        return len(self._shapes)

    def add(self, grid: np.ndarray, *ids: int) -> int:
        """Store ``grid`` for ``ids`` (a question id, or an image id and a word index); its index."""
        grid = np.asarray(grid)
        if grid.ndim != 2:
            raise ValueError(f"a map is (h, w), got shape {grid.shape}")
        self._values.append(grid.astype(np.float16).reshape(-1))
        self._shapes.append((int(grid.shape[0]), int(grid.shape[1])))
        self._ids.append(tuple(int(i) for i in ids))
        return len(self._shapes) - 1

    def write(self, path: str | os.PathLike[str]) -> None:
        sizes = np.array([len(v) for v in self._values], dtype=np.int64)
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.concatenate(self._values) if self._values else np.zeros(0, dtype=np.float16)
        width = len(self._ids[0]) if self._ids else 1
        ids = np.array(self._ids, dtype=np.int64).reshape(-1, width)
        data = save({
            "values": values.astype(np.float16),
            "offsets": offsets,
            "shapes": np.array(self._shapes, dtype=np.int32).reshape(-1, 2),
            "ids": ids[:, 0].copy() if width == 1 else ids,
        }, metadata={"format": "vqadesk-evaluation-maps", "version": "1"})
        with atomic_file(Path(path), "wb") as handle:  # the permissions and the rename of every file written
            handle.write(data)


class EvaluationMaps:
    """A ``maps.safetensors`` opened for reading: ``len``, ``ids``, ``map(i)`` -> float32 ``(h, w)``."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._file = safe_open(str(self.path), framework="numpy")
            missing = [name for name in _TENSORS if name not in self._file.keys()]
            if missing:
                raise DataFormatError(self.path, f"missing tensor '{missing[0]}' (expected {', '.join(_TENSORS)})")
            self.offsets = self._file.get_tensor("offsets")
            self.shapes = self._file.get_tensor("shapes")
            self.ids = self._file.get_tensor("ids")
            self._values = self._file.get_slice("values")
        except DataFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own errors and OSError
            raise DataFormatError(self.path, f"not a readable maps file ({exc})") from None
        count = len(self.shapes)
        if self.offsets.shape != (count + 1,) or len(self.ids) != count:
            raise DataFormatError(self.path, f"offsets, shapes and ids disagree on the number of maps ({count})")

    def __len__(self) -> int:
        return len(self.shapes)

    def map(self, index: int) -> np.ndarray:
        """Map ``index`` as float32 ``(h, w)``; an index out of range or a damaged entry -> ``DataFormatError``."""
        if not 0 <= index < len(self):
            raise DataFormatError(self.path, f"no map {index} (the file holds {len(self)})")
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        height, width = (int(v) for v in self.shapes[index])
        if stop - start != height * width or start < 0:
            raise DataFormatError(self.path, f"map {index}: {stop - start} cells for a {height} x {width} map")
        return np.asarray(self._values[start:stop], dtype=np.float32).reshape(height, width)

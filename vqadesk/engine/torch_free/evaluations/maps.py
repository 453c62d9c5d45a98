"""``maps.safetensors``: the model's attention maps, one float16 tensor per row, read lazily.

Keys: ``q<question_id>`` for a VQA row, a ``(h, w)`` map over the region the
model saw; ``i<image_id>:<k>`` for the k-th word (0-based, the caption split on
spaces) of a caption row. Read with safetensors' NumPy backend (no torch in the
GUI process); the file is opened once, on the first map asked for, and each
map is read when asked, so opening a 200k-row evaluation stays instant.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import kind_of_file


class MapsFile:
    """The maps of one evaluation; ``get(key)`` is a float32 array or None when the row has none."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._handle: Any = None
        self._keys: frozenset[str] = frozenset()

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
                self._handle = safe_open(str(self.path), framework="numpy")
            except (SafetensorError, OSError, ValueError) as exc:
                raise DataFormatError(self.path, f"not a readable safetensors file ({exc})") from None
            self._keys = frozenset(self._handle.keys())
        return self._handle

    def close(self) -> None:
        """Let go of the file (Windows cannot delete a folder holding an open one); reopened when next asked."""
        self._handle = None

    def keys(self) -> frozenset[str]:
        self._open()
        return self._keys

    def get(self, key: str) -> np.ndarray | None:
        """The map stored under ``key`` as float32, or None if there is none; a malformed one raises."""
        handle = self._open()
        if key not in self._keys:
            return None
        value = handle.get_tensor(key)
        if value.ndim != 2 or min(value.shape) < 1 or not np.issubdtype(value.dtype, np.floating):
            raise DataFormatError(self.path, f"expected a 2-D float map, got {value.dtype} {tuple(value.shape)}", key)
        return value.astype(np.float32)

    def words(self, prefix: str) -> list[np.ndarray]:
        """The maps of ``<prefix>:0``, ``<prefix>:1``, ... until the first missing word."""
        maps = []
        while (found := self.get(f"{prefix}:{len(maps)}")) is not None:
            maps.append(found)
        return maps

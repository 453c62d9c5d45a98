"""Telling the Shapes world from real photos (Qt-free, cheap).

The app warns when a model that only ever saw the Shapes world is asked
about a real photo, and a training run records which world its data came
from. A Shapes world is recognised by what its writer puts first in every
COCO file: an ``info.description`` starting with ``SHAPES_DESCRIPTION``.
Only the head of the file is read, so checking a 20 MB COCO file costs
nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SHAPES_DESCRIPTION = "vqadesk Shapes world"
_HEAD_BYTES = 4096


def is_shapes_file(path: str | os.PathLike[str]) -> bool:
    """Whether the COCO file at ``path`` was written by the Shapes world's writer."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a FIFO would block the read (the window's thread), a device never end it
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except (OSError, ValueError):  # ValueError: a NUL byte in the name
        return False
    return (f'"description": "{SHAPES_DESCRIPTION}'.encode() in head
            or f'"description":"{SHAPES_DESCRIPTION}'.encode() in head)


def is_shapes_dataset(root: str | os.PathLike[str]) -> bool:
    """Whether ``root``'s ``annotations/`` hold Shapes world COCO files (any split)."""
    folder = Path(root) / "annotations"
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return False
    return any(is_shapes_file(path) for path in files[:4])

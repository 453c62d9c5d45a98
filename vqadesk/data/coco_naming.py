"""COCO image file names: parsing ids out of them and finding files by id.

COCO names its photos in two styles, and the Shapes world follows the first:

* 2014 style ``COCO_val2014_000000262148.jpg`` — any ``<prefix>_%012d.<ext>``
  counts (``shapes_val_000000000001.png`` too);
* 2017 style ``000000262148.jpg`` — ``%012d.<ext>``.

Ids have at least 12 digits (zero padded) in both styles; a shorter number
(``IMG_1234.jpg``) is *not* taken for a COCO id, so holiday photos are not
mistaken for COCO images. Extensions: jpg, jpeg, png (any case).

``ImageFolder`` lists a folder once, lazily, and answers "which file is image
42?" from that listing, so finding 40,000 images costs one directory scan.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

COCO_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# What a folder of the user's own photos may hold (files Pillow reads).
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

_COCO_NAME = re.compile(r"^(?:.*_)?(\d{12,})\.(?:jpe?g|png)$", re.IGNORECASE)


def coco_id_from_name(file_name: str) -> int | None:
    """The image id in a COCO-style file name, or ``None`` if it is not one.

    >>> coco_id_from_name("COCO_val2014_000000262148.jpg")
    262148
    >>> coco_id_from_name("000000000785.jpg"), coco_id_from_name("IMG_1234.jpg")
    (785, None)
    """
    match = _COCO_NAME.match(file_name)
    return int(match.group(1)) if match else None


def is_photo_name(file_name: str) -> bool:
    """True for names with an image extension that are not hidden files."""
    return not file_name.startswith(".") and os.path.splitext(file_name)[1].lower() in PHOTO_SUFFIXES


class ImageFolder:
    """One folder of images, listed on first use (top level only, no recursion)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self._names: list[str] | None = None
        self._name_by_id: dict[int, str] | None = None

    @property
    def photo_names(self) -> list[str]:
        """Image file names in the folder, sorted (empty if it is not a folder)."""
        if self._names is None:
            try:
                with os.scandir(self.folder) as entries:
                    names = [e.name for e in entries if is_photo_name(e.name) and _is_file(e)]
            except OSError:
                names = []
            self._names = sorted(names)
        return self._names

    def name_for_id(self, image_id: int) -> str | None:
        """The file in this folder named after ``image_id`` in either COCO style."""
        if self._name_by_id is None:
            by_id: dict[int, str] = {}
            for name in self.photo_names:  # sorted: the first name wins a tie, always the same one
                found = coco_id_from_name(name)
                if found is not None:
                    by_id.setdefault(found, name)
            self._name_by_id = by_id
        return self._name_by_id.get(image_id)

    def find(self, file_name: str | None, image_id: int) -> Path | None:
        """The file for an image: its recorded ``file_name`` first, then by id."""
        if file_name and _is_safe_relative(file_name):
            candidate = self.folder / file_name
            try:
                if candidate.is_file():
                    return candidate
            except (OSError, ValueError):  # NUL bytes or unencodable names from a JSON file
                pass
        name = self.name_for_id(image_id)
        return self.folder / name if name is not None else None


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_safe_relative(file_name: str) -> bool:
    """A ``file_name`` from JSON may name a subfolder, never leave the image folder."""
    path = Path(file_name)
    return not path.is_absolute() and ".." not in path.parts and not path.drive

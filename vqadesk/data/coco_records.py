"""The records a ``CocoIndex`` hands out: images, captions, objects.

Frozen dataclasses, created on demand from the index's compact tables, so a
40,000-image split does not hold 200,000 caption objects in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CocoImage:
    """One image record. ``width``/``height`` are ``None`` when not known yet
    (a folder of photos without annotations: ``CocoIndex.image_size`` reads them)."""

    id: int
    file_name: str
    width: int | None = None
    height: int | None = None
    license: int | None = None
    date_captured: str | None = None
    coco_url: str | None = None
    flickr_url: str | None = None


@dataclass(frozen=True, slots=True)
class CocoCaption:
    """One reference caption (``annotations[i]`` of a captions file)."""

    id: int
    image_id: int
    caption: str


@dataclass(frozen=True, slots=True)
class CocoObject:
    """One object instance (``annotations[i]`` of an instances file).

    ``bbox`` is ``(x, y, width, height)`` in pixels from the top-left corner.
    ``segmentation`` (polygons, or RLE when ``iscrowd``) and ``keypoints`` are
    kept exactly as the file gives them; they take no part in equality.
    """

    id: int
    image_id: int
    category_id: int
    category_name: str
    bbox: tuple[float, float, float, float]
    area: float | None = None
    iscrowd: bool = False
    segmentation: Any = field(default=None, compare=False)
    keypoints: Any = field(default=None, compare=False)

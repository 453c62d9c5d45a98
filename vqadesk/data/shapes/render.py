"""Drawing Shapes scenes with Pillow, and the geometry COCO wants from them.

Coordinates are COCO's: continuous pixels with the origin at the top-left
corner of the top-left pixel, so pixel (i, j) covers [i, i+1) x [j, j+1).
Each object's outline is one polygon (a circle is a 32-gon); the same
polygon is drawn, stored as the segmentation, and gives the bbox and area,
so the three always agree.

Scenes are drawn at twice the size and halved with a box filter: cheap
anti-aliasing, fully deterministic.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw

from vqadesk.data.shapes.scene import RGB, Scene, ShapeObject

Point = tuple[float, float]

_CIRCLE_VERTICES = 32
_SQUARE_HALF_SIDE = 0.88  # times the radius: about the circle's area
_SUPERSAMPLE = 2
# zlib level 1: PNGs a little bigger than level 6's, written much faster (docs/shapes-world.md, "Speed").
PNG_COMPRESS_LEVEL = 1


def object_polygon(obj: ShapeObject) -> list[Point]:
    """The object's outline, clockwise on screen, in image pixels."""
    cx, cy, r = obj.cx, obj.cy, obj.radius
    if obj.shape == "circle":
        angles = [2 * math.pi * k / _CIRCLE_VERTICES for k in range(_CIRCLE_VERTICES)]
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]
    if obj.shape == "square":
        s = r * _SQUARE_HALF_SIDE
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if obj.shape == "triangle":
        # Apex up, filling the object's box.
        return [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    raise ValueError(f"unknown shape {obj.shape!r}")


def polygon_area(points: list[Point]) -> float:
    """Shoelace formula."""
    twice = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        twice += x0 * y1 - x1 * y0
    return abs(twice) / 2


def polygon_bbox(points: list[Point]) -> tuple[float, float, float, float]:
    """COCO bbox [x, y, width, height] of a polygon."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def render_scene(scene: Scene) -> Image.Image:
    """The scene as an RGB image of ``scene.width`` x ``scene.height``."""
    s = _SUPERSAMPLE
    big_size = (scene.width * s, scene.height * s)
    mask = _gradient_mask(big_size, scene.gradient)
    image = Image.composite(
        Image.new("RGB", big_size, scene.background_end),
        Image.new("RGB", big_size, scene.background_start),
        mask,
    )
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        # Pillow puts integer coordinates on pixel centres: shift by half a pixel.
        points = [(x * s - 0.5, y * s - 0.5) for x, y in object_polygon(obj)]
        draw.polygon(points, fill=obj.rgb, outline=_darker(obj.rgb), width=s)
    return image.reduce(s)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes; no metadata chunks, so equal images give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


@lru_cache(maxsize=8)
def _gradient_mask(size: tuple[int, int], direction: str) -> Image.Image:
    """0 at the start edge, 255 at the end edge. Cached: read-only after creation."""
    ramp = Image.linear_gradient("L")  # 256 x 256, black at the top
    if direction == "horizontal":
        ramp = ramp.transpose(Image.Transpose.ROTATE_90)  # black edge to the left
    return ramp.resize(size, Image.Resampling.BILINEAR)


def _darker(rgb: RGB) -> RGB:
    return (rgb[0] * 5 // 8, rgb[1] * 5 // 8, rgb[2] * 5 // 8)

"""Scenes of the Shapes world: which objects an image holds and where.

A scene is pure data (frozen dataclasses), sampled from a ``random.Random``
so the same generator state always gives the same scene. Drawing it is
``render.py``'s job; asking and describing it is ``questions.py`` and
``captions.py``'s.

Every attribute is drawn uniformly and independently (shape, colour, size),
so the world is symmetric under swapping any two colours or shapes, and
positions are uniform, so it is symmetric under mirroring. The question
balancing relies on these symmetries: they are what keeps a question's text
from telling its answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RGB = tuple[int, int, int]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

# Saturated, well separated hues that stay readable on a light background.
COLORS: dict[str, RGB] = {
    "red": (215, 38, 38),
    "green": (34, 160, 64),
    "blue": (40, 86, 222),
    "yellow": (240, 212, 30),
    "purple": (138, 60, 190),
    "orange": (246, 124, 20),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)

SIZES: tuple[str, ...] = ("small", "large")

MIN_OBJECTS = 2
MAX_OBJECTS = 6
DEFAULT_IMAGE_SIZE = 128
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 1024

# Half the side of an object's square box, as a fraction of the image side:
# 128 px images get 20 px small and 36 px large objects.
_RADIUS_FRACTION = {"small": 0.08, "large": 0.14}
# Free space kept between boxes and from the border, as a fraction of the side.
_GAP_FRACTION = 0.03
_PLACEMENT_TRIES_PER_OBJECT = 100
# Six large objects rarely fit in 128 px: after this many failed layouts the
# looks are drawn again (so crowded scenes hold more small objects).
_LAYOUTS_PER_LOOKS = 20
_LOOKS_TRIES = 1000


@dataclass(frozen=True)
class ShapeObject:
    """One object: what it looks like and where its centre is (pixels)."""

    shape: str
    color: str
    size: str
    cx: int
    cy: int
    radius: int  # half the side of the square box the shape is drawn in

    @property
    def rgb(self) -> RGB:
        return COLORS[self.color]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the square the shape is drawn in."""
        r = self.radius
        return (self.cx - r, self.cy - r, self.cx + r, self.cy + r)

    @property
    def phrase(self) -> str:
        """'large red circle': the full description, without an article."""
        return f"{self.size} {self.color} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """One image's content. ``objects`` are ordered left to right."""

    image_id: int
    width: int
    height: int
    background_start: RGB  # gradient colour at the top (or left) edge
    background_end: RGB  # gradient colour at the bottom (or right) edge
    gradient: str  # "vertical" or "horizontal"
    objects: tuple[ShapeObject, ...]


def object_radius(size_name: str, image_size: int) -> int:
    return max(3, round(_RADIUS_FRACTION[size_name] * image_size))


def scene_gap(image_size: int) -> int:
    return max(2, round(_GAP_FRACTION * image_size))


def sample_scene(rng: random.Random, *, image_id: int, image_size: int = DEFAULT_IMAGE_SIZE) -> Scene:
    """Draw one scene: 2-6 objects on a lightly tinted gradient, none touching."""
    base = tuple(rng.randint(228, 250) for _ in range(3))
    end = tuple(min(255, max(215, c + rng.randint(-14, 14))) for c in base)
    gradient = rng.choice(("vertical", "horizontal"))
    gap = scene_gap(image_size)
    # The object count is drawn once, so counts stay uniform over 2..6.
    n_objects = rng.randint(MIN_OBJECTS, MAX_OBJECTS)
    for _ in range(_LOOKS_TRIES):
        looks = [(rng.choice(SHAPES), rng.choice(COLOR_NAMES), rng.choice(SIZES)) for _ in range(n_objects)]
        for _ in range(_LAYOUTS_PER_LOOKS):
            objects = _place(rng, looks, image_size, gap)
            if objects is not None:
                # Left to right (then top to bottom): the order captions use.
                objects.sort(key=lambda o: (o.cx, o.cy))
                return Scene(
                    image_id=image_id,
                    width=image_size,
                    height=image_size,
                    background_start=base,  # type: ignore[arg-type]
                    background_end=end,  # type: ignore[arg-type]
                    gradient=gradient,
                    objects=tuple(objects),
                )
    # Unreachable with the sizes above (six small objects always fit); kept
    # so that a bad constant fails loudly instead of looping forever.
    raise RuntimeError(f"could not lay out a {image_size}px Shapes scene")


def _place(
    rng: random.Random, looks: list[tuple[str, str, str]], image_size: int, gap: int
) -> list[ShapeObject] | None:
    """Rejection-sample non-overlapping positions; None when it gets stuck.

    Positions are drawn one object at a time, largest first (the big ones
    are the hard ones to fit); the caller retries whole layouts.
    """
    placed: list[ShapeObject] = []
    for shape, color, size_name in sorted(looks, key=lambda look: look[2] != "large"):
        r = object_radius(size_name, image_size)
        low, high = gap + r, image_size - gap - r
        for _ in range(_PLACEMENT_TRIES_PER_OBJECT):
            candidate = ShapeObject(shape, color, size_name, rng.randint(low, high), rng.randint(low, high), r)
            if all(_apart(candidate, other, gap) for other in placed):
                placed.append(candidate)
                break
        else:
            return None
    return placed


def _apart(a: ShapeObject, b: ShapeObject, gap: int) -> bool:
    """True when the two boxes are at least ``gap`` pixels apart on some axis."""
    ax0, ay0, ax1, ay1 = a.box
    bx0, by0, bx1, by1 = b.box
    return ax1 + gap <= bx0 or bx1 + gap <= ax0 or ay1 + gap <= by0 or by1 + gap <= ay0

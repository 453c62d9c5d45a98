"""Words for Shapes objects: noun phrases, articles, plurals, unique descriptions.

Questions and captions share these so the same object is always named the
same way: attributes in the order size, colour, shape ("large red circle"),
and "object" standing in for a missing shape ("red object").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import product

from vqadesk.data.shapes.scene import ShapeObject

ATTRIBUTES = ("size", "color", "shape")

# Candidate descriptions, shortest first; within a length, the order a person
# would reach for them ("the circle" before "the red object").
_DESCRIPTION_ATTRIBUTES: tuple[tuple[str, ...], ...] = (
    ("shape",),
    ("color",),
    ("size",),
    ("color", "shape"),
    ("size", "shape"),
    ("size", "color"),
    ("size", "color", "shape"),
)

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def noun_phrase(
    *, size: str | None = None, color: str | None = None, shape: str | None = None, plural: bool = False
) -> str:
    """'large red circle', 'red objects', 'triangles', ..."""
    noun = shape or "object"
    if plural:
        noun += "s"
    return " ".join(word for word in (size, color, noun) if word)


def with_article(phrase: str) -> str:
    """'a red circle', 'an orange square'."""
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


# (size, colour, shape) with None for "any": the key of a partial description.
DescriptionKey = tuple[str | None, str | None, str | None]


def description_counts(objects: Sequence[ShapeObject]) -> Counter[DescriptionKey]:
    """How many objects fit each partial description, all at once.

    Each object fits 8 keys (every attribute either named or left open); one
    pass over the objects replaces hundreds of scans per scene.
    """
    counts: Counter[DescriptionKey] = Counter()
    for obj in objects:
        for key in product((obj.size, None), (obj.color, None), (obj.shape, None)):
            counts[key] += 1
    return counts


def description_key(attributes: dict[str, str]) -> DescriptionKey:
    return (attributes.get("size"), attributes.get("color"), attributes.get("shape"))


def unique_description(
    obj: ShapeObject,
    objects: Sequence[ShapeObject],
    *,
    without: str | None = None,
    counts: Counter[DescriptionKey] | None = None,
) -> str | None:
    """The shortest noun phrase that fits ``obj`` and no other object, or None.

    ``without`` names an attribute the phrase must not use (the one a
    question asks about: "what color is the red circle?" gives itself away).
    ``counts`` is ``description_counts(objects)``, when the caller has it.
    """
    if counts is None:
        counts = description_counts(objects)
    for names in _DESCRIPTION_ATTRIBUTES:
        if without in names:
            continue
        wanted = {name: getattr(obj, name) for name in names}
        if counts[description_key(wanted)] == 1:
            return noun_phrase(**wanted)
    return None

"""Captions for Shapes scenes: five phrasings, every object named in full.

Every caption names every object as "a <size> <colour> <shape>", always in
left-to-right order, so a captioner can learn one consistent way to read a
scene. The five phrasings (``CAPTION_STYLES``) differ in framing: a plain
list, an explicit left-to-right list, a count first, pairwise relations, and
positions (left, right, in between). Examples for two objects::

    A large red circle and a small blue square.
    From left to right: a large red circle and a small blue square.
    There are two shapes: a large red circle and a small blue square.
    A large red circle to the left of a small blue square.
    On the left a large red circle and on the right a small blue square.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vqadesk.data.shapes.language import number_word, with_article
from vqadesk.data.shapes.scene import Scene, ShapeObject


def scene_captions(scene: Scene) -> list[str]:
    """One caption per style, in ``CAPTION_STYLES`` order."""
    return [style(scene.objects) for style in CAPTION_STYLES.values()]


def _named(obj: ShapeObject) -> str:
    return with_article(obj.phrase)


def _join(parts: Sequence[str]) -> str:
    """'x', 'x and y', 'x, y and z'."""
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _plain_list(objects: Sequence[ShapeObject]) -> str:
    return _sentence(_join([_named(o) for o in objects]))


def _left_to_right(objects: Sequence[ShapeObject]) -> str:
    return _sentence("from left to right: " + _join([_named(o) for o in objects]))


def _count_first(objects: Sequence[ShapeObject]) -> str:
    return _sentence(f"there are {number_word(len(objects))} shapes: " + _join([_named(o) for o in objects]))


def _relation(a: ShapeObject, b: ShapeObject) -> str:
    """How ``a`` sits relative to ``b``, which is not left of it: the clearer axis wins."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    if dx >= abs(dy):
        return "to the left of"
    return "above" if dy > 0 else "below"


def _relations(objects: Sequence[ShapeObject]) -> str:
    """Neighbours in pairs; an odd one out is the rightmost object."""
    clauses = [
        f"{_named(a)} {_relation(a, b)} {_named(b)}" for a, b in zip(objects[0::2], objects[1::2])
    ]
    if len(objects) % 2:
        clauses.append(f"{_named(objects[-1])} on the right")
    if len(clauses) == 1:
        return _sentence(clauses[0])
    return _sentence(", ".join(clauses[:-1]) + ", and " + clauses[-1])


def _positions(objects: Sequence[ShapeObject]) -> str:
    left, right = _named(objects[0]), _named(objects[-1])
    if len(objects) == 2:
        return _sentence(f"on the left {left} and on the right {right}")
    between = _join([_named(o) for o in objects[1:-1]])
    return _sentence(f"on the left {left}, on the right {right}, and in between {between}")


CAPTION_STYLES: dict[str, Callable[[Sequence[ShapeObject]], str]] = {
    "list": _plain_list,
    "left-to-right": _left_to_right,
    "count": _count_first,
    "relations": _relations,
    "positions": _positions,
}

"""Counts with their nouns for messages: "1 image", "2 images", "12,345 images".

One function for every message the app and the commands show, so none says
"1 images" (issue 16). Irregular plurals are passed in ("1 entry", "3 entries").
"""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` with thousands separators and ``noun``, or ``many`` (default ``noun + "s"``)
    unless the count is exactly one."""
    word = noun if count == 1 else (many or f"{noun}s")
    return f"{count:,} {word}"


def noun_for(count: int, noun: str, many: str | None = None) -> str:
    """The noun alone, agreeing with ``count`` (for "3 of 1 photo"-style text: the noun follows the last count)."""
    return noun if count == 1 else (many or f"{noun}s")

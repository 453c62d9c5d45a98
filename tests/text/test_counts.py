"""Counts with their nouns: one helper, so no message says "1 images"; and no "(s)" left in the sources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vqadesk.text.counts import noun_for, plural

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("count", "expected"), [
    (0, "0 images"), (1, "1 image"), (2, "2 images"), (12345, "12,345 images"), (-1, "-1 images"),
])
def test_plural(count, expected):
    assert plural(count, "image") == expected


def test_irregular_plural_and_verbs():
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"
    assert noun_for(1, "is", "are") == "is" and noun_for(2, "is", "are") == "are"


def test_no_message_hedges_with_s_in_brackets():
    """Messages say "1 photo" / "2 photos" through ``plural``; "photo(s)" is the old hedge."""
    hedged = re.compile(r"""["'][^"'\n]*[a-z]\(s\)""")  # inside a string literal, not a comment
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("vqadesk", "training")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if hedged.search(line.split("#", 1)[0])
    ]
    assert offenders == []

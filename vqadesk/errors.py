"""The project's own errors: each carries one clear, user-facing line.

Everything that can go wrong because of the user's input (a file, a JSON
field, an image, a question, a checkpoint) is raised as a ``VqadeskError``
subclass whose ``str()`` is the message to show: it names the file and, where
there is one, the field. The CLI prints it on one line and exits non-zero; the
GUI shows it in the window. Anything else escaping is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

# How many ids a message lists before summarising the rest ("... and 12 more").
_IDS_SHOWN = 5


class VqadeskError(Exception):
    """Base class of every error meant to be shown to the user as is."""


class DataFormatError(VqadeskError):
    """A data file is missing, unreadable, not valid JSON, or lacks a field.

    ``path`` is the file, ``field`` a dotted/indexed path into its JSON (for
    example ``annotations[12].caption``) or ``None`` when the whole file is bad.
    """

    def __init__(self, path: str | PathLike[str], problem: str, field: str | None = None):
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {problem}")


class ImageLoadError(VqadeskError):
    """An image file cannot be read: missing, truncated, not an image, too big."""

    def __init__(self, path: str | PathLike[str], problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class EvaluationError(VqadeskError):
    """Results and ground truth do not fit together (missing or extra ids...)."""


def list_ids(ids: Sequence[int]) -> str:
    """The first few ids for an error message: ``"3, 7, 9, 12, 15 and 4 more"``."""
    shown = ", ".join(str(i) for i in ids[:_IDS_SHOWN])
    more = len(ids) - _IDS_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown

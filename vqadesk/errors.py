"""The project's own errors: each carries one clear, user-facing line.

Everything that can go wrong because of the user's input (a file, a JSON
field, an image, a question, a checkpoint) is raised as a ``VqadeskError``
subclass whose ``str()`` is the message to show: it names the file and, where
there is one, the field. The CLI prints it on one line and exits non-zero; the
GUI shows it in the window. Anything else escaping is a bug.

``run_entry_point`` is the one exit-code policy of every entry point (the
``vqadesk`` command and the ``python -m training.*`` routines):

====  ==============================================================
0     done
1     a user's error: the ``VqadeskError``'s one line on stderr
2     usage (argparse's own message, or a sub-command without its kind)
3     a bug: one line; ``VQADESK_DEBUG=1`` adds the traceback
130   interrupted (Ctrl+C)
====  ==============================================================
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
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


EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def internal_error(exc: BaseException) -> str:
    """How a bug is told in one line: ``"internal error: ValueError: bad input"``."""
    return f"internal error: {type(exc).__name__}: {exc}"


def error_message(exc: BaseException) -> str:
    """What the user reads: a VqadeskError's own line, else a one-line internal error."""
    if isinstance(exc, VqadeskError):
        return str(exc)
    return internal_error(exc)


def run_entry_point(
    body: Callable[[], int | None],
    *,
    prefix: str = "",
    bug_hint: str = "",
    quiet_broken_pipe: bool = False,
    report: Callable[[str], None] | None = None,
) -> int:
    """Run ``body``; return its exit code, or map what escapes it to one line on stderr and a code.

    ``prefix`` starts every line (``"vqadesk: "`` for the command);
    ``bug_hint`` comes before the traceback hint of a bug ("please report
    it; "); ``quiet_broken_pipe`` makes a closed stdout (``vqadesk ... |
    head``) a success; ``report(message)`` also hands the message on (the
    routines' ``error`` event) before it is printed.
    """
    try:
        return int(body() or EXIT_OK)
    except VqadeskError as exc:
        if report is not None:
            report(str(exc))
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prefix}interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - last line of defence, never a bare traceback
        if quiet_broken_pipe and isinstance(exc, BrokenPipeError):
            return EXIT_OK  # our reader went away: not an error of ours
        message = internal_error(exc)
        if report is not None:
            report(message)
        if os.environ.get("VQADESK_DEBUG"):
            traceback.print_exc()
        print(f"{prefix}{message} ({bug_hint}set VQADESK_DEBUG=1 to see the traceback)", file=sys.stderr)
        return EXIT_BUG

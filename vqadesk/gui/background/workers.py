"""Run plain Python callables off the GUI thread and get the result as a signal.

A ``Task`` wraps one call for ``QThreadPool``: ``finished(result)`` or
``failed(message)`` arrive on the GUI thread. User errors (``VqadeskError``)
become their own message; anything else becomes a one-line "internal error"
message, so a worker never takes the window down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from vqadesk.errors import VqadeskError


class TaskSignals(QObject):
    finished = Signal(object)
    failed = Signal(str)


class Task(QRunnable):
    """``fn(*args)`` in a pool thread; connect to ``signals`` before starting."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        super().__init__()
        self.fn = fn
        self.args = args
        self.signals = TaskSignals()
        self.started = False  # set by the pool thread; a task not started may be taken back (tryTake)

    def run(self) -> None:
        self.started = True
        try:
            result = self.fn(*self.args)
        except VqadeskError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported in the UI, never raised
            self.signals.failed.emit(f"internal error: {type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(result)

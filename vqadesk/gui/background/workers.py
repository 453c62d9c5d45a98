"""Run plain Python callables off the GUI thread and get the result as a signal.

A ``Task`` wraps one call for ``QThreadPool``: ``finished(result)`` or
``failed(message)`` arrive on the GUI thread. User errors (``VqadeskError``)
become their own message; anything else becomes a one-line "internal error"
message, so a worker never takes the window down.

``BackgroundTasks`` is the one way the GUI starts them: a thread pool that
keeps each task's Python side (the task and its signals' object) alive until
its result has been delivered, as superqt's workers do, so no caller keeps a
set of running tasks by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from vqadesk.errors import error_message


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
        except Exception as exc:  # noqa: BLE001 - reported in the UI, never raised
            self.signals.failed.emit(error_message(exc))
        else:
            self.signals.finished.emit(result)


class BackgroundTasks(QObject):
    """A thread pool whose tasks stay alive until their ``on_done``/``on_fail`` has run.

    Each task has a key (the task itself unless given): a task not started yet
    can be taken back by its key (``take_back``), e.g. a thumbnail scrolled past.
    """

    def __init__(
        self, parent: QObject | None = None, *, max_threads: int | None = None, pool: QThreadPool | None = None
    ):
        """A pool of its own (``max_threads``: its size), or ``pool`` shared (Qt's global one)."""
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool(self)
        if max_threads is not None:
            self._pool.setMaxThreadCount(max_threads)
        self._alive: dict[Hashable, Task] = {}

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None],
        on_fail: Callable[[str], None],
        key: Hashable | None = None,
    ) -> Task:
        """Run ``fn(*args)`` in a pool thread; ``on_done(result)`` or ``on_fail(message)`` on the GUI thread."""
        task = Task(fn, *args)
        key = task if key is None else key
        # The callbacks first, then forgetting the task: it lives until they have run.
        task.signals.finished.connect(on_done)
        task.signals.failed.connect(on_fail)
        task.signals.finished.connect(lambda _result: self._forget(key, task))
        task.signals.failed.connect(lambda _message: self._forget(key, task))
        self._alive[key] = task
        self._pool.start(task)
        return task

    def __contains__(self, key: Hashable) -> bool:
        return key in self._alive

    def keys(self) -> list[Hashable]:
        """The keys of the tasks not finished yet."""
        return list(self._alive)

    def take_back(self, key: Hashable) -> bool:
        """Take back ``key``'s task if it has not started (its callbacks never run); False if it has."""
        task = self._alive.get(key)
        if task is None or task.started:
            return False  # a started task is the pool's until it ends (and deletes it)
        try:
            taken = self._pool.tryTake(task)
        except RuntimeError:  # it started, ran and was deleted just now
            taken = False
        if taken:
            del self._alive[key]
        return taken

    def shutdown(self, wait_ms: int) -> None:
        """Drop the tasks not started; wait up to ``wait_ms`` for the running ones."""
        self._pool.clear()
        self._pool.waitForDone(wait_ms)

    def _forget(self, key: Hashable, task: Task) -> None:
        if self._alive.get(key) is task:
            del self._alive[key]

"""The inference worker: one thread that owns the models; panels send it jobs.

    client = InferenceClient()
    client.start()
    client.submit("ask", lambda pool: pool.ask(path, "what color is the circle?"),
                  on_done=show_answers, on_error=show_message)

A job is a plain function of the Qt-free ``ModelPool`` (``engine/model_pool.py``)
run on the worker thread; its result (or error message) comes back to the
callbacks on the GUI thread. A newer job on the same channel supersedes an
older one: a pending one never runs, a running one's result is dropped
(``request_queue.py``). The pool itself -- and with it torch -- is created on
the worker thread as its first act, so the window never waits for torch's
import. ``shutdown`` (on window close) drops what is pending, lets the running
job finish and joins the thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from vqadesk.errors import VqadeskError
from vqadesk.gui.request_queue import LatestRequestQueue


def error_message(exc: BaseException) -> str:
    """What the user reads: a VqadeskError's own line, else a one-line internal error."""
    if isinstance(exc, VqadeskError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


class _WorkerThread(QThread):
    """Runs jobs from the queue until it is closed. Signals cross to the GUI thread (queued)."""

    sig_pool_ready = Signal(object)  # the ModelPool's LoadedModels
    sig_pool_failed = Signal(str)
    sig_job_done = Signal(str, int, object, float)  # channel, request id, result, seconds
    sig_job_failed = Signal(str, int, str)
    sig_busy = Signal(bool)

    def __init__(self, queue: LatestRequestQueue, device: str, parent: QObject | None = None):
        super().__init__(parent)
        self._queue = queue
        self._device = device
        self.pool = None

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            from vqadesk.engine.model_pool import ModelPool  # imports torch: here, not on the GUI thread

            self.pool = ModelPool(self._device)
        except Exception as exc:  # noqa: BLE001 - shown in the window, never raised
            self.sig_pool_failed.emit(error_message(exc))
            return
        self.sig_pool_ready.emit(self.pool.loaded())
        while True:
            request = self._queue.take(timeout=0.5)
            if request is None:
                if self.isInterruptionRequested():
                    return
                continue
            self.sig_busy.emit(True)
            started = time.perf_counter()
            try:
                result = request.job(self.pool)
            except Exception as exc:  # noqa: BLE001 - reported to the panel that asked
                self.sig_job_failed.emit(request.channel, request.request_id, error_message(exc))
            else:
                self.sig_job_done.emit(request.channel, request.request_id, result, time.perf_counter() - started)
            if self._queue.pending_count() == 0:
                self.sig_busy.emit(False)


class InferenceClient(QObject):
    """The GUI side of the worker: ``submit`` jobs, get callbacks on the GUI thread."""

    sig_ready = Signal(object)  # LoadedModels, once the pool exists
    sig_failed = Signal(str)  # the pool could not start (torch missing, ...)
    sig_models_changed = Signal(object)  # LoadedModels after any load
    sig_busy_changed = Signal(bool)
    sig_job_finished = Signal(str, float)  # channel, seconds: the status bar's "last inference"

    def __init__(self, device: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self._queue = LatestRequestQueue()
        # Only each channel's newest request gets its callbacks: older results are stale.
        self._callbacks: dict[str, tuple[int, Callable[[Any], None] | None, Callable[[str], None] | None]] = {}
        self._thread = _WorkerThread(self._queue, device)
        self._thread.sig_pool_ready.connect(self.sig_ready)
        self._thread.sig_pool_failed.connect(self.sig_failed)
        self._thread.sig_job_done.connect(self._done)
        self._thread.sig_job_failed.connect(self._failed)
        self._thread.sig_busy.connect(self.sig_busy_changed)
        self.models = None  # the latest LoadedModels
        self.sig_ready.connect(self._remember_models)
        self.sig_models_changed.connect(self._remember_models)

    def start(self) -> None:
        if not self._thread.isRunning():
            self._thread.start()

    def submit(
        self,
        channel: str,
        job: Callable[[Any], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Run ``job(pool)`` on the worker; supersedes ``channel``'s earlier jobs. Returns the id."""
        request_id = self._queue.put(channel, job)
        self._callbacks[channel] = (request_id, on_done, on_error)
        return request_id

    def load_models(
        self,
        *,
        vqa: str | None = None,
        captioner: str | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """Load the active VQA model and/or captioner (each on its own channel); ``sig_models_changed`` follows."""

        def loaded(models) -> None:
            self.sig_models_changed.emit(models)
            if on_done is not None:
                on_done(models)

        if vqa is not None:
            self.submit("load-vqa", lambda pool: pool.load_vqa(vqa), loaded, on_error)
        if captioner is not None:
            self.submit("load-captioner", lambda pool: pool.load_captioner(captioner), loaded, on_error)

    def is_current(self, channel: str, request_id: int) -> bool:
        return self._queue.is_current(channel, request_id)

    def shutdown(self, wait_ms: int = 10000) -> None:
        """Drop pending jobs, let the running one end, stop the thread (window close)."""
        self._queue.close()
        self._thread.requestInterruption()
        self._thread.wait(wait_ms)
        self._callbacks.clear()

    def _remember_models(self, models) -> None:
        self.models = models

    def _callbacks_of(self, channel: str, request_id: int):
        """The callbacks of ``request_id`` if it is still its channel's newest request, else Nones."""
        entry = self._callbacks.get(channel)
        if entry is None or entry[0] != request_id:
            return None, None
        del self._callbacks[channel]
        return entry[1], entry[2]

    def _done(self, channel: str, request_id: int, result: Any, seconds: float) -> None:
        on_done, _ = self._callbacks_of(channel, request_id)
        self.sig_job_finished.emit(channel, seconds)
        if on_done is not None:
            on_done(result)

    def _failed(self, channel: str, request_id: int, message: str) -> None:
        _, on_error = self._callbacks_of(channel, request_id)
        if on_error is not None:
            on_error(message)

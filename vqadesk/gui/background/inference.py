"""The inference worker: a child process that owns the models; panels send it jobs.

    client = InferenceClient()
    client.start()
    client.submit("ask", PoolApi.ask, path, "what color is the circle?", top_k=5,
                  on_done=show_answers, on_error=show_message)

A job names a ``ModelPool`` method through its torch-free declaration
(``engine/torch_free/pool_api.PoolApi``) and its arguments, or a module-level
function ``fn(pool, *args)`` passed by reference
(``engine/torch_free/inference_protocol.Job``): it is sent to the **inference
process**, a fresh interpreter started with multiprocessing's "spawn"
context, which imports torch, loads the models and runs the jobs
(``engine/torch_free/inference_protocol.serve``). The GUI process never imports torch,
so no long C call there (torch's import, a model's forward pass) can hold
its GIL and freeze the window.

In the GUI process a thin ``QThread`` (``_Forwarder``) takes one request at
a time from the queue, sends it down the pipe and waits for the reply
(``poll``/``recv`` wait without the GIL); results (or error messages) come
back to the callbacks on the GUI thread. A newer job on the same channel
supersedes an older one: a pending one never runs, a running one's result is
dropped (``request_queue.py``). Replies are unpickled: they come only from
this app's own child (see ``inference_protocol.py``).

A child that dies (a crash, a kill, out of memory) fails the job it was
running with a readable line, is reported by ``sig_failed`` and is started
again, with the models it had loaded (``sig_models_changed`` then says what
is loaded); after ``MAX_RESTARTS`` deaths it is left stopped and every job
gets the reason. ``shutdown`` (window close) drops what is pending, asks the
child to stop, and terminates it if it has not ended within ``STOP_JOIN_S``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from vqadesk.engine.torch_free.inference_protocol import Job, describe_exit, pack_job, serve
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.errors import error_message
from vqadesk.gui.background.request_queue import LatestRequestQueue, Request

__all__ = ["InferenceClient", "Job", "error_message"]

POLL_S = 0.1  # how often a waiting forwarder looks at interruption and at the child's health
STOP_JOIN_S = 1.0  # how long a child told to stop may take before it is terminated
MAX_RESTARTS = 3
# Each kind's load: its channel and pool method.
_LOADS = {ModelKind.VQA: ("load-vqa", PoolApi.load_vqa),
          ModelKind.CAPTIONING: ("load-captioner", PoolApi.load_captioner)}
_LOAD_METHODS = tuple(method for _channel, method in _LOADS.values())


class _Forwarder(QThread):
    """Starts the child, forwards requests to it one at a time, emits what comes back (queued to the GUI thread)."""

    sig_pool_ready = Signal(object)  # LoadedModels, the first time a child is ready
    sig_pool_failed = Signal(str)  # the models cannot run (now, or until the child is restarted)
    sig_restarted = Signal(object)  # LoadedModels of a restarted child, its models loaded again
    sig_job_done = Signal(str, int, object, float)  # channel, request id, result, seconds
    sig_job_failed = Signal(str, int, str)
    sig_busy = Signal(bool)

    def __init__(self, queue: LatestRequestQueue, device: str, models: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self._queue = queue
        self._device = device
        self._models = models
        self._process = None
        self._conn = None
        self._loads: dict[str, Job] = {}  # the last load of each kind that worked: replayed after a restart
        self._deaths = 0
        self._unavailable: str | None = None  # why no child runs (then every job fails with it)
        self._internal_id = 0
        self.pid: int | None = None  # the running child's process id (tests, diagnostics)

    def run(self) -> None:
        try:
            ready, models = self._launch()
            if ready:
                self.sig_pool_ready.emit(models)
            while not self.isInterruptionRequested():
                request = self._queue.take(timeout=2 * POLL_S)
                if request is None:
                    if self._unavailable is None and self._process is not None and not self._process.is_alive():
                        self._child_died()  # died while idle: say so now, not at the next question
                    continue
                self._serve(request)
        finally:
            self._stop_child()

    # -- one request -----------------------------------------------------------------------------

    def _serve(self, request: Request) -> None:
        self.sig_busy.emit(True)
        if self._unavailable is not None:
            self.sig_job_failed.emit(request.channel, request.request_id, self._unavailable)
        else:
            reply = self._call(request.request_id, request.job)
            if reply[0] == "done":
                _kind, _id, result, seconds = reply
                if isinstance(request.job, Job) and request.job.target in _LOAD_METHODS:
                    self._loads[request.job.name] = request.job
                self.sig_job_done.emit(request.channel, request.request_id, result, seconds)
            elif reply[0] == "error":
                self.sig_job_failed.emit(request.channel, request.request_id, reply[2])
            elif reply[0] == "died":
                why = self._exit_description()
                restarting = self._deaths < MAX_RESTARTS
                self.sig_job_failed.emit(request.channel, request.request_id,
                                         f"the inference process stopped unexpectedly ({why})"
                                         + ("; starting it again" if restarting else ""))
                self._child_died(why)
            # "interrupted": the window is closing; nobody waits for the answer
        if self._queue.pending_count() == 0:
            self.sig_busy.emit(False)

    def _call(self, request_id: int, job: Job) -> tuple:
        """Send ``job`` and wait for its reply.

        The reply is ("done", id, result, s) | ("error", id, msg) | ("died",) | ("interrupted",).
        """
        try:
            data = pack_job(job)
        except Exception as exc:  # noqa: BLE001 - an argument that cannot cross to the child
            return ("error", request_id, f"internal error: the job cannot be sent to the inference process: {exc}")
        try:
            self._conn.send(("job", request_id, data))
        except OSError:
            return ("died",)
        while True:
            if self._conn.poll(POLL_S):  # also True once the child's end has closed
                try:
                    reply = self._conn.recv()
                except (EOFError, OSError):
                    return ("died",)
                except Exception as exc:  # noqa: BLE001 - a reply that cannot be read back
                    return ("error", request_id, f"internal error: the inference process's reply: {exc}")
                if reply[0] in ("done", "error") and reply[1] == request_id:
                    return reply
                continue
            if self.isInterruptionRequested():
                return ("interrupted",)
            if not self._process.is_alive():
                return ("died",)

    # -- the child's life ------------------------------------------------------------------------

    def _launch(self) -> tuple[bool, Any]:
        """Start a child (again, after deaths) until one is ready, its models reloaded.

        Returns (True, LoadedModels or None for a worker without models), or
        (False, None) when none will be (the reason was emitted) or on interruption.
        """
        while not self.isInterruptionRequested():
            outcome, payload = self._start_child()
            if outcome == "ready":
                return self._reload(payload)
            if outcome == "interrupted":
                return False, None
            if outcome == "failed":
                self._stop_child()
                self._unavailable = payload
                self.sig_pool_failed.emit(payload)
                return False, None
            if not self._note_death():  # "died" while starting
                return False, None
        return False, None

    def _start_child(self) -> tuple[str, Any]:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        name = "vqadesk-inference" if self._models else "vqadesk-worker"
        process = context.Process(target=serve, args=(child_end, self._device, self._models), name=name, daemon=True)
        try:
            process.start()
        except Exception as exc:  # noqa: BLE001 - no interpreter to start, no resources, ...
            parent_end.close()
            child_end.close()
            return ("failed", f"the inference process could not start: {error_message(exc)}")
        child_end.close()  # the child holds its own copy: its death now closes the pipe
        self._process, self._conn, self.pid = process, parent_end, process.pid
        while True:
            if parent_end.poll(POLL_S):
                try:
                    reply = parent_end.recv()
                except (EOFError, OSError):
                    return ("died", None)
                except Exception as exc:  # noqa: BLE001
                    return ("failed", f"internal error: the inference process's first reply: {exc}")
                return (reply[0], reply[1])  # ("ready", LoadedModels) or ("failed", message)
            if self.isInterruptionRequested():
                return ("interrupted", None)
            if not process.is_alive():
                return ("died", None)

    def _reload(self, models) -> tuple[bool, Any]:
        """A restarted child loads again the models the previous one had (a failing one is left out)."""
        for job in list(self._loads.values()):
            self._internal_id -= 1  # internal requests have negative ids
            reply = self._call(self._internal_id, job)
            if reply[0] == "done":
                models = reply[2]
            elif reply[0] == "died":
                return self._launch() if self._note_death() else (False, None)
            elif reply[0] == "interrupted":
                return False, None
        return True, models

    def _child_died(self, why: str | None = None) -> None:
        """The child is gone: report it and start another (while restarts remain)."""
        if self._note_death(why):
            ready, models = self._launch()
            if ready:
                self.sig_restarted.emit(models)

    def _note_death(self, why: str | None = None) -> bool:
        """Count a death and report it; False when no restart is left (jobs then get the reason)."""
        why = why or self._exit_description()
        self._stop_child()
        self._deaths += 1
        if self._deaths > MAX_RESTARTS:
            self._unavailable = (f"the inference process stopped unexpectedly ({why}), {self._deaths} times: "
                                 "restart vqadesk to use the models")
            self.sig_pool_failed.emit(self._unavailable)
            return False
        self.sig_pool_failed.emit(f"the inference process stopped unexpectedly ({why}); starting it again")
        return True

    def _exit_description(self) -> str:
        process = self._process
        if process is None:
            return "no exit status"
        process.join(0.5)  # a child whose pipe just closed may not have been reaped yet
        return describe_exit(process.exitcode)

    def _stop_child(self) -> None:
        """Ask the child to stop; terminate it if it has not ended within STOP_JOIN_S (then kill it)."""
        process, conn = self._process, self._conn
        self._process = self._conn = self.pid = None
        if process is None:
            return
        try:
            conn.send(("stop",))
        except OSError:
            pass  # already gone
        process.join(STOP_JOIN_S)
        if process.is_alive():
            process.terminate()
            process.join(STOP_JOIN_S)
        if process.is_alive():
            process.kill()
            process.join(STOP_JOIN_S)
        conn.close()


class InferenceClient(QObject):
    """The GUI side of the worker: ``submit`` jobs, get callbacks on the GUI thread.

    ``models=False`` makes a worker process without models (torch is never
    imported there) for other long Python work that must not share the GUI
    process's GIL: its jobs are module-level functions, called with None for the pool.
    """

    sig_ready = Signal(object)  # LoadedModels, once the first inference process is ready
    sig_failed = Signal(str)  # the models cannot run: the process could not start, or it stopped
    sig_models_changed = Signal(object)  # LoadedModels after any load (and after a restart)
    sig_busy_changed = Signal(bool)
    sig_job_finished = Signal(str, float)  # channel, seconds: the status bar's "last inference"

    def __init__(self, device: str = "auto", parent: QObject | None = None, *, models: bool = True):
        super().__init__(parent)
        self._queue = LatestRequestQueue()
        # Only each channel's newest request gets its callbacks: older results are stale.
        self._callbacks: dict[str, tuple[int, Callable[[Any], None] | None, Callable[[str], None] | None]] = {}
        self._thread = thread = _Forwarder(self._queue, device, models)
        for signal, slot in ((thread.sig_pool_ready, self.sig_ready), (thread.sig_pool_failed, self.sig_failed),
                             (thread.sig_restarted, self.sig_models_changed), (thread.sig_job_done, self._done),
                             (thread.sig_job_failed, self._failed), (thread.sig_busy, self.sig_busy_changed)):
            signal.connect(slot)
        self.models = None  # the latest LoadedModels
        self.sig_ready.connect(self._remember_models)
        self.sig_models_changed.connect(self._remember_models)

    def start(self) -> None:
        if not self._thread.isRunning() and not self._thread.isFinished():
            app = QCoreApplication.instance()
            if app is not None:
                app.aboutToQuit.connect(self.shutdown)  # a quit that skips the window's close still ends the child
            self._thread.start()

    @property
    def process_id(self) -> int | None:
        """The inference process's id while one runs (tests, diagnostics)."""
        return self._thread.pid

    def submit(
        self,
        channel: str,
        job: Callable[..., Any] | Job,
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> int:
        """Run ``pool.ask(*args, **kwargs)`` for ``job=PoolApi.ask`` (or ``job(pool, *args, **kwargs)``
        for a function) in the inference process.

        Supersedes ``channel``'s earlier jobs; returns the request id. ``job`` is
        a ``PoolApi`` method or a module-level function: lambdas cannot cross to
        the child and are refused here (``TypeError``).
        """
        if not isinstance(job, Job):
            job = Job(job, args, kwargs)
        request_id = self._queue.put(channel, job)
        self._callbacks[channel] = (request_id, on_done, on_error)
        return request_id

    def load_model(
        self,
        kind: ModelKind,
        name_or_path: str,
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """Load the active model of ``kind`` (each kind on its own channel); ``sig_models_changed`` follows."""

        def loaded(models) -> None:
            self.sig_models_changed.emit(models)
            if on_done is not None:
                on_done(models)

        channel, method = _LOADS[ModelKind(kind)]
        self.submit(channel, method, name_or_path, on_done=loaded, on_error=on_error)

    def is_current(self, channel: str, request_id: int) -> bool:
        return self._queue.is_current(channel, request_id)

    def shutdown(self, wait_ms: int = 10000) -> None:
        """Drop pending jobs, stop the inference process (terminated if slow) and the thread (window close)."""
        self._thread.requestInterruption()
        self._queue.close()
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

"""Downloading a pretrained model from the Models tab, off the GUI thread: the plan, then the files.

The Hub work is Qt-free and belongs to the engine (``engine/torch_free/hub/downloads.py``): a
plan (what the model's files weigh, what the cache already holds, the free disk space, the commit)
and a generator of progress events that stops when its ``threading.Event`` is set. ``HubBackend``
is the little this module asks of it and ``EngineHub`` the one place that calls it, so tests hand
``ModelDownloader`` a fake backend instead.

``ModelDownloader`` runs one job at a time in a ``QThread`` of its own:

* ``plan(reference)`` -> ``sig_planned(DownloadPlan)`` or ``sig_failed(message)``; only the Hub's
  file list is read, nothing is fetched (the panel asks the user before ``download``);
* ``download(plan)`` -> ``sig_progress(DownloadProgress)`` a few times a second, then
  ``sig_finished(plan)``, ``sig_cancelled()`` (after ``cancel()``) or ``sig_failed(message)``.
  The worker only notes its latest progress; a timer on the GUI thread sends it on when it has
  changed, so the bar is never more than a tick behind and the window is not flooded by chunks.

Messages are one plain line (``describe_failure``): the engine's ``VqadeskError`` lines, and for
anything else that escapes it, "no network", "the disk is full", "the repository is gone".
Downloading is network and disk I/O, which releases the interpreter lock, so this thread does not
starve the window as long pure-Python work would. Neither torch nor transformers is imported here.
"""

from __future__ import annotations

import errno
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from vqadesk.engine.torch_free.hub.references import HubReference, cache_dir
from vqadesk.errors import VqadeskError, internal_error

PROGRESS_INTERVAL_S = 0.1  # how often the progress is sent on: the window redraws the bar, not every chunk
RATE_WINDOW_S = 3.0  # the rate shown is the one over the last few seconds


@dataclass(frozen=True)
class DownloadPlan:
    """What a download will take, known before anything is fetched."""

    reference: HubReference
    total_bytes: int  # all the files the model needs
    cached_bytes: int  # of those, already in the cache (an interrupted download, shared files)
    free_bytes: int  # free space on the disk holding the cache
    commit: str | None = None
    engine_plan: Any = None  # the engine's own plan, handed back to its download
    fits_on_disk: bool | None = None  # the engine's verdict (with its safety margin); None: compare the bytes

    @property
    def missing_bytes(self) -> int:
        return max(self.total_bytes - self.cached_bytes, 0)

    @property
    def fits(self) -> bool:
        if self.fits_on_disk is not None:
            return self.fits_on_disk
        return self.free_bytes >= self.missing_bytes


@dataclass(frozen=True)
class DownloadProgress:
    """How far a download is: bytes of the whole model, the file being fetched, the recent rate."""

    file: str
    done_bytes: int
    total_bytes: int
    bytes_per_second: float | None  # None until two events are a measurable time apart


class HubBackend(Protocol):
    """What the downloader needs of the engine."""

    def plan(self, reference: HubReference) -> DownloadPlan: ...

    def download(self, plan: DownloadPlan, cancel: threading.Event) -> Iterable[tuple[str, int, int]]:
        """``(file, bytes done of the whole model, total bytes)`` events; returns early once ``cancel`` is set."""
        ...



class EngineHub:
    """``HubBackend`` over ``engine/torch_free/hub/downloads.py``: the only code here that calls it.

    ``downloads`` (and with it huggingface_hub) is imported on the first plan, in the worker thread,
    so the window's start never pays for it.
    """

    def plan(self, reference: HubReference) -> DownloadPlan:
        from vqadesk.engine.torch_free.hub import downloads

        plan = downloads.plan_download(reference)
        return DownloadPlan(reference=reference, total_bytes=plan.total_bytes,
                            cached_bytes=plan.cached_bytes, free_bytes=plan.free_bytes,
                            commit=plan.commit, engine_plan=plan, fits_on_disk=plan.fits_on_disk)

    def download(self, plan: DownloadPlan, cancel: threading.Event) -> Iterable[tuple[str, int, int]]:
        from vqadesk.engine.torch_free.hub import downloads

        for event in downloads.download(plan.engine_plan, cancel=cancel):
            yield event.file, event.done, event.total


def free_disk_bytes() -> int | None:
    """Free space on the disk that holds (or will hold) the Hugging Face cache; None if unknown."""
    folder = cache_dir()
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


_NETWORK_ERRORS = {"ConnectionError", "ConnectError", "ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutError",
                   "NetworkError", "RemoteProtocolError", "OfflineModeIsEnabled", "gaierror"}
_GONE_ERRORS = {"RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError", "GatedRepoError",
                "RemoteEntryNotFoundError"}


def describe_failure(exc: BaseException, reference: HubReference | None = None) -> str:
    """One plain line for a failed plan or download."""
    if isinstance(exc, VqadeskError):
        return str(exc)
    what = reference.text if reference is not None else "the model"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: {what} could not be written to the Hugging Face cache ({cache_dir()})"
    if names & _GONE_ERRORS:
        return f"{what} is not on the Hugging Face Hub any more (or is private): {exc}".split("\n")[0]
    if names & _NETWORK_ERRORS:
        return f"no network: the Hugging Face Hub could not be reached to download {what}"
    return internal_error(exc)


class RateMeter:
    """Bytes per second over the last ``window_s`` seconds of (time, bytes done) samples."""

    def __init__(self, window_s: float = RATE_WINDOW_S):
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> float | None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        first_time, first_done = self._samples[0]
        if now - first_time < 1e-3:
            return None
        return max(done - first_done, 0) / (now - first_time)


class _Job(QThread):
    """One plan or one download; its signals arrive on the GUI thread."""

    sig_planned = Signal(object)
    sig_finished = Signal(object)
    sig_cancelled = Signal()
    sig_failed = Signal(str)

    def __init__(self, work: Callable[[_Job], None], parent: QObject | None = None):
        super().__init__(parent)
        self._work = work
        self.latest: DownloadProgress | None = None  # set by the worker, read by the GUI thread's timer

    def run(self) -> None:
        self._work(self)


class ModelDownloader(QObject):
    """Plans and downloads Hub models one at a time in a worker thread (see the module's docstring)."""

    sig_planned = Signal(object)  # DownloadPlan
    sig_progress = Signal(object)  # DownloadProgress
    sig_finished = Signal(object)  # DownloadPlan, all files in the cache
    sig_cancelled = Signal()
    sig_failed = Signal(str)  # one line
    sig_busy_changed = Signal(bool)

    def __init__(self, backend: HubBackend | None = None, parent: QObject | None = None, *,
                 progress_interval_s: float = PROGRESS_INTERVAL_S):
        super().__init__(parent)
        self.backend: HubBackend = backend if backend is not None else EngineHub()
        self._cancel = threading.Event()
        self._progress_timer = QTimer(self, interval=round(progress_interval_s * 1000))
        self._progress_timer.timeout.connect(self._send_progress)
        self._sent: DownloadProgress | None = None
        self._job: _Job | None = None
        self._active = False  # a job started whose result has not arrived yet

    @property
    def busy(self) -> bool:
        return self._active

    def plan(self, reference: HubReference) -> None:
        def work(job: _Job) -> None:
            try:
                plan = self.backend.plan(reference)
            except Exception as exc:  # noqa: BLE001 - every failure is shown as one line
                job.sig_failed.emit(describe_failure(exc, reference))
            else:
                job.sig_planned.emit(plan)

        self._start(work)

    def download(self, plan: DownloadPlan) -> None:
        cancel = self._cancel = threading.Event()

        def work(job: _Job) -> None:
            meter = RateMeter()
            try:
                for file, done, total in self.backend.download(plan, cancel):
                    job.latest = DownloadProgress(file, done, total, meter.add(time.monotonic(), done))
                    if cancel.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - every failure is shown as one line
                if cancel.is_set():
                    job.sig_cancelled.emit()  # the engine may end a cancelled download by raising
                else:
                    job.sig_failed.emit(describe_failure(exc, plan.reference))
                return
            if cancel.is_set():
                job.sig_cancelled.emit()
            else:
                job.sig_finished.emit(plan)

        self._start(work)
        self._sent = None
        self._progress_timer.start()

    def cancel(self) -> None:
        """Ask the running download to stop (``sig_cancelled`` follows once it has)."""
        self._cancel.set()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop a running download and wait for its thread (the window is closing)."""
        self._cancel.set()
        if self._job is not None:
            self._job.wait(wait_ms)

    def _start(self, work: Callable[[_Job], None]) -> None:
        if self._active:
            raise RuntimeError("a download job is already running")
        if self._job is not None:
            self._job.wait()  # it has delivered its result: its thread is ending
            self._job.deleteLater()
        job = self._job = _Job(work, self)
        # Not busy any more before anyone hears the result (a listener may start the next job at once).
        for ending in (job.sig_planned, job.sig_finished, job.sig_cancelled, job.sig_failed):
            ending.connect(self._ended)
        job.sig_planned.connect(self.sig_planned)
        job.sig_finished.connect(self.sig_finished)
        job.sig_cancelled.connect(self.sig_cancelled)
        job.sig_failed.connect(self.sig_failed)
        self._active = True
        self.sig_busy_changed.emit(True)
        job.start()

    def _ended(self, *_result) -> None:
        self._send_progress()  # the last progress before the result
        self._progress_timer.stop()
        self._active = False
        self.sig_busy_changed.emit(False)

    def _send_progress(self) -> None:
        latest = self._job.latest if self._job is not None else None
        if latest is not None and latest is not self._sent:
            self._sent = latest
            self.sig_progress.emit(latest)

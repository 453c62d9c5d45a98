"""A batch job in the app: the engine's ``BatchJob`` driven chunk by chunk, never blocking the window.

Three places do the work, and the GUI thread only passes messages between them:

* the **job thread** (a one-thread ``BackgroundTasks``, so its tasks run one
  after another, in order) owns the ``BatchJob``: it counts and lists the
  photos, opens (or takes up) the progress file, records each chunk's results
  (written and fsynced) and takes the next chunk; a person's edits are
  written there too, between chunks, so one thread writes the file;
* the **inference process** predicts one chunk per job (``Job(predict_chunk_job,
  ...)`` on the "batch" channel, between the other panels' questions);
* the GUI thread sends the next chunk when the last one has been recorded.

So *Pause* is sending no next chunk (the one being predicted is still
recorded), *Resume* sends it, and *Cancel* drops both the next chunk and the
reply of the one being predicted and closes the progress file at once: every
photo recorded so far stays there, and the same job resumes later, here or
with ``vqadesk predict … --out`` (the file is locked only while a job runs).
The progress file's rows are the command line's, written by the same
``BatchJob``. Each ``start`` bumps a generation: replies and tasks of an
earlier run are ignored when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from vqadesk.engine.torch_free.batch.job import DEFAULT_CHUNK_SIZE, BatchJob, Finished, Started
from vqadesk.engine.torch_free.batch.photos import Photo
from vqadesk.engine.torch_free.batch.progress import ProgressFile, SettingsMismatchError, load_results
from vqadesk.engine.torch_free.batch.records import BatchResults, BatchSettings, RowEdit
from vqadesk.engine.torch_free.batch_app_jobs import ChunkReply, predict_chunk_job
from vqadesk.engine.torch_free.inference_protocol import Job
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.batch.sources import BatchSource
from vqadesk.text.counts import plural

CHANNEL = "batch"
# The runner's states, as the panel shows them.
IDLE, STARTING, RUNNING, PAUSING, PAUSED, FINISHED, CANCELLED, STOPPED = (
    "idle", "starting", "running", "pausing", "paused", "finished", "cancelled", "stopped")
ACTIVE = (STARTING, RUNNING, PAUSING, PAUSED)


@dataclass
class _Opened:
    """What the job thread hands back after ``start``: the job, its first event, the rows already done."""

    job: BatchJob
    started: Started
    earlier: BatchResults
    chunk: list[Photo]


class BatchRunner(QObject):
    sig_state = Signal(str)
    sig_opened = Signal(object, object)  # Started, BatchResults already in the progress file
    sig_results = Signal(object)  # ChunkReply of a recorded chunk
    sig_events = Signal(object)  # list of the engine's events for a chunk (PhotoFailed..., Progress)
    sig_stopped = Signal(str, str)  # the end state (FINISHED, CANCELLED, STOPPED) and its one line
    sig_mismatch = Signal(str)  # the progress file holds another job: the line, and Start afresh offered
    sig_edit_failed = Signal(str)

    def __init__(self, inference: InferenceClient, parent: QObject | None = None, *,
                 chunk_size: int = DEFAULT_CHUNK_SIZE):
        super().__init__(parent)
        self.inference = inference
        self.chunk_size = chunk_size
        self.state = IDLE
        self.progress_file: Path | None = None
        self._tasks = BackgroundTasks(self, max_threads=1)  # the job thread: one task at a time, in order
        self._job: BatchJob | None = None
        self._settings: BatchSettings | None = None
        self._model: str | None = None
        self._pending: list[Photo] = []  # the next chunk, not sent yet (paused)
        self._in_flight = False  # a chunk is being predicted or recorded
        self._generation = 0

    # -- the user's buttons ---------------------------------------------------------------------------

    def start(self, source: BatchSource, settings: BatchSettings, progress_file: Path, expected_model: str | None,
              *, restart: bool = False) -> None:
        """Run ``settings`` over ``source``'s photos, kept in ``progress_file`` (taken up unless ``restart``)."""
        if self.state in ACTIVE:
            return
        self._generation += 1
        generation = self._generation
        self._settings, self._model, self.progress_file = settings, expected_model, Path(progress_file)
        self._pending, self._in_flight = [], True
        self._set_state(STARTING)
        self._tasks.start(_open_job, source, settings, Path(progress_file), restart, self.chunk_size,
                          on_done=lambda opened: self._opened(generation, opened),
                          on_fail=lambda message: self._open_failed(generation, message))

    def pause(self) -> None:
        """Send no next chunk: the one being predicted is recorded, then the job waits."""
        if self.state in (STARTING, RUNNING):
            self._set_state(PAUSING if self._in_flight else PAUSED)

    def resume(self) -> None:
        if self.state == PAUSING:
            self._set_state(RUNNING)
        elif self.state == PAUSED:
            self._set_state(RUNNING)
            self._send_or_finish()

    def cancel(self) -> None:
        """Stop now: no next chunk, the reply being computed is dropped, the progress file closed."""
        if self.state not in ACTIVE:
            return
        self._generation += 1
        self._close_job()
        self._set_state(CANCELLED)
        self.sig_stopped.emit(CANCELLED, "Cancelled: the photos finished so far are kept; Start resumes the job.")

    def edit(self, edit: RowEdit) -> None:
        """Keep a person's edit in the progress file: the job's, between chunks, or the file of a job at rest."""
        if self.progress_file is None or self.state == STARTING:
            return  # nothing shown yet to edit
        job = self._job
        if job is not None:
            self._tasks.start(job.progress.append_edit, edit, on_done=_ignore, on_fail=self.sig_edit_failed.emit)
        else:
            self._tasks.start(_append_edit, self.progress_file, edit, on_done=_ignore,
                              on_fail=self.sig_edit_failed.emit)

    def after_writes(self, then: Callable[[], None]) -> None:
        """Call ``then`` on the GUI thread once the job thread has written what it was given (edits)."""
        self._tasks.start(_ignore, on_done=lambda _result: then(), on_fail=_ignore)

    def shutdown(self) -> None:
        """The window closes: drop what is pending, close the progress file (its photos are kept)."""
        self._generation += 1
        self._close_job()
        self._tasks.shutdown(3000)

    # -- the steps ------------------------------------------------------------------------------------------

    def _opened(self, generation: int, opened: _Opened | str) -> None:
        if generation != self._generation:
            if isinstance(opened, _Opened):  # cancelled while it opened
                self._tasks.start(opened.job.close, on_done=_ignore, on_fail=_ignore)
            return
        self._in_flight = False
        if isinstance(opened, str):  # the progress file holds another job
            self._set_state(IDLE)
            self.sig_mismatch.emit(opened)
            return
        self._job = opened.job
        self._pending = opened.chunk
        self.sig_opened.emit(opened.started, opened.earlier)
        self._set_state(RUNNING if self.state == STARTING else PAUSED)  # PAUSING: paused while it opened
        self._send_or_finish()

    def _open_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._in_flight = False
            self._stop(STOPPED, f"Could not start: {message}")

    def _send_or_finish(self) -> None:
        """The pending chunk to the inference process, or, when none is left, the job's end."""
        if self.state != RUNNING or self._in_flight:
            return
        if not self._pending:
            self._finish()
            return
        chunk, self._pending = self._pending, []
        self._in_flight = True
        generation = self._generation
        self.inference.submit(CHANNEL, Job(predict_chunk_job, (chunk, self._settings, self._model)),
                              on_done=lambda reply: self._predicted(generation, reply),
                              on_error=lambda message: self._predict_failed(generation, message))

    def _predicted(self, generation: int, reply: ChunkReply) -> None:
        if generation != self._generation:
            return  # cancelled meanwhile
        self._tasks.start(_record, self._job, reply.results,
                          on_done=lambda recorded: self._recorded(generation, reply, recorded),
                          on_fail=lambda message: self._predict_failed(generation, message))

    def _recorded(self, generation: int, reply: ChunkReply, recorded: tuple[list, list[Photo]]) -> None:
        if generation != self._generation:
            return
        events, self._pending = recorded
        self._in_flight = False
        self.sig_results.emit(reply)
        self.sig_events.emit(events)
        if self.state == PAUSING:
            self._set_state(PAUSED)
        self._send_or_finish()

    def _predict_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._in_flight = False
            self._stop(STOPPED, f"Stopped: {message}. The photos finished so far are kept; Start resumes the job.")

    def _finish(self) -> None:
        job, self._job = self._job, None
        generation = self._generation
        self._in_flight = True
        self._tasks.start(_finish_job, job, on_done=lambda finished: self._finished(generation, finished),
                          on_fail=lambda message: self._predict_failed(generation, message))

    def _finished(self, generation: int, finished: Finished) -> None:
        if generation != self._generation:
            return
        self._in_flight = False
        failed = f", {finished.failed} failed (listed with their reason)" if finished.failed else ""
        self._set_state(FINISHED)
        self.sig_stopped.emit(FINISHED, f"Finished: {plural(finished.done, 'photo')} "
                                        f"{'has' if finished.done == 1 else 'have'} results{failed}; "
                                        f"this run took {finished.seconds:.0f} s.")

    def _stop(self, state: str, message: str) -> None:
        self._generation += 1
        self._close_job()
        self._set_state(state)
        self.sig_stopped.emit(state, message)

    def _close_job(self) -> None:
        job, self._job = self._job, None
        self._pending, self._in_flight = [], False
        if job is not None:
            self._tasks.start(job.close, on_done=_ignore, on_fail=_ignore)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.sig_state.emit(state)


# -- in the job thread ----------------------------------------------------------------------------------------


def _open_job(source: BatchSource, settings: BatchSettings, path: Path, restart: bool,
              chunk_size: int) -> _Opened | str:
    """Count and list the photos, open the progress file, read back what is done, take the first chunk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VqadeskError(f"{path.parent}: cannot be made ({exc.strerror or exc})") from None
    job = BatchJob(source.photos(), settings, path, chunk_size=chunk_size, total=source.count(), restart=restart)
    try:
        started = job.start()
    except SettingsMismatchError as exc:
        return str(exc)
    try:
        return _Opened(job, started, load_results(path), job.next_chunk())
    except BaseException:
        job.close()
        raise


def _record(job: BatchJob, results: list) -> tuple[list, list[Photo]]:
    """Write a chunk's results (fsynced), and take the next chunk from the listing."""
    return job.record(results), job.next_chunk()


def _finish_job(job: BatchJob) -> Finished:
    try:
        return job.finish()
    finally:
        job.close()


def _append_edit(path: Path, edit: RowEdit) -> None:
    with ProgressFile.open(path) as progress:
        progress.append_edit(edit)


def _ignore(*_args) -> None:
    pass

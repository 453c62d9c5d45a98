"""The batch job: photos in chunks through a model, every finished chunk kept, events out.

Two ways to drive it, one bookkeeping (``BatchJob``):

* ``run_batch(photos, settings, predict_chunk, progress_file, chunk_size)``:
  a Qt-free generator for callers that may block (the command line; a
  worker thread). It yields ``Started``, then per chunk a ``PhotoFailed``
  for each photo that could not be read and one ``Progress``, and at last
  ``Finished``. Closing it early (Ctrl-C, ``generator.close()``) keeps every
  chunk already written.
* ``BatchJob`` step by step, for a caller that must not block (the app: it
  sends each chunk to its inference process and records the reply when it
  comes): ``start()``, then ``next_chunk()`` / ``record(results)`` until
  ``next_chunk()`` is empty, ``finish()``, ``close()``. Pausing is not
  asking for the next chunk.

Photos the progress file already holds are skipped as the listing reaches
them, so a job resumes where it stopped; ``predict_chunk`` (see
``predict.predict_photos``) is given the rest, ``chunk_size`` at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass

from vqadesk.engine.torch_free.batch.photos import Photo
from vqadesk.engine.torch_free.batch.predict import PredictChunk, predict_retrying
from vqadesk.engine.torch_free.batch.progress import ProgressFile
from vqadesk.engine.torch_free.batch.records import BatchSettings, FailedPhoto, PhotoResult
from vqadesk.jsonio import PathLike

DEFAULT_CHUNK_SIZE = 16


@dataclass(frozen=True)
class Started:
    """The job began: ``total`` photos (None: not counted), ``already_done`` of them finished in earlier runs."""

    total: int | None
    already_done: int


@dataclass(frozen=True)
class Progress:
    """After a chunk: ``done`` photos handled (finished or failed, earlier runs' included) of ``total``;
    this run's ``photos_per_s``; ``eta_s`` (None until it can be told); the chunk's last photo."""

    done: int
    total: int | None
    photos_per_s: float
    eta_s: float | None
    last_key: str


@dataclass(frozen=True)
class PhotoFailed:
    """A photo that could not be used (unreadable, vanished, too large), and why; the job goes on."""

    key: str
    reason: str


@dataclass(frozen=True)
class Finished:
    """The job ended: ``done`` photos have results (earlier runs' included), ``failed`` failed in this
    run, which took ``seconds``."""

    done: int
    failed: int
    seconds: float


BatchEvent = Started | Progress | PhotoFailed | Finished


class BatchJob:
    """One run of a job over ``photos``, writing to the progress file at ``progress_file``."""

    def __init__(self, photos: Iterable[Photo], settings: BatchSettings, progress_file: PathLike, *,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, total: int | None = None, restart: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.settings = settings
        self.chunk_size = chunk_size
        self.total = total if total is not None or not isinstance(photos, Sized) else len(photos)
        self._photos = iter(photos)
        self._path = progress_file
        self._restart = restart
        self._clock = clock
        self._progress: ProgressFile | None = None
        self._started_at = 0.0
        self._skipped = 0  # photos of the listing already done before this run
        self._handled = 0  # photos finished or failed in this run
        self._failed = 0

    @property
    def progress(self) -> ProgressFile:
        """The open progress file (``append_edit`` adds a person's edit to it)."""
        if self._progress is None:
            raise RuntimeError("the batch job has not started")
        return self._progress

    def start(self) -> Started:
        """Open (or take up) the progress file; a ``SettingsMismatchError`` if it holds another job."""
        self._progress = ProgressFile.open(self._path, self.settings, restart=self._restart)
        self._started_at = self._clock()
        return Started(total=self.total, already_done=len(self._progress.done))

    def next_chunk(self) -> list[Photo]:
        """The next photos to predict, at most ``chunk_size``; empty when none is left."""
        done = self.progress.done
        chunk: list[Photo] = []
        for photo in self._photos:
            if photo.key in done:
                self._skipped += 1
                continue
            chunk.append(photo)
            if len(chunk) == self.chunk_size:
                break
        return chunk

    def record(self, results: Sequence[PhotoResult]) -> list[BatchEvent]:
        """Keep a chunk's results (written and fsynced) and say what happened: failures, then progress."""
        if not results:
            return []
        self.progress.append(results)
        events: list[BatchEvent] = []
        keys: set[str] = set()
        for result in results:
            keys.add(result.key)
            if isinstance(result, FailedPhoto):
                self._failed += 1
                events.append(PhotoFailed(result.key, result.reason))
        self._handled += len(keys)
        events.append(self._progress_event(results[-1].key))
        return events

    def finish(self) -> Finished:
        """The job's summary (the progress file stays open until ``close``)."""
        return Finished(done=len(self.progress.done), failed=self._failed, seconds=self._elapsed())

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()

    def _progress_event(self, last_key: str) -> Progress:
        elapsed = self._elapsed()
        rate = self._handled / elapsed if elapsed > 0 else 0.0
        done = self._skipped + self._handled
        eta = max(self.total - done, 0) / rate if self.total is not None and rate > 0 else None
        return Progress(done=done, total=self.total, photos_per_s=rate, eta_s=eta, last_key=last_key)

    def _elapsed(self) -> float:
        return self._clock() - self._started_at


def run_batch(photos: Iterable[Photo], settings: BatchSettings, predict_chunk: PredictChunk, progress_file: PathLike,
              chunk_size: int = DEFAULT_CHUNK_SIZE, *, total: int | None = None,
              restart: bool = False) -> Iterator[BatchEvent]:
    """The job as a generator of events; ``predict_chunk(photos)`` gives each chunk's results."""
    job = BatchJob(photos, settings, progress_file, chunk_size=chunk_size, total=total, restart=restart)
    try:
        yield job.start()
        while chunk := job.next_chunk():
            yield from job.record(predict_retrying(predict_chunk, chunk))
        yield job.finish()
    finally:
        job.close()

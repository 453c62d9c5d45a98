"""One evaluation routine (``python -m training.evaluate_model``) as a child process, and its progress.

The routine prints JSON events on stdout (``start {total}``, ``progress {done,
total}``, ``done {folder}``, ``error {message}``: the contract of
``engine/torch_free/routine.py``) and human text on stderr. ``EvaluationProcess``
parses them as they arrive (``EventLineParser``, the Training tab's parser) and
calls plain Python listeners on the GUI thread (see ``training/process.py`` for
why not a signal per event). ``Cancel`` is SIGTERM: the routine stops between
batches, removes its ``.partial`` folder and says ``cancelled``; one still alive after
``STOP_GRACE_MS`` is killed (its ``.partial`` is removed by the next run).

``Progress`` turns the events into the bar's value and an ETA from the rate so
far (``eta_text``); it is Qt-free and tested on its own.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer

from vqadesk.engine.torch_free.training_events import ConsoleText, EventLineParser

ROUTINE = "training.evaluate_model"
STOP_GRACE_MS = 10000
STDERR_TAIL = 8
NICE = 10  # the routine runs at a lower priority, as the inference process does: the window keeps its cores


@dataclass
class Progress:
    """The run's progress so far, from its events."""

    total: int = 0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    # (time, done) of the first progress event: the rate leaves out loading the model
    first_progress: tuple[float, int] | None = None

    def add(self, event: dict, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        kind = event.get("event")
        if kind in ("start", "progress"):
            self.total = int(event.get("total") or self.total)
        if kind == "progress":
            self.done = int(event.get("done") or 0)
            if self.first_progress is None:
                self.first_progress = (now, self.done)

    def eta_seconds(self, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if self.first_progress is None or self.total <= 0:
            return None
        then, done_then = self.first_progress
        if self.done <= done_then or now <= then:
            return None
        rate = (self.done - done_then) / (now - then)
        return max(self.total - self.done, 0) / rate

    def text(self, now: float | None = None) -> str:
        if self.total <= 0:
            return "Loading the model and the split…"
        eta = self.eta_seconds(now)
        left = "" if eta is None else f" — about {format_duration(eta)} left"
        return f"{self.done:,} / {self.total:,}{left}"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def routine_arguments(model: str, dataset: str, split: str, subset: int | None, seed: int,
                      out_root: str | None = None) -> list[str]:
    """The routine's command line (after the interpreter)."""
    arguments = ["-m", ROUTINE, "--model", model, "--data", dataset, "--split", split, "--nice", str(NICE)]
    if subset:
        arguments += ["--subset", str(subset), "--seed", str(seed)]
    if out_root:
        arguments += ["--out-root", out_root]
    return arguments


class EvaluationProcess(QObject):
    """Runs the routine; ``on_event`` listeners hear each event; ``on_finished(folder, error)`` once at the end."""

    def __init__(self, parent: QObject | None = None, *, python: str = sys.executable):
        super().__init__(parent)
        self.python = python
        self.on_event: list[Callable[[dict], None]] = []
        self.on_finished: list[Callable[[str | None, str | None], None]] = []
        self.progress = Progress()
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.stop_requested = False
        self._folder: str | None = None
        self._error: str | None = None
        self._process: QProcess | None = None
        self._stdout = EventLineParser()
        self._stderr = ConsoleText()
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._kill)

    def is_running(self) -> bool:
        return self._process is not None

    def start(self, arguments: list[str], working_directory: str | None = None) -> None:
        if self._process is not None:
            raise RuntimeError("an evaluation is already running")
        self.progress = Progress()
        self.stderr_tail.clear()
        self.stop_requested = False
        self._folder = self._error = None
        self._stdout, self._stderr = EventLineParser(), ConsoleText()
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        if working_directory:
            process.setWorkingDirectory(working_directory)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_exit)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        process.start(self.python, arguments)

    def cancel(self) -> None:
        """SIGTERM: the routine stops between batches and removes its partial folder; killed if it lingers."""
        if self._process is None or self.stop_requested:
            return
        self.stop_requested = True
        self._process.terminate()
        self._kill_timer.start()

    def shutdown(self, grace_ms: int = 5000) -> None:
        process = self._process
        if process is None:
            return
        self.cancel()
        if not process.waitForFinished(grace_ms):
            process.kill()
            process.waitForFinished(3000)
        if self._process is not None:
            self._finish()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _read_stdout(self) -> None:
        if self._process is not None:
            self._events(self._stdout.feed(bytes(self._process.readAllStandardOutput().data())).events)

    def _read_stderr(self) -> None:
        if self._process is not None:
            self.stderr_tail.extend(self._stderr.feed(bytes(self._process.readAllStandardError().data())))

    def _events(self, parsed: list[tuple[dict, str]]) -> None:
        for event, _line in parsed:
            self.progress.add(event)
            if event.get("event") == "done":
                self._folder = str(event.get("folder") or "") or None
            elif event.get("event") == "cancelled":
                self._error = "cancelled"
            elif event.get("event") == "error":
                self._error = str(event.get("message") or "the evaluation failed")
            for listener in self.on_event:
                listener(event)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._error = f"could not start {self.python}: {self._process.errorString()}"
            self._finish()

    def _on_exit(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        self._events(self._stdout.feed(bytes(process.readAllStandardOutput().data())).events)
        self._events(self._stdout.flush().events)
        self.stderr_tail.extend(self._stderr.feed(bytes(process.readAllStandardError().data())))
        self.stderr_tail.extend(self._stderr.flush())
        if self._folder is None and self._error is None:
            if self.stop_requested:
                self._error = "cancelled"
            elif exit_status == QProcess.ExitStatus.CrashExit:
                self._error = "the evaluation process crashed"
            else:
                tail = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
                self._error = tail or f"the evaluation ended with code {exit_code} and no result"
        self._finish()

    def _finish(self) -> None:
        self._kill_timer.stop()
        process, self._process = self._process, None
        if process is not None:
            process.deleteLater()
        folder, error = (None, self._error) if self._error else (self._folder, None)
        for listener in self.on_finished:
            listener(folder, error)

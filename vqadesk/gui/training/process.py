"""One training routine running as a child process (QProcess), and its run files.

``TrainingProcess.start(record)`` runs ``sys.executable`` with the record's
arguments in the run folder, with ``PYTHONUNBUFFERED=1`` so events arrive
as they are printed. Its stdout is parsed into events as chunks arrive
(``EventLineParser``); each event line is appended to ``events.jsonl`` and
folded into ``run.json`` before the ``on_event`` listeners hear of it, so
what is on disk is never behind what is on screen. stderr becomes log lines with tqdm's
redraws collapsed.

Stop is gentle first: SIGTERM (``terminate``) makes the routine finish its
step, write ``last`` and exit; only if it is still alive after
``STOP_GRACE_MS`` is it killed. Whatever way the process ends -- done,
error event, non-zero exit, killed, failed to start -- ``sig_finished``
carries the final ``RunRecord``; nothing here raises into the event loop.

Events and log lines go to plain Python listeners, not Qt signals: they
stay on the GUI thread, and with PySide6 6.12.0 on Python 3.11 every
``Signal.emit()`` called from Python drops a reference to ``True`` (its
return value), so a signal per step event would crash a long run's app
with "bool_dealloc" after some thousands of steps.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from vqadesk.engine.torch_free.training_events import ConsoleText, EventLineParser, RunCurves, describe_event
from vqadesk.engine.torch_free.training_runs import (
    EVENTS_FILE,
    LOG_FILE,
    LineLog,
    RunRecord,
    apply_event,
    finish_record,
)

STOP_GRACE_MS = 15000
STDERR_TAIL = 12  # lines kept to explain a crash


class TrainingProcess(QObject):
    sig_finished = Signal(object)  # the final RunRecord (once per run: an emit is fine)

    def __init__(self, parent: QObject | None = None, *, python: str = sys.executable):
        super().__init__(parent)
        self.python = python
        self.on_event: list[Callable[[dict], None]] = []  # each event, in order
        self.on_log: list[Callable[[list[str]], None]] = []  # text lines for the raw log
        self.record: RunRecord | None = None
        self.curves = RunCurves()
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.stop_requested = False
        self._killed_by_us = False
        self._process: QProcess | None = None
        self._events: LineLog | None = None
        self._log: LineLog | None = None
        self._stdout = EventLineParser()
        self._stderr = ConsoleText()
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._kill_if_alive)

    def is_running(self) -> bool:
        return self._process is not None

    @property
    def progress_text(self) -> str:
        """tqdm's current bar line, if any."""
        return self._stderr.progress_text

    def start(self, record: RunRecord, curves: RunCurves | None = None) -> None:
        """Launch the routine for ``record`` (already saved as running).

        ``curves``: a resumed run's curves so far, which the new events continue
        (its ``start`` event trims what came after the ``last`` checkpoint).
        """
        if self._process is not None:
            raise RuntimeError("a training process is already running")
        self.record = record
        self.curves = curves if curves is not None else RunCurves(kind=record.kind)
        self.curves.kind = record.kind
        self.stderr_tail.clear()
        self.stop_requested = self._killed_by_us = False
        self._stdout, self._stderr = EventLineParser(), ConsoleText()
        self._events = LineLog(record.folder / EVENTS_FILE)
        self._log = LineLog(record.folder / LOG_FILE)
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # events must not wait in a pipe buffer
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(str(record.folder))
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        process.start(self.python, record.arguments)

    def stop(self) -> None:
        """Ask the routine to stop after its current step (SIGTERM); kill it if it lingers."""
        if self._process is None or self.stop_requested:
            return
        self.stop_requested = True
        self._emit_note("stop requested: the routine finishes its step and saves `last`…")
        self._process.terminate()
        self._kill_timer.start()

    def _kill_if_alive(self) -> None:
        if self._process is not None:
            self._emit_note(f"still running {STOP_GRACE_MS // 1000} s after the stop request: killing it")
            self.kill()

    def kill(self) -> None:
        if self._process is not None:
            self._killed_by_us = True
            self._process.kill()

    def shutdown(self, grace_ms: int = STOP_GRACE_MS) -> None:
        """Window closing: stop gracefully, wait (bounded), then kill; the run files are finished."""
        process = self._process
        if process is None:
            return
        self.stop()
        if not process.waitForFinished(grace_ms):
            self.kill()
            process.waitForFinished(3000)
        if self._process is not None:  # finished was not delivered (no event loop left): finish by hand
            self._on_finished(process.exitCode(), process.exitStatus())

    # -- output --------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        if self._process is not None:
            self._handle_stdout(self._stdout.feed(bytes(self._process.readAllStandardOutput().data())))

    def _handle_stdout(self, parsed) -> None:
        if parsed.events and self._events is not None:
            self._events.write([line for _event, line in parsed.events])
        lines = list(parsed.text)
        for event, _line in parsed.events:
            self.curves.add(event)
            if self.record is not None and apply_event(self.record, event):
                self.record.save()
            note = describe_event(event)
            if note:
                lines.append(f"[vqadesk] {note}")
            for listener in self.on_event:
                listener(event)
        if lines:  # one append per chunk: a QPlainTextEdit append costs a relayout
            self._write_log(lines)
            self._tell_log(lines)

    def _read_stderr(self) -> None:
        if self._process is not None:
            self._handle_stderr(self._stderr.feed(bytes(self._process.readAllStandardError().data())))

    def _handle_stderr(self, lines: list[str]) -> None:
        if lines:
            self.stderr_tail.extend(lines)
            self._write_log(lines)
            self._tell_log(lines)

    def _tell_log(self, lines: list[str]) -> None:
        for listener in self.on_log:
            listener(lines)

    def _emit_note(self, text: str) -> None:
        """A line of our own in the log, marked so it is not mistaken for the routine's."""
        lines = [f"[vqadesk] {text}"]
        self._write_log(lines)
        self._tell_log(lines)

    def _write_log(self, lines: list[str]) -> None:
        if self._log is not None:
            self._log.write(lines)

    # -- the end -------------------------------------------------------------------------------

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self._process is None:
            return  # crashes arrive through finished too
        message = f"could not start {self.python}: {self._process.errorString()}"
        self.stderr_tail.append(message)
        self._finish(exit_code=None, crashed=False, error=message)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        # The last chunks may still be unread when the exit is reported.
        self._handle_stdout(self._stdout.feed(bytes(process.readAllStandardOutput().data())))
        self._handle_stdout(self._stdout.flush())
        self._handle_stderr(self._stderr.feed(bytes(process.readAllStandardError().data())))
        self._handle_stderr(self._stderr.flush())
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self._emit_note("the routine was killed" if crashed else f"the routine exited with code {exit_code}")
        error = None
        if crashed and self._killed_by_us:
            error = f"killed: it had not stopped {STOP_GRACE_MS // 1000} s after the stop request"
        elif crashed:
            error = "the training process was killed or crashed (no `done` event)"
        self._finish(exit_code=None if crashed else exit_code, crashed=crashed, error=error)

    def _finish(self, *, exit_code: int | None, crashed: bool, error: str | None) -> None:
        self._kill_timer.stop()
        process, self._process = self._process, None
        for log in (self._events, self._log):
            if log is not None:
                log.close()
        self._events = self._log = None
        record = self.record
        if record is not None:
            if error and not record.error:
                record.error = error
            if exit_code is None and not crashed:  # never started
                record.status = "failed"
            finish_record(record, exit_code=exit_code, crashed=crashed, stderr_tail=list(self.stderr_tail))
        if process is not None:
            process.deleteLater()
        self.sig_finished.emit(record)

"""Finished runs' files (curves, probe answers, log tail), read in a pool thread and kept.

A run's ``events.jsonl`` grows with its length (a step event every couple of
seconds), so it is never read on the GUI thread: ``load`` reads it in the
background and ``sig_loaded(folder)`` says when ``get(folder)`` has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from vqadesk.engine.torch_free.training_events import RunCurves, read_events_file
from vqadesk.engine.torch_free.training_runs import EVENTS_FILE, ProbeAnswer, read_log_tail, read_probe
from vqadesk.gui.background.workers import BackgroundTasks


@dataclass
class RunFiles:
    curves: RunCurves = field(default_factory=RunCurves)
    probe: list[ProbeAnswer] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def read_run_files(folder: str) -> RunFiles:
    """Pool thread: everything the tab shows of a finished run."""
    path = Path(folder)
    return RunFiles(read_events_file(path / EVENTS_FILE), read_probe(path), read_log_tail(path))


class RunFilesCache(QObject):
    sig_loaded = Signal(str)  # folder

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._files: dict[str, RunFiles] = {}
        self._waiting: dict[str, list[Callable[[RunFiles], None]]] = {}
        self._tasks = BackgroundTasks(self, max_threads=1)

    def get(self, folder: str) -> RunFiles | None:
        return self._files.get(folder)

    def put(self, folder: str, files: RunFiles) -> None:
        self._files[folder] = files

    def drop(self, folder: str) -> None:
        self._files.pop(folder, None)

    def is_loading(self) -> bool:
        return bool(self._waiting)

    def load(self, folder: str, then: Callable[[RunFiles], None] | None = None) -> None:
        """Read ``folder``'s files in the background (once, however often asked)."""
        waiting = self._waiting.get(folder)
        if waiting is not None:
            if then is not None:
                waiting.append(then)
            return
        self._waiting[folder] = [then] if then is not None else []
        # An unreadable run shows as empty rather than not at all (reading skips bad lines already).
        self._tasks.start(read_run_files, folder, on_done=lambda files: self._loaded(folder, files),
                          on_fail=lambda _message: self._loaded(folder, RunFiles()))

    def _loaded(self, folder: str, files: RunFiles) -> None:
        self._files[folder] = files
        callbacks = self._waiting.pop(folder, [])
        for then in callbacks:
            then(files)
        self.sig_loaded.emit(folder)

    def shutdown(self) -> None:
        self._tasks.shutdown(2000)

"""The Batch tab's Export button: the job's results in the engine's formats, and sidecars beside the photos.

Both are the command line's own writers (``batch.export_results``,
``batch.write_sidecars``), streamed from the job's progress file with the
person's edits applied. They run in a worker process without models (an
``InferenceClient(models=False)``, started on the first export): a big job's
results are seconds of pure Python, which a thread of the GUI process would
run under the window's interpreter lock. Before each one the job thread
writes the edits still queued (``after_writes``), so an edit made a moment
ago is in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from vqadesk.engine.torch_free.batch.exports import ExportReport
from vqadesk.engine.torch_free.batch.records import CAPTIONS
from vqadesk.engine.torch_free.batch.sidecars import SidecarReport
from vqadesk.engine.torch_free.batch_app_jobs import export_job, sidecars_job
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.text.counts import plural

# The file dialog's filters: (filter, format, suffix).
FORMAT_FILTERS = (
    ("JSON: settings and rows (*.json)", "json", ".json"),
    ("JSON Lines: one row per line (*.jsonl)", "jsonl", ".jsonl"),
    ("CSV: one row per photo or question (*.csv)", "csv", ".csv"),
    ("COCO captions results (*.json)", "coco", ".json"),
)


class BatchExporter(QObject):
    sig_said = Signal(str, str)  # the one line to show, and its kind ("" or "error")
    sig_exported = Signal(object)  # ExportReport
    sig_sidecars = Signal(object)  # SidecarReport

    def __init__(self, after_writes: Callable[[Callable[[], None]], None], parent: QObject | None = None):
        super().__init__(parent)
        self._after_writes = after_writes
        self._worker: InferenceClient | None = None
        self.progress_file: Path | None = None
        self.kind = CAPTIONS
        self.command: str | None = None  # the vqadesk predict command of a folder's job (it resumes the job)

    def menu(self, parent: QWidget) -> QMenu:
        """*Save results as…*, *Write caption files beside the photos*, and the same replacing existing ones."""
        menu = QMenu(parent)
        save = QAction("Save results as… (JSON, JSON Lines, CSV, COCO)", menu)
        save.triggered.connect(lambda: self.choose_export(parent))
        self.sidecar_action = QAction("Write caption files beside the photos (NAME.txt)", menu)
        self.sidecar_action.setToolTip("One .txt per photo with its caption (an existing file is kept)")
        self.sidecar_action.triggered.connect(lambda: self.write_sidecars(overwrite=False))
        self.overwrite_action = QAction("Write them, replacing existing ones", menu)
        self.overwrite_action.triggered.connect(lambda: self.write_sidecars(overwrite=True))
        self.command_action = QAction("Copy the command line that resumes this job", menu)
        self.command_action.setToolTip("vqadesk predict with this job's folder, results file, model and settings: "
                                       "it goes on from the photos done here, and the Batch tab from its")
        self.command_action.triggered.connect(self.copy_command)
        menu.addActions([save, self.sidecar_action, self.overwrite_action])
        menu.addSeparator()
        menu.addAction(self.command_action)
        menu.aboutToShow.connect(self._name_actions)
        return menu

    def copy_command(self) -> None:
        if self.command is not None:
            QGuiApplication.clipboard().setText(self.command)
            self.sig_said.emit(f"Copied: {self.command}", "")

    def choose_export(self, parent: QWidget) -> None:
        if self.progress_file is None:
            return
        filters = [f for f in FORMAT_FILTERS if f[1] != "coco" or self.kind == CAPTIONS]
        start = str(Path.home() / "vqadesk-batch-results.json")
        path, chosen = QFileDialog.getSaveFileName(parent, "Save the batch results", start,
                                                   ";;".join(f[0] for f in filters))
        if not path:
            return
        _filter, fmt, suffix = next((f for f in filters if f[0] == chosen), filters[0])
        if not Path(path).suffix:
            path += suffix
        self.export(Path(path), fmt)

    def export(self, out: Path, fmt: str, *, lead: str = "") -> None:
        """Write the results to ``out`` in ``fmt``; ``sig_exported`` or a one-line error follows.
        ``lead`` goes before what it says (the job's last line, for the results file written at its end)."""
        if self.progress_file is None:
            return
        progress = self.progress_file
        self.sig_said.emit(f"{lead}Writing {out.name} ({fmt})…", "")
        self._after_writes(lambda: self._submit("export", export_job, (progress, out, fmt),
                                                lambda report: self._exported(report, lead), lead))

    def write_sidecars(self, *, overwrite: bool) -> None:
        """``NAME.txt`` beside each photo; ``sig_sidecars`` or a one-line error follows."""
        if self.progress_file is None:
            return
        progress = self.progress_file
        self.sig_said.emit("Writing the files beside the photos…", "")
        self._after_writes(lambda: self._submit("sidecars", sidecars_job, (progress, overwrite), self._sidecars))

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()

    def _submit(self, channel: str, job, args: tuple, on_done, lead: str = "") -> None:
        if self._worker is None:
            self._worker = InferenceClient(parent=self, models=False)
            self._worker.start()
        self._worker.submit(channel, job, *args, on_done=on_done,
                            on_error=lambda message: self.sig_said.emit(lead + message, "error"))

    def _exported(self, report: ExportReport, lead: str = "") -> None:
        parts = [plural(report.rows, "row")]
        if report.failed:
            parts.append(f"{report.failed:,} failed")
        if report.left_out:
            examples = ", ".join(report.left_out_examples)
            parts.append(f"{plural(report.left_out, 'photo')} left out (no COCO id: {examples})")
        self.sig_said.emit(f"{lead}Saved {report.out.name} ({report.format}): {', '.join(parts)}", "")
        self.sig_exported.emit(report)

    def _sidecars(self, report: SidecarReport) -> None:
        parts = [f"{report.written:,} written"]
        if report.unchanged:
            parts.append(f"{report.unchanged:,} already up to date")
        if report.kept:
            parts.append(f"{report.kept:,} existing ones kept (Write them, replacing existing ones, replaces them)")
        if report.clashes:
            parts.append(f"{report.clashes:,} skipped (two photos of one name in a folder)")
        kind = ""
        for folder, reason in report.failed_folders.items():
            parts.append(f"{folder}: cannot be written ({reason})")
            kind = "error"
        self.sig_said.emit("Files beside the photos: " + "; ".join(parts), kind)
        self.sig_sidecars.emit(report)

    def _name_actions(self) -> None:
        noun = "caption" if self.kind == CAPTIONS else "answer"
        self.sidecar_action.setText(f"Write {noun} files beside the photos (NAME.txt)")
        self.command_action.setEnabled(self.command is not None)

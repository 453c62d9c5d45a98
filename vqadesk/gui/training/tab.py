"""The Training tab: run a training routine, watch it live, compare runs, probe checkpoints.

Left: the form and Start / Stop / Resume, the progress bar and the report of
a failed run. Middle: the curves (``TrainingPlots``) above the raw log and
the probe. Right: the runs list, "Use this model" and "Delete…". The routine runs as a
child process (``TrainingProcess``); its events feed the shown curves through
a short coalescing timer, so a burst of events costs one redraw. A finished
run's events and log are read in a pool thread when it is selected
(``RunFilesCache``). The window makes the tab with ``build_in_steps`` while it
is idle, one plot per event-loop turn, so pyqtgraph's set-up never comes as
one freeze (figures in docs/training-tab.md).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_events import RunCurves
from vqadesk.engine.torch_free.training_runs import (
    RunOptionsError,
    RunRecord,
    check_arguments,
    clear_run_files,
    holds_a_run,
    list_runs,
    new_run_folder,
    resumed_record,
    run_folder_in_use,
    runs_root,
    start_record,
)
from vqadesk.gui.steady_tabs import SteadyTabWidget
from vqadesk.gui.training.form import GROUP, TrainingForm
from vqadesk.gui.training.plots import PLOT_SPECS, TrainingPlots, make_plot
from vqadesk.gui.training.probe import ProbePanel, make_probe_plot
from vqadesk.gui.training.probe_client import ProbeClient
from vqadesk.gui.training.process import STOP_GRACE_MS, TrainingProcess
from vqadesk.gui.training.run_delete import Confirm, delete_run, is_managed
from vqadesk.gui.training.run_files import RunFiles, RunFilesCache
from vqadesk.gui.training.run_list import FAILED, RunList
from vqadesk.gui.training.status import RunStatus

LOG_LINES = 5000
REDRAW_MS = 250  # live curves: four redraws a second are smooth and leave the event loop idle
EXTERNAL_RUNS_KEY = f"{GROUP}/external_runs"


@dataclass(frozen=True)
class TabParts:
    """The widgets that cost most to make (pyqtgraph plots above all), made before the tab."""

    form: TrainingForm
    plots: TrainingPlots
    probe_panel: ProbePanel


def build_in_steps(settings: QSettings, inference=None) -> Iterator[TrainingTab | None]:
    """The tab made a piece at a time: each ``next()`` is one piece (one plot, the form, ...), and
    the last yields the tab itself.

    The window runs one step per event-loop turn while it is idle, so making
    the tab never freezes it.
    """
    plots = []
    for index in range(len(PLOT_SPECS)):
        plots.append(make_plot(index))
        yield None
    training_plots = TrainingPlots(plots=plots)
    yield None
    probe_plot = make_probe_plot()
    yield None
    probe_panel = ProbePanel(plot=probe_plot)
    yield None
    form = TrainingForm(settings)
    yield None
    yield TrainingTab(settings, inference, parts=TabParts(form, training_plots, probe_panel))


class TrainingTab(QWidget):
    sig_use_model = Signal(str, str)  # ModelKind, checkpoint .json path

    def __init__(self, settings: QSettings, inference=None, parent: QWidget | None = None, *,
                 parts: TabParts | None = None):
        """``parts``: the costly widgets made beforehand (``build_in_steps``), else made here."""
        super().__init__(parent)
        self.settings = settings
        self.inference = inference
        self.process = TrainingProcess(self)
        self.files = RunFilesCache(self)
        self._shown: list[str] = []  # folders whose curves the plots show now
        self._log_folder: str | None = None  # whose log the log view shows
        self._live_log: deque[str] = deque(maxlen=LOG_LINES)  # kept to show again after a look elsewhere

        parts = parts or TabParts(TrainingForm(settings), TrainingPlots(), ProbePanel())
        self.form = parts.form
        self.start_button = QPushButton("Start", toolTip="Start a new run with these options")
        self.stop_button = QPushButton("Stop", toolTip="Finish the current step, save `last` and stop "
                                       f"(killed if it has not stopped after {STOP_GRACE_MS // 1000} s)")
        self.resume_button = QPushButton("Resume")
        self.status = RunStatus()
        self.progress, self.report = self.status.progress, self.status.report
        self.plots = parts.plots
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setPlaceholderText("The routine's output appears here.")
        self.probe_panel = parts.probe_panel
        self.bottom_tabs = SteadyTabWidget()
        self.bottom_tabs.addTab(self.log, "Log")
        self.bottom_tabs.addTab(self.probe_panel, "Probe")
        self.run_list = RunList()
        self.use_button = QPushButton("Use this model", toolTip="Load the selected run's best checkpoint "
                                      "into the Ask / Caption panels")
        self.delete_button = QPushButton("Delete…", toolTip="Move the selected run's folder to the trash (Del); "
                                         "a run in a folder you chose is only taken off the list")
        self.confirm: Confirm = self._confirm_dialog  # replaced by tests
        self.folder_label = QLabel(wordWrap=True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build_layout()

        self.probes = ProbeClient(inference, self.probe_panel, self)
        if inference is None:
            self.probe_panel.set_unavailable("The probe is off: this window has no inference worker to ask "
                                             "checkpoints with.")
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self._redraw_live)
        # Showing other runs makes plot items (docs/training-tab.md): on the next event-loop turn, not
        # inside the click or the run's start that asked for it (1 ms: a timer, so after this turn's paints).
        self._display = QTimer(self, singleShot=True, interval=1)
        self._display.timeout.connect(self._update_display)
        for signal, slot in (
            (self.start_button.clicked, self.start_run),
            (self.stop_button.clicked, self.stop_run),
            (self.resume_button.clicked, self.resume_run),
            (self.use_button.clicked, self._use_model),
            (self.delete_button.clicked, self.delete_current_run),
            (self.form.routine.currentIndexChanged, self._on_form_changed),
            (self.form.sig_changed, self._update_buttons),
            (self.run_list.sig_current_changed, self._on_current_run),
            (self.run_list.sig_checked_changed, self._display_soon),
            (self.files.sig_loaded, self._on_files_loaded),
        ):
            signal.connect(slot)
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.run_list.tree,
                               self.delete_current_run)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.process.on_event.append(self._on_event)
        self.process.on_log.append(self._append_log)
        self.process.sig_finished.connect(self._on_finished)
        self.plots.set_kind_hint(self.form.kind)
        self.refresh_runs()
        self._update_buttons()

    def _build_layout(self) -> None:
        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        form_scroll.setWidget(self.form)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(form_scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.status)
        left.setMinimumWidth(250)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.plots)
        middle.addWidget(self.bottom_tabs)
        middle.setStretchFactor(0, 2)
        middle.setStretchFactor(1, 1)
        middle.setSizes([480, 260])
        middle.setChildrenCollapsible(False)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 4, 4)
        right_layout.addWidget(QLabel("<b>Runs</b> — check two or more to compare"))
        right_layout.addWidget(self.run_list, 1)
        run_buttons = QHBoxLayout()
        run_buttons.addWidget(self.use_button, 1)
        run_buttons.addWidget(self.delete_button)
        right_layout.addLayout(run_buttons)
        right_layout.addWidget(self.folder_label)
        right.setMinimumWidth(250)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (left, middle, right):
            splitter.addWidget(widget)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 660, 350])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- the public API ------------------------------------------------------------------------

    def set_dataset(self, path: str | None) -> None:
        self.form.set_dataset(path)

    def set_probe(self, image_path: str, question: str) -> None:
        self.probe_panel.set_probe(image_path, question)

    def is_running(self) -> bool:
        return self.process.is_running()

    def shutdown(self) -> None:
        """Window closing: stop a running routine (SIGTERM, then kill), finish its run files.

        Call it before the inference worker's ``shutdown``: a probe may still be queued.
        """
        self._redraw.stop()
        self._display.stop()
        self.form.save_settings()
        self.process.shutdown()  # bounded: STOP_GRACE_MS, then a kill
        self.probes.shutdown()
        self.probe_panel.shutdown()
        self.files.shutdown()

    # -- start, stop, resume -------------------------------------------------------------------

    def start_run(self) -> None:
        if self.is_running():
            return
        self.form.save_settings()
        kind, chosen_out = self.form.kind, self.form.out.text().strip()
        try:
            options = self.form.options(out=chosen_out or "<new run folder>")
            problem = self.form.data_problem()
            if problem is not None:
                raise RunOptionsError(problem)
            check_arguments(kind, options.arguments()[2:])  # refused now, not after torch's import
            folder, overwrite = self._output_folder(chosen_out, kind)
        except (RunOptionsError, OSError) as exc:
            self.status.show_report("Cannot start", str(exc))
            return
        if folder is None:
            return  # the overwrite was not confirmed
        options = self.form.options(out=str(folder))
        arguments = [*options.arguments(), "--overwrite"] if overwrite else options.arguments()
        self._launch(start_record(folder, options, arguments, sys.executable), None)

    def _output_folder(self, chosen: str, kind: str) -> tuple[Path | None, bool]:
        """The run's folder and whether the routine must ``--overwrite`` an old run there; the same rules
        as the routine's (``engine/training/run_start.py``): a folder a live run holds is refused, one
        with an old run needs Resume or a confirmed Overwrite. ``(None, _)``: the user said no."""
        if not chosen:
            return new_run_folder(runs_root(), kind), False
        folder = Path(chosen).expanduser()
        if str(folder) == self._live_folder() or run_folder_in_use(folder):
            raise RunOptionsError(f"{folder}: another training run is writing to this folder; wait for it to "
                                  "finish or choose another output folder")
        overwrite = holds_a_run(folder)
        if overwrite and not self.form.overwrite.isChecked():
            raise RunOptionsError(f"{folder} already holds a run: select it and Resume, tick \"Overwrite an old "
                                  "run\" to delete its checkpoints and start afresh, or choose an empty folder")
        if overwrite:
            if not self.confirm("Overwrite the run?", f"Delete the checkpoints, curves and log of the run in "
                                f"{folder} and start a new run there?"):
                return None, True
            clear_run_files(folder)
            self.form.overwrite.setChecked(False)  # one confirmed overwrite, not a standing order
        folder.mkdir(parents=True, exist_ok=True)
        if folder.resolve().parent != runs_root().resolve():
            # Runs outside the runs folder are remembered so the list still finds them.
            self.settings.setValue(EXTERNAL_RUNS_KEY, [*dict.fromkeys([*self._external_runs(), str(folder)])])
        return folder, overwrite

    def resume_run(self) -> None:
        record = self.run_list.current_record()
        if self.is_running() or record is None or not record.can_resume():
            return
        if run_folder_in_use(record.folder):  # e.g. the same run resumed from a terminal
            self.status.show_report("Cannot resume", f"{record.folder}: another training run is writing to this "
                                    "folder; wait for it to finish")
            return
        resumed = resumed_record(record, sys.executable)
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        # The curves so far are read first, so the resumed run's continue them.
        self.files.drop(str(record.folder))
        self.files.load(str(record.folder), lambda files: self._launch(resumed, files))

    def _launch(self, record: RunRecord, files: RunFiles | None) -> None:
        folder = str(record.folder)
        self.status.hide_report()
        self.files.drop(folder)
        self.log.clear()
        self._live_log.clear()
        self._log_folder = folder
        self.probes.set_history(folder, files.probe if files else [])
        if record.kind != ModelKind.VQA and self.probe_panel.probe is not None:
            self.probe_panel.show_status("The probe asks VQA runs only: this is a captioning run.")
        self.process.start(record, files.curves if files else None)
        self._append_log([f"[vqadesk] {' '.join(record.command)}", f"[vqadesk] in {record.folder}"])
        self.refresh_runs()
        self.run_list.select(record.folder)
        self._display_soon()
        self._update_buttons()

    def stop_run(self) -> None:
        self.process.stop()
        self._update_buttons()

    def delete_current_run(self) -> None:
        """Trash the selected run's folder (asked first); a run elsewhere only leaves the list."""
        record = self.run_list.current_record()
        if record is None or str(record.folder) == self._live_folder():
            return
        outcome = delete_run(record, runs_root(), self.confirm)
        if outcome.failed:
            self.status.show_report("Cannot delete", outcome.message)
        if not outcome.done:
            self.refresh_runs()  # a half-deleted folder may have lost its run.json
            return
        folder = str(record.folder)
        if not is_managed(record.folder, runs_root()):
            self.settings.setValue(EXTERNAL_RUNS_KEY, [f for f in self._external_runs() if f != folder])
        self.files.drop(folder)
        self.probes.forget(folder)
        self.status.hide_report()
        self.refresh_runs()
        self.folder_label.setText(f"<small>{_escape(outcome.message)}</small>")

    def _confirm_dialog(self, title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        answer = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    # -- the live run --------------------------------------------------------------------------

    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        record = self.process.record
        if record is None:
            return
        if kind == "checkpoint" and event.get("name") == "last" and record.kind == ModelKind.VQA:
            self.probes.ask(str(record.folder), event, self.process.curves.steps_per_epoch)
        if kind in ("start", "epoch", "done", "error"):
            self.run_list.update_record(record, record.folder)
        if kind == "checkpoint" and event.get("name") == "best":
            self._update_buttons()  # a running run's best model can be used already
        # A burst of events (a fast GPU reports every step) costs one redraw.
        if not self._redraw.isActive():
            self._redraw.start()

    def _redraw_live(self) -> None:
        if self._live_folder() in self._shown:
            self.plots.refresh()
        record = self.process.record
        self.status.show_progress(self.process.curves, running=self.is_running(),
                                  stopping=self.process.stop_requested, label=record.label if record else "")

    def _append_log(self, lines: list[str]) -> None:
        self._live_log.extend(lines)
        if self.process.record is not None and str(self.process.record.folder) == self._log_folder:
            self.log.appendPlainText("\n".join(lines))

    def _on_finished(self, record: RunRecord | None) -> None:
        self._redraw.stop()
        if record is not None:
            folder = str(record.folder)
            self.files.put(folder, RunFiles(self.process.curves, self.probes.history(folder), list(self._live_log)))
            self.probes.run_finished(folder)
        self._redraw_live()
        self.plots.refresh()
        self.status.show_final(record.status if record else "idle")
        if record is not None and record.status in FAILED:
            self.status.show_report(f"Run {record.status}", record.error or "", record.stderr_tail)
        self.refresh_runs()
        self._update_buttons()

    # -- runs, display -------------------------------------------------------------------------

    def refresh_runs(self) -> None:
        """Re-read the runs list (only each run's small run.json)."""
        records = list_runs(runs_root(), extra_folders=self._external_runs())
        live = self.process.record.folder if self.is_running() and self.process.record else None
        if live is not None:  # the live record in memory is newer than its run.json between saves
            records = [self.process.record if r.folder == live else r for r in records]
        self.run_list.set_runs(records, live)
        self._update_buttons()

    def _external_runs(self) -> tuple[str, ...]:
        value = self.settings.value(EXTERNAL_RUNS_KEY)
        # An INI file gives a one-item list back as a plain string.
        return (value,) if isinstance(value, str) else tuple(str(v) for v in value or ())

    def _live_folder(self) -> str | None:
        return str(self.process.record.folder) if self.is_running() and self.process.record else None

    def _on_current_run(self) -> None:
        record = self.run_list.current_record()
        if record is not None and not self.is_running():
            if record.status in FAILED:
                self.status.show_report(f"Run {record.status}", record.error or "", record.stderr_tail)
            else:
                self.status.hide_report()
        self._display_soon()
        self._update_buttons()

    def _on_files_loaded(self, folder: str) -> None:
        files = self.files.get(folder)
        if files is not None and folder != self._live_folder():
            self.probes.set_history(folder, files.probe)
        self._update_display()

    def _display_soon(self) -> None:
        self._display.start()

    def _update_display(self) -> None:
        """Show the checked runs (two or more) or else the current one; read missing files first."""
        checked = self.run_list.checked_records()
        current = self.run_list.current_record()
        records = checked if len(checked) >= 2 else ([current] if current else [])
        runs, shown = [], []
        for record in records:
            folder = str(record.folder)
            curves = self._curves_of(folder)
            if curves is None:
                self.files.load(folder)  # shown when it arrives
                continue
            runs.append((record.label, record.kind, curves))
            shown.append(folder)
        if shown != self._shown:
            self._shown = shown
            self.plots.show_runs(runs)
        else:
            self.plots.refresh()
        if not runs:
            self.plots.set_kind_hint(self.form.kind)
        self._show_current_details(current)

    def _curves_of(self, folder: str) -> RunCurves | None:
        if folder == self._live_folder():
            return self.process.curves
        files = self.files.get(folder)
        return files.curves if files is not None else None

    def _show_current_details(self, current: RunRecord | None) -> None:
        folder = str(current.folder) if current else None
        if folder is not None and folder != self._log_folder:
            files = self.files.get(folder)
            lines = list(self._live_log) if folder == self._live_folder() else files.log if files else None
            if lines is not None:  # else: still loading, shown when it arrives
                self._log_folder = folder
                self.log.setPlainText("\n".join(lines))
                self.log.moveCursor(QTextCursor.MoveOperation.End)
        self.probes.show_run(folder)

    # -- buttons -------------------------------------------------------------------------------

    def _on_form_changed(self) -> None:
        if not self._shown:
            self.plots.set_kind_hint(self.form.kind)

    def _update_buttons(self) -> None:
        running = self.is_running()
        record = self.run_list.current_record()
        problem = self.form.data_problem()
        self.start_button.setEnabled(not running and problem is None)
        self.start_button.setToolTip(f"Cannot start: {problem}" if problem and not running
                                     else "Start a new run with these options")
        self.stop_button.setEnabled(running and not self.process.stop_requested)
        can_resume = not running and record is not None and record.can_resume()
        self.resume_button.setEnabled(can_resume)
        self.resume_button.setToolTip(
            f"Continue {record.name} from its `last` checkpoint" if can_resume
            else "Continue the selected run from its `last` checkpoint (select a stopped run that has one)")
        self.use_button.setEnabled(record is not None and record.has_best())
        self.delete_button.setEnabled(record is not None and str(record.folder) != self._live_folder())
        self.folder_label.setText(f"<small>{_escape(str(record.folder))}</small>" if record else
                                  f"<small>Runs are kept in {_escape(str(runs_root()))}</small>")

    def _use_model(self) -> None:
        record = self.run_list.current_record()
        if record is not None and record.has_best():
            self.sig_use_model.emit(record.kind, str(record.best_checkpoint))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

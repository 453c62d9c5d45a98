"""The Batch tab: caption or question many photos, watch the job, review, edit and export the results.

Top to bottom: the form (``setup_form.py``: photos, task, model, options,
results file), the buttons (Start, Pause/Resume, Cancel, and *Start afresh*
when the results file holds another job), a progress bar with photos/s and
the time left, and the results table (``results_model.py``) with its filter
and Export button (``exporter.py``). The job itself is ``runner.py``'s: the
engine's ``BatchJob`` in a job thread, one chunk at a time through the
inference process, so the window stays responsive and the job resumes
after a pause, a cancel, a crash or from the command line.

Selecting a row asks the window to show the photo in the viewer
(``sig_show_photo``), with the attention map of the prediction when this
session made it (maps are not kept in the progress file).
"""

from __future__ import annotations

import html
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QItemSelection, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.batch.exports import default_format
from vqadesk.engine.torch_free.batch.job import PhotoFailed, Progress, Started
from vqadesk.engine.torch_free.batch.photos import check_photo_folder
from vqadesk.engine.torch_free.batch.progress import progress_path
from vqadesk.engine.torch_free.batch.records import CAPTIONS, BatchResults, BatchSettings, FailedPhoto
from vqadesk.engine.torch_free.batch_app_jobs import ChunkReply, model_in_use
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.batch import runner as states
from vqadesk.gui.batch.exporter import BatchExporter
from vqadesk.gui.batch.results_model import FILE, RESULT_ROLE, THUMB, THUMBNAIL_SIZE, ResultsFilter, ResultsModel
from vqadesk.gui.batch.runner import BatchRunner
from vqadesk.gui.batch.setup_form import BatchSetupForm, command_line
from vqadesk.gui.batch.sources import FOLDER
from vqadesk.gui.style import message_style
from vqadesk.text.counts import plural

MAX_HEATMAPS = 5000  # attention maps kept for the rows made this session (a few KB each)


def format_duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class BatchPanel(QWidget):
    sig_show_photo = Signal(object, object, str, str)  # photo, (map, region) or None, the line above it, the map's
    sig_use_model = Signal(str, str)  # kind, key: the form's model list picked another model

    def __init__(self, inference: InferenceClient, parent: QWidget | None = None):
        super().__init__(parent)
        self.inference = inference
        self.settings: BatchSettings | None = None  # the job last started
        self.out: Path | None = None
        self.heatmaps: OrderedDict[tuple[str, str | None], tuple] = OrderedDict()
        self._failed_this_run = 0

        self.form = BatchSetupForm()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Caption (or question) the photos; a job started before resumes where it stopped")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop now; the photos finished so far are kept, and Start resumes")
        self.restart_button = QPushButton("Start afresh")
        self.restart_button.setToolTip("Empty the results file's job and start again with these settings")
        self.restart_button.hide()
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.cancel_button, self.restart_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setFormat("No job running")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Choose the photos and what to ask of them, then Start.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter the rows")
        self.filter_edit.setToolTip("Every word must appear in the row's file, caption, question or answer")
        self.filter_edit.setClearButtonEnabled(True)
        self.count_label = QLabel("No results yet")
        self.exporter = BatchExporter(self._after_writes, self)
        self.export_button = QPushButton("Export")
        self.export_button.setToolTip("Save the results (JSON, JSON Lines, CSV, COCO), or a .txt beside each photo")
        self.export_button.setMenu(self.exporter.menu(self))
        self.export_button.setEnabled(False)
        results_row = QHBoxLayout()
        results_row.addWidget(self.filter_edit, 1)
        results_row.addWidget(self.count_label)
        results_row.addWidget(self.export_button)

        self.model = ResultsModel(self)
        self.proxy = ResultsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.table.setWordWrap(True)  # a caption on two lines, then cut with "…"
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIZE + 6)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the job's order first
        self.table.setSortingEnabled(True)
        self._layout_columns()
        self.empty_hint = QLabel("The results appear here as the photos are done.\n"
                                 "Select a row to see its photo; double-click a caption or an answer to edit it.")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setEnabled(False)  # drawn in the palette's quieter, disabled text colour
        QVBoxLayout(self.table.viewport()).addWidget(self.empty_hint)  # centred over the empty table

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(results_row)
        layout.addWidget(self.table, 1)

        self.runner = BatchRunner(inference, self)
        self._filter_timer = QTimer(self, singleShot=True, interval=200)  # a pause in typing, not every key
        self._connect()
        self._show_state(states.IDLE)

    def _connect(self) -> None:
        self.start_button.clicked.connect(lambda: self.start())
        self.restart_button.clicked.connect(lambda: self.start(restart=True))
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.form.sig_use_model.connect(self.sig_use_model)
        self.form.sig_changed.connect(self._form_changed)
        self.runner.sig_state.connect(self._show_state)
        self.runner.sig_opened.connect(self._opened)
        self.runner.sig_results.connect(self._add_results)
        self.runner.sig_events.connect(self._events)
        self.runner.sig_stopped.connect(self._stopped)
        self.runner.sig_mismatch.connect(self._mismatch)
        self.runner.sig_edit_failed.connect(lambda message: self._say(f"The edit was not kept: {message}", "error"))
        self.model.sig_edited.connect(self._edited)
        self.exporter.sig_said.connect(self._say)
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.table.selectionModel().selectionChanged.connect(self._row_selected)
        for signal in (self.model.rowsInserted, self.model.modelReset, self.model.dataChanged,
                       self.proxy.rowsInserted, self.proxy.layoutChanged):
            signal.connect(self._count)  # a failed row replaced on a rerun changes the counts too

    # -- starting ----------------------------------------------------------------------------------------

    def start(self, *, restart: bool = False) -> bool:
        """Start (or resume) the job the form describes; False, with the reason shown, when it cannot."""
        if self.runner.state in states.ACTIVE:
            return False
        try:
            source = self.form.source()
            if source is None:
                raise VqadeskError("Choose a folder of photos first (Choose…, File → Caption folder…, "
                                   "or drop a folder with Shift held)")
            if source.kind == FOLDER:
                check_photo_folder(source.root, "the folder")
            model = self.form.active_model()
            if model is None:
                raise VqadeskError(f"No {self.form.model_kind.noun} is loaded: pick one in the Model list")
            settings = self.form.settings(source)
            out = self.form.out_path()
            if out is None:
                raise VqadeskError("Name the results file first (Results)")
        except VqadeskError as exc:
            self._say(str(exc), "error")
            return False
        self.settings, self.out = settings, out
        self.restart_button.hide()
        self.model.reset(settings.kind)
        self._layout_columns()
        self.heatmaps.clear()
        self._failed_this_run = 0
        self.exporter.kind = settings.kind
        self.exporter.progress_file = progress_path(out)
        self.exporter.command = command_line(source, settings, out)
        self.progress.setFormat("%v of %m photos")
        self.progress.setRange(0, 0)  # counting the photos
        self._say(f"Counting the photos of {source.describe()}…")
        self.runner.start(source, settings, progress_path(out),
                          model_in_use(self.inference.models, settings.kind), restart=restart)
        return True

    def _opened(self, started: Started, earlier: BatchResults) -> None:
        total = started.total or 0
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(started.already_done, total))
        self.model.add([*earlier.rows, *earlier.failed])
        resumed = f" ({started.already_done:,} done in an earlier run)" if started.already_done else ""
        self._say(f"{plural(total, 'photo')}{resumed}; {self._doing()}…")

    # -- the running job ----------------------------------------------------------------------------------

    def _add_results(self, reply: ChunkReply) -> None:
        self.model.add(reply.results)
        for key, heatmap in reply.heatmaps.items():
            self.heatmaps[key] = heatmap
        while len(self.heatmaps) > MAX_HEATMAPS:
            self.heatmaps.popitem(last=False)

    def _events(self, events: list) -> None:
        for event in events:
            if isinstance(event, PhotoFailed):
                self._failed_this_run += 1
            elif isinstance(event, Progress):
                self._show_progress(event)

    def _show_progress(self, event: Progress) -> None:
        if event.total:
            self.progress.setRange(0, event.total)
        self.progress.setValue(event.done)
        parts = [f"{event.done:,} of {plural(event.total, 'photo')}" if event.total else plural(event.done, "photo"),
                 f"{event.photos_per_s:.1f} photos/s"]
        if event.eta_s is not None:
            parts.append(f"about {format_duration(event.eta_s)} left")
        if self._failed_this_run:
            parts.append(f"{self._failed_this_run} failed")
        state = self.runner.state
        lead = {states.PAUSING: "Pausing after this chunk · ", states.PAUSED: "Paused · "}.get(state, "")
        self._say(lead + " · ".join(parts))

    def _pause_or_resume(self) -> None:
        if self.runner.state == states.RUNNING:
            self.runner.pause()
        else:
            self.runner.resume()

    def _stopped(self, state: str, message: str) -> None:
        if state != states.FINISHED and self.exporter.command is not None:
            message += " The command line goes on from here too (Export → Copy the command line)."
        self._say(message, "error" if state == states.STOPPED else "")
        if state == states.FINISHED and self.settings is not None and self.out is not None:
            # The results file, as the command line writes it at the end (its format by its suffix).
            self.exporter.export(self.out, default_format(self.settings, None, self.out), lead=message + " ")

    def _mismatch(self, line: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        line = line.replace("--restart starts afresh", "Start afresh empties it and starts again")
        self._say(f"{line}, or choose another results file to keep it.", "error")
        self.restart_button.show()

    def _show_state(self, state: str) -> None:
        active = state in states.ACTIVE
        self.form.setEnabled(not active)
        self.start_button.setEnabled(not active)
        self.restart_button.setEnabled(not active)
        self.pause_button.setEnabled(state in (states.RUNNING, states.PAUSING, states.PAUSED))
        resume = state in (states.PAUSING, states.PAUSED)
        self.pause_button.setText("Resume" if resume else "Pause")
        self.pause_button.setToolTip("Go on with the next chunk" if resume
                                     else "Send no next chunk: the one being predicted finishes first")
        self.cancel_button.setEnabled(active)
        self.export_button.setEnabled(self.exporter.progress_file is not None and state != states.STARTING)
        if state == states.PAUSED:
            self._say(f"Paused: {self.progress.value():,} of {plural(self.progress.maximum(), 'photo')} done. "
                      "Resume goes on; the results so far can be reviewed and exported.")
        elif state == states.PAUSING:
            self._say("Pausing: the chunk being predicted finishes first…")

    # -- the results ---------------------------------------------------------------------------------------

    def _edited(self, edit) -> None:
        self.runner.edit(edit)
        self._count()

    def _after_writes(self, then) -> None:
        self.runner.after_writes(then)

    def _apply_filter(self) -> None:
        self.proxy.set_words(self.filter_edit.text())
        self._count()

    def _count(self, *_args) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.empty_hint.setVisible(total == 0)
        if total == 0:
            self.count_label.setText("No results yet")
            return
        failed, edited = self.model.failed_count(), self.model.edited_count()
        extra = ", ".join(part for part in (f"{failed:,} failed" if failed else "",
                                             f"{edited:,} edited" if edited else "") if part)
        rows = f"{shown:,} of {plural(total, 'row')}" if shown != total else plural(total, "row")
        self.count_label.setText(f"{rows} ({extra})" if extra else rows)

    def _row_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        result = indexes[0].data(RESULT_ROLE)
        if result is None or result.path is None:
            return
        key = html.escape(result.key)
        if isinstance(result, FailedPhoto):
            self.sig_show_photo.emit(result.path, None, f"<b>{key}</b> · could not be used: "
                                                        f"{html.escape(result.reason)}", "")
            return
        question = getattr(result, "question", None)
        if self.model.kind == CAPTIONS:
            text, label = result.caption, "the caption (the mean of its words' maps)"
        else:
            text = f"“{question}” → {result.answer_text}"
            label = f"VQA: “{question}” → {result.answer} ({result.score * 100:.0f}%)"
        edited = " (edited)" if result.edit is not None else ""
        self.sig_show_photo.emit(result.path, self.heatmaps.get((result.key, question)),
                                 f"<b>{key}</b> · {html.escape(text)}{edited}", label)

    def select_row(self, row: int) -> None:
        """Select the table's ``row`` (as shown: sorted and filtered)."""
        self.table.selectRow(row)

    def _layout_columns(self) -> None:
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(24)
        header.setStretchLastSection(False)
        count = self.model.columnCount()
        for column in range(count):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(THUMB, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(THUMB, THUMBNAIL_SIZE + 8)
        self.table.setColumnWidth(FILE, 110)
        header.setSectionResizeMode(self.model.text_column, QHeaderView.ResizeMode.Stretch)
        if self.model.kind != CAPTIONS:
            self.table.setColumnWidth(2, 120)
        self.table.setColumnWidth(self.model.score_column, 56)

    # -- what the window tells the panel --------------------------------------------------------------------

    def _form_changed(self) -> None:
        if self.runner.state not in states.ACTIVE:
            self.restart_button.hide()
            if self.model.rowCount() == 0 and self.model.kind != self.form.kind:
                self.model.reset(self.form.kind)  # the empty table's columns follow the task chosen
                self._layout_columns()

    def _doing(self) -> str:
        return "captioning" if self.form.kind == CAPTIONS else "asking"

    def _say(self, text: str, kind: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(message_style(kind) if kind else "")

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.exporter.shutdown()
        self.model.shutdown()

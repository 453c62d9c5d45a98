"""The Evaluate tab: score a model on a split, keep the result, see where it is strong and weak.

Left: the run form (``RunForm``: model, split, subset; Evaluate / Cancel, the
progress bar with its ETA) above the list of finished evaluations
(``ResultsList``) and its buttons (Delete…, Export HTML…, Export CSV…: written by
the worker process). Right:
the Summary (``SummaryView``), the Mistakes browser and Compare.

The evaluation runs as ``python -m training.evaluate_model`` in a child process
(``EvaluationProcess``), so the window never imports torch nor waits for the
model. Opening an evaluation reads its rows and builds their columns
(``RowsTable``) in a pool thread; the last few opened stay in memory
(``KEEP_OPENED``), so going back to one is instant. A worker process without
models reads the maps and writes the exports.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.evaluations import delete_evaluation, evaluations_root, list_evaluations
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.evaluate.compare_view import CompareView
from vqadesk.gui.evaluate.exports import export_job, suggested_name
from vqadesk.gui.evaluate.loading import forget_maps, load_evaluation
from vqadesk.gui.evaluate.mistakes import MistakesBrowser
from vqadesk.gui.evaluate.results_list import ResultsList
from vqadesk.gui.evaluate.run_form import RunForm
from vqadesk.gui.evaluate.run_process import EvaluationProcess
from vqadesk.gui.evaluate.summary_view import SummaryView
from vqadesk.gui.steady_tabs import SteadyTabWidget

KEEP_OPENED = 4
ETA_REFRESH_MS = 1000
VIEWS = ("Summary", "Mistakes", "Compare")
# (title, text) -> the user's yes; the tab asks with a dialog, tests answer directly.
Confirm = Callable[[str, str], bool]


class EvaluateTab(QWidget):
    sig_status = Signal(str)  # a line for the window's status bar
    sig_opened = Signal(str)  # an evaluation is on screen (its folder)

    def __init__(self, parent: QWidget | None = None, *, root: Path | None = None):
        super().__init__(parent)
        self.root = root  # None: evaluations_root() (the user data folder's)
        self.tasks = BackgroundTasks(self, max_threads=2)
        self.process = EvaluationProcess(self)
        self.confirm: Confirm = self._confirm_dialog
        self.current: tuple | None = None  # (evaluation, table) on screen
        self._opened: OrderedDict[str, tuple] = OrderedDict()
        self._loading: dict[str, list[tuple[Callable, Callable]]] = {}
        self._wanted: str | None = None  # the folder the user asked to see last
        self._closed = False

        self.form = RunForm()
        self.results = ResultsList()
        self.delete_button = QPushButton("Delete…")
        self.html_button = QPushButton("Export HTML…")
        self.csv_button = QPushButton("Export CSV…")
        self.html_button.setToolTip("A report in one HTML file: tables, plots, a sample of mistakes with their "
                                    "photos and maps")
        self.csv_button.setToolTip("One row per question (or image): what the model said, the score, the accuracy")
        self.list_note = QLabel("")
        self.list_note.setWordWrap(True)
        self.summary = SummaryView()
        # A worker process without models reads the stored maps (loading.read_map) and writes the exports
        # (exports.export_job), started on first use.
        self.maps = InferenceClient(parent=self, models=False)
        self._maps_started = False
        self.mistakes = MistakesBrowser(self.tasks, self.maps, "evaluate-map")
        self.compare = CompareView(self.tasks, self.load, self.maps)
        self.views = SteadyTabWidget()
        for view, title in zip((self.summary, self.mistakes, self.compare), VIEWS):
            self.views.addTab(view, title)
        self._build_layout()

        self._eta_timer = QTimer(self, interval=ETA_REFRESH_MS)
        self._eta_timer.timeout.connect(self._show_progress)
        self.form.sig_evaluate.connect(self.start_evaluation)
        self.form.sig_cancel.connect(self.process.cancel)
        self.process.on_event.append(lambda _event: self._show_progress())
        self.process.on_finished.append(self._finished)
        self.results.sig_open.connect(self.open_folder)
        self.results.itemSelectionChanged.connect(self._update_buttons)
        self.delete_button.clicked.connect(self.delete_current)
        self.html_button.clicked.connect(lambda: self.export("html"))
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self._update_buttons()

    def _build_layout(self) -> None:
        run_box = QGroupBox("Evaluate a model")
        QVBoxLayout(run_box).addWidget(self.form)
        list_box = QGroupBox("Evaluations")
        list_column = QVBoxLayout(list_box)
        list_column.addWidget(self.results, 1)
        list_column.addWidget(self.list_note)
        buttons = QHBoxLayout()
        for button in (self.delete_button, self.html_button, self.csv_button):
            buttons.addWidget(button)
        list_column.addLayout(buttons)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(run_box)
        left_column.addWidget(list_box, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([380, 900])
        splitter.setChildrenCollapsible(False)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(splitter)

    # -- the window's state --------------------------------------------------------------------------

    def set_dataset(self, root: str | None, split_names: list[str], shown: str | None = None) -> None:
        self.form.set_dataset(root, split_names, shown)

    def set_models(self, entries: list[tuple[str, str, str]]) -> None:
        self.form.set_models(entries)

    def is_running(self) -> bool:
        return self.process.is_running()

    def shutdown(self) -> None:
        self._closed = True  # pool results arriving later are dropped: the widgets may be deleted by then
        self.mistakes.stop()
        self.compare.stop()
        self._eta_timer.stop()
        self.process.shutdown()
        if self._maps_started:
            self.maps.shutdown(3000)
        self.tasks.shutdown(3000)

    # -- the list --------------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Read the evaluations' manifests in a pool thread and show them."""
        self.tasks.start(list_evaluations, self.root, on_done=lambda entries: self._listed(entries, select),
                         on_fail=self._note)

    def _note(self, message: str) -> None:
        if not self._closed:
            self.list_note.setText(message)

    def _listed(self, entries, select: str | None) -> None:
        if self._closed:
            return
        damaged = sum(entry.damaged for entry in entries)
        self.list_note.setText("" if entries else "No evaluations yet: choose a model and a split above, then "
                               "Evaluate.")
        if damaged:
            self.list_note.setText(f"{damaged} damaged folder{'s' if damaged > 1 else ''} (greyed; the tooltip says "
                                   "why): Delete… removes it")
        self.results.set_entries(entries, select)
        if self.results.current_path() is None and self.results.rowCount():
            self.results.selectRow(0)  # the newest is opened: the tab never shows an empty page when it has some
        self.compare.set_entries(entries)
        self._update_buttons()

    # -- opening ----------------------------------------------------------------------------------------

    def load(self, path: str, on_done: Callable[[tuple], None], on_fail: Callable[[str], None]) -> None:
        """``on_done((evaluation, table))`` at once when opened lately, else once read in a pool thread."""
        if path in self._opened:
            self._opened.move_to_end(path)
            on_done(self._opened[path])
            return
        waiting = self._loading.setdefault(path, [])
        waiting.append((on_done, on_fail))
        if len(waiting) == 1:
            self.tasks.start(load_evaluation, path, on_done=lambda result: self._loaded(path, result),
                             on_fail=lambda message: self._load_failed(path, message))

    def _loaded(self, path: str, result: tuple) -> None:
        if self._closed:
            return
        self._opened[path] = result
        while len(self._opened) > KEEP_OPENED:
            self._opened.popitem(last=False)
        for on_done, _on_fail in self._loading.pop(path, []):
            on_done(result)

    def _load_failed(self, path: str, message: str) -> None:
        if self._closed:
            return
        for _on_done, on_fail in self._loading.pop(path, []):
            on_fail(message)

    def open_folder(self, path: str) -> None:
        self._wanted = path
        if path not in self._opened:
            self.summary.headline.setText(f"Opening {Path(path).name}…")
        self.load(path, lambda result, p=path: self._show(p, result), self._open_failed)

    def _show(self, path: str, result: tuple) -> None:
        if path != self._wanted:
            return  # the user has moved on
        self.current = result
        evaluation, table = result
        if evaluation.manifest.has_maps:
            self._start_worker()
        self.summary.show_evaluation(evaluation, table)
        self._update_buttons()
        # The mistakes browser on the next turn of the event loop: the summary paints first, and no turn
        # does both (40k rows: about 50 ms each on the 2-core test machine).
        QTimer.singleShot(0, lambda: self._show_rest(path, result))

    def _show_rest(self, path: str, result: tuple) -> None:
        if self.current is not result:
            return  # another one was opened meanwhile
        self.mistakes.set_evaluation(*result)
        self.compare.choose(path)
        self.sig_opened.emit(path)

    def _open_failed(self, message: str) -> None:
        self.current = None
        self.summary.show_evaluation(None, None)
        self.summary.headline.setText(message)
        self.mistakes.set_evaluation(None, None)
        self._update_buttons()

    # -- running ------------------------------------------------------------------------------------------

    def start_evaluation(self) -> None:
        if self.process.is_running():
            return
        out_root = str(self.root) if self.root is not None else str(evaluations_root())
        try:
            Path(out_root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.form.show_status(f"{out_root}: cannot be made ({exc.strerror or exc})", "error")
            return
        self.form.set_running(True)
        self.form.show_status("Starting: loading the model and the split…")
        self.process.start(self.form.arguments(out_root), working_directory=out_root)
        self._eta_timer.start()

    def _show_progress(self) -> None:
        progress = self.process.progress
        if self.process.is_running():
            self.form.show_progress(progress.done, progress.total, progress.text())

    def _finished(self, folder: str | None, error: str | None) -> None:
        self._eta_timer.stop()
        self.form.set_running(False)
        if error == "cancelled":
            self.form.show_status("Cancelled: nothing was kept.")
        elif error:
            self.form.show_status(error, "error")
        else:
            self.form.show_status(f"Done: {Path(folder).name}")
            self.sig_status.emit(f"Evaluation finished: {Path(folder).name}")
            self.views.setCurrentIndex(0)
            self._wanted = folder
        self.refresh(select=folder)

    # -- delete and export -----------------------------------------------------------------------------

    def delete_current(self) -> None:
        entry = self.results.current_entry()
        if entry is None:
            return
        name = entry.manifest.model_label + " on " + entry.manifest.split if entry.manifest else entry.path.name
        if not self.confirm("Delete evaluation", f"Delete the evaluation of {name}?\n\n{entry.path}\n\n"
                                                  "Its results, metrics and maps are removed for good."):
            return
        path = str(entry.path)
        self._opened.pop(path, None)
        if self.current is not None and str(self.current[0].path) == path:
            self._open_failed("Deleted.")
        def delete(_none=None) -> None:
            self.tasks.start(delete_evaluation, path, on_done=lambda _none: self._closed or self.refresh(),
                             on_fail=self._note)

        if self._maps_started:  # the worker lets go of the maps file first (Windows cannot delete an open file)
            self.maps.submit("evaluate-forget", forget_maps, path, on_done=delete, on_error=lambda _message: delete())
        else:
            delete()

    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def export(self, kind: str, target: str | None = None) -> None:
        """Write the shown evaluation's HTML report or CSV to ``target`` (asked when None), in the worker process."""
        if self.current is None:
            return
        evaluation = self.current[0]
        if target is None:
            pattern = "HTML report (*.html)" if kind == "html" else "CSV (*.csv)"
            target, _filter = QFileDialog.getSaveFileName(self, "Export", suggested_name(evaluation, kind), pattern)
            if not target:
                return
        self.list_note.setText(f"Writing {Path(target).name}…")
        self._start_worker()
        self.maps.submit(f"evaluate-export-{kind}", export_job, str(evaluation.path), kind, target,
                         on_done=lambda _r, t=target: self._exported(t), on_error=self._note)

    def _start_worker(self) -> None:
        if not self._maps_started:
            self._maps_started = True
            self.maps.start()

    def _exported(self, target: str) -> None:
        if self._closed:
            return
        self.list_note.setText(f"Wrote {target}")
        self.sig_status.emit(f"Wrote {target}")

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(self.results.current_entry() is not None)
        for button in (self.html_button, self.csv_button):
            button.setEnabled(self.current is not None)

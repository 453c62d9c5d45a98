"""The Evaluate tab's Compare view: two evaluations of the same split, side by side.

Pick A and B (B lists only evaluations of A's dataset, split and kind); the
difference comes from eval-core's ``compare_evaluations`` over the two
``metrics.json`` (the same Qt-free code as ``vqadesk compare-results``), run in
a pool thread. It shows the per-type table (A, B, B − A; sortable, gains
green, losses red) and two lists: right in A but wrong in B, and the reverse
(for captions: better CIDEr-D in A, in B), each browsable in a mistakes
browser of its own over the evaluation that got them wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.evaluations import EvaluationEntry
from vqadesk.engine.torch_free.evaluations.compare import compare_evaluations
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.evaluate.mistakes import MistakesBrowser
from vqadesk.gui.evaluate.results_list import SORT_ROLE, _Item, compact, entry_label, same_split

GAIN, LOSS = QColor("#009E73"), QColor("#D55E00")
Loader = Callable[[str, Callable[[object], None], Callable[[str], None]], None]  # path, on_done((ev, table)), on_fail


def compare(a, b):
    """Pool thread: the diff of two opened evaluations (``EvaluationError`` when they do not match)."""
    return compare_evaluations(a, b)


class CompareView(QWidget):
    def __init__(self, tasks: BackgroundTasks, load: Loader, maps: InferenceClient | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks = tasks
        self.load = load
        self.entries: list[EvaluationEntry] = []
        self.opened: dict[str, tuple] = {}  # "a"/"b" -> (evaluation, table)
        self.diff = None
        self._stopped = False
        self.a_box, self.b_box = QComboBox(), QComboBox()
        for box in (self.a_box, self.b_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(20)
        self.compare_button = QPushButton("Compare")
        self.status = QLabel("Choose two evaluations of the same split.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(("Group", "Type", "Questions", "A", "B", "B − A"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        compact(self.table)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.a_only_button = QPushButton("Right in A, wrong in B")
        self.b_only_button = QPushButton("Right in B, wrong in A")
        for button in (self.a_only_button, self.b_only_button):
            button.setCheckable(True)
            button.setEnabled(False)
        self.browser = MistakesBrowser(tasks, maps, "evaluate-map-compare")

        choosers = QFormLayout()
        choosers.setContentsMargins(0, 0, 0, 0)
        choosers.addRow("A", self.a_box)
        b_row = QHBoxLayout()
        b_row.addWidget(self.b_box, 1)
        b_row.addWidget(self.compare_button)
        choosers.addRow("B", b_row)
        lists = QHBoxLayout()
        lists.addWidget(self.a_only_button)
        lists.addWidget(self.b_only_button)
        lists.addStretch(1)
        top = QWidget()
        top_column = QVBoxLayout(top)
        top_column.setContentsMargins(0, 0, 0, 0)
        top_column.addLayout(choosers)
        top_column.addWidget(self.status)
        top_column.addWidget(self.table, 1)
        top_column.addLayout(lists)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.browser)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(splitter)

        self.a_box.currentIndexChanged.connect(lambda _index: self._fill_b())
        self.b_box.currentIndexChanged.connect(lambda _index: self._update_button())
        self.compare_button.clicked.connect(self.run_compare)
        self.a_only_button.clicked.connect(lambda: self.show_list("a"))
        self.b_only_button.clicked.connect(lambda: self.show_list("b"))
        self._update_button()

    def stop(self) -> None:
        """The tab is closing: results still on their way are dropped."""
        self._stopped = True
        self.browser.stop()

    def set_entries(self, entries: list[EvaluationEntry]) -> None:
        current = self.a_box.currentData()
        self.entries = [entry for entry in entries if entry.manifest is not None]
        self.a_box.blockSignals(True)
        self.a_box.clear()
        for entry in self.entries:
            self.a_box.addItem(entry_label(entry), str(entry.path))
        index = self.a_box.findData(current)
        self.a_box.setCurrentIndex(max(index, 0))
        self.a_box.blockSignals(False)
        self._fill_b()

    def choose(self, a: str, b: str | None = None) -> None:
        """Make ``a`` (and ``b``) the chosen evaluations (folder paths)."""
        self.a_box.setCurrentIndex(max(self.a_box.findData(a), 0))
        if b is not None:
            self.b_box.setCurrentIndex(max(self.b_box.findData(b), 0))

    def _entry(self, path: str | None) -> EvaluationEntry | None:
        return next((entry for entry in self.entries if str(entry.path) == path), None)

    def _fill_b(self) -> None:
        a = self._entry(self.a_box.currentData())
        current = self.b_box.currentData()
        self.b_box.blockSignals(True)
        self.b_box.clear()
        for entry in self.entries:
            if a is not None and entry is not a and same_split(a, entry):
                self.b_box.addItem(entry_label(entry), str(entry.path))
        index = self.b_box.findData(current)
        self.b_box.setCurrentIndex(max(index, 0))
        self.b_box.blockSignals(False)
        if a is not None and self.b_box.count() == 0:
            self.status.setText(f"No other evaluation of {a.manifest.split} to compare with: evaluate another model "
                                "on the same split.")
        self._update_button()

    def _update_button(self) -> None:
        self.compare_button.setEnabled(self.a_box.currentData() is not None and self.b_box.currentData() is not None)

    # -- comparing -----------------------------------------------------------------------------------

    def run_compare(self) -> None:
        paths = {"a": self.a_box.currentData(), "b": self.b_box.currentData()}
        if None in paths.values():
            return
        self.opened = {}
        self.status.setText("Comparing…")
        self.compare_button.setEnabled(False)
        for side, path in paths.items():
            self.load(path, lambda result, s=side: self._opened(s, result), self._failed)

    def _opened(self, side: str, result) -> None:
        if self._stopped:
            return
        self.opened[side] = result
        if len(self.opened) == 2:
            self.tasks.start(compare, self.opened["a"][0], self.opened["b"][0], on_done=self._compared,
                             on_fail=self._failed)

    def _failed(self, message: str) -> None:
        if self._stopped:
            return
        self.status.setText(message)
        self._update_button()

    def _compared(self, diff) -> None:
        if self._stopped:
            return
        self.diff = diff
        self._update_button()
        (a, _), (b, _) = self.opened["a"], self.opened["b"]
        vqa = diff.kind == "vqa"
        self.status.setText(f"A: {entry_label_of(a)}<br>B: {entry_label_of(b)}")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        groups = [("overall", diff.overall)] + ([("answer type", diff.per_answer_type),
                                                 ("question type", diff.per_question_type)] if vqa else [])
        rows = [(group, row) for group, group_rows in groups for row in group_rows]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for index, (group, row) in enumerate(rows):
            cells = ((group, None), (row.name, None), (f"{row.count:,}" if row.count else "", row.count or 0),
                     (_number(row.a, vqa), row.a), (_number(row.b, vqa), row.b),
                     (_signed(row.difference, vqa), row.difference))
            for column, (text, key) in enumerate(cells):
                item = _Item(text)
                if key is not None:
                    item.setData(SORT_ROLE, key)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 5 and row.difference:
                    item.setForeground(GAIN if row.difference > 0 else LOSS)
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)
        better = "Right in {}, wrong in {}" if vqa else "Better CIDEr-D in {} than in {}"
        self.a_only_button.setText(f"{better.format('A', 'B')} ({len(diff.a_only):,})")
        self.b_only_button.setText(f"{better.format('B', 'A')} ({len(diff.b_only):,})")
        for button in (self.a_only_button, self.b_only_button):
            button.setEnabled(True)
            button.setChecked(False)
        self.show_list("a")

    def show_list(self, side: str) -> None:
        """Browse "right in ``side``, wrong in the other": the other evaluation's rows with those ids."""
        if self.diff is None:
            return
        self.a_only_button.setChecked(side == "a")
        self.b_only_button.setChecked(side == "b")
        ids = frozenset(self.diff.a_only if side == "a" else self.diff.b_only)
        other = "b" if side == "a" else "a"
        evaluation, table = self.opened[other]
        if self.browser.evaluation is not evaluation:
            self.browser.set_evaluation(evaluation, table)
        what = ("right in A, wrong in B" if side == "a" else "right in B, wrong in A") if self.diff.kind == "vqa" \
            else ("better in A" if side == "a" else "better in B")
        self.browser.show_ids(ids, f"{len(ids):,} {what} — {other.upper()}'s answers "
                                   f"({evaluation.manifest.model_label})")


def entry_label_of(evaluation) -> str:
    manifest = evaluation.manifest
    return f"{manifest.model_label} — {manifest.split} — {manifest.headline_name} {manifest.headline_value:.2f}"


def _number(value: float | None, vqa: bool) -> str:
    return "—" if value is None else (f"{value:.2f}" if vqa else f"{value:.3f}")


def _signed(value: float | None, vqa: bool) -> str:
    return "—" if value is None else (f"{value:+.2f}" if vqa else f"{value:+.3f}")

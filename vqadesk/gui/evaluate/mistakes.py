"""The mistakes browser: the questions a model got wrong (or captions, worst first), filtered, sorted, shown.

Filters: question type, answer type, the model's answer, a confidence range,
words to search; "Confidently wrong first" is one click (wrong answers sorted
by the model's confidence, highest first). The list is a ``RowsModel`` over a
``RowsTable`` (numpy selection, so 200k rows filter in milliseconds); typing in
the search waits for a pause (``SEARCH_PAUSE_MS``). Selecting a row shows its
photo in an ``ImageViewer`` with the model's map (decoded and read in a pool
thread), the top-k answers, the ten human answers and the accuracy; for a
caption, its references and, when the evaluation stored per-word maps, a word
chooser. The Compare view reuses it on its "A right, B wrong" lists
(``show_ids``).
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.evaluate.details import describe_row, load_photo
from vqadesk.gui.evaluate.loading import read_map
from vqadesk.gui.evaluate.rows_model import COLUMN_WIDTHS, RowsModel
from vqadesk.gui.evaluate.rows_table import ANY, Filters, RowsTable
from vqadesk.gui.explore.viewer import ImageViewer

SEARCH_PAUSE_MS = 200
ALL = "(all)"


class MistakesBrowser(QWidget):
    sig_count_changed = Signal(int)  # rows shown after a filter

    def __init__(self, tasks: BackgroundTasks, maps: InferenceClient | None = None, channel: str = "evaluate-map",
                 parent: QWidget | None = None):
        """``maps``: the worker process that reads the stored maps (``loading.read_map``); None shows none."""
        super().__init__(parent)
        self.tasks = tasks
        self.maps = maps
        self.map_channel = channel
        self._pending: dict = {}  # the shown row's record, photo and maps as they arrive
        self.evaluation = None  # the store's opened evaluation
        self.table: RowsTable | None = None
        self.ids: frozenset[int] | None = None  # a comparison's list, or None: the wrong ones
        self._request = 0
        self._word_maps: dict[int, np.ndarray] = {}
        self._region = CENTRE_SQUARE  # what the shown evaluation's maps cover
        self.filters = Filters()

        self.title = QLabel("Open an evaluation to browse its mistakes.")
        self.title.setWordWrap(True)
        self.question_type = QComboBox()
        self.answer_type = QComboBox()
        self.answer = QComboBox()
        self.answer.setEditable(True)
        self.answer.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.answer.setToolTip("Only the questions the model gave this answer to")
        for box, tip in ((self.question_type, "Only this question type"), (self.answer_type, "Only this answer type")):
            box.setToolTip(tip)
        for box in (self.question_type, self.answer_type, self.answer):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        self.min_confidence = QDoubleSpinBox(minimum=0, maximum=100, decimals=0, singleStep=10, suffix=" %")
        self.min_confidence.setPrefix("≥ ")
        self.min_confidence.setToolTip("Only answers the model gave with at least this confidence")
        self.confident_first = QPushButton("Confidently wrong first")
        self.confident_first.setToolTip("Wrong answers sorted by the model's confidence, highest first")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search questions and answers…")
        self.search.setClearButtonEnabled(True)
        self.count_label = QLabel("")

        self.model = RowsModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(90)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the question or caption
        header.setSortIndicatorShown(True)

        self.viewer = ImageViewer()
        self.viewer.setMinimumSize(200, 200)
        self.word_box = QComboBox()
        self.word_box.setToolTip("Where the captioner looked for this word")
        self.word_box.hide()
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self._build_layout()
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        for box in (self.question_type, self.answer_type):
            box.currentIndexChanged.connect(self.apply_filters)
        self.answer.activated.connect(self.apply_filters)
        self.answer.lineEdit().editingFinished.connect(self.apply_filters)
        self.min_confidence.valueChanged.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.confident_first.clicked.connect(self.confidently_wrong_first)
        self.model.sig_sort_requested.connect(self._sort)
        self.view.selectionModel().currentRowChanged.connect(lambda current, _previous: self._show(current.row()))
        self.word_box.currentIndexChanged.connect(self._word_chosen)

    def _build_layout(self) -> None:
        self.vqa_filters = QWidget()  # hidden for captions, which have no types nor answers
        grid = QGridLayout(self.vqa_filters)
        grid.setContentsMargins(0, 0, 0, 0)
        for row, column, label, widget in ((0, 0, "Question type", self.question_type),
                                           (0, 2, "Answer type", self.answer_type),
                                           (1, 0, "Answer", self.answer), (1, 2, "Confidence", self.min_confidence)):
            grid.addWidget(QLabel(label), row, column)
            grid.addWidget(widget, row, column + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        search_row = QHBoxLayout()
        search_row.setContentsMargins(0, 0, 0, 0)
        search_row.addWidget(self.confident_first)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.count_label)
        self.filter_box = QWidget()
        filter_column = QVBoxLayout(self.filter_box)
        filter_column.setContentsMargins(0, 0, 0, 0)
        filter_column.addWidget(self.vqa_filters)
        filter_column.addLayout(search_row)

        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(self.title)
        left_column.addWidget(self.filter_box)
        left_column.addWidget(self.view, 1)
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addWidget(self.viewer, 3)
        right_column.addWidget(self.word_box)
        right_column.addWidget(self.details, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 320])
        splitter.setChildrenCollapsible(False)
        QVBoxLayout(self).addWidget(splitter)
        self.layout().setContentsMargins(0, 0, 0, 0)

    # -- what is browsed -----------------------------------------------------------------------------

    def set_evaluation(self, evaluation, table: RowsTable | None) -> None:
        """Browse ``evaluation``'s mistakes (``table``: its columns, made in a pool thread)."""
        self.evaluation, self.table, self.ids = evaluation, table, None
        vqa = table is not None and table.kind == "vqa"
        self.vqa_filters.setVisible(vqa)
        self.confident_first.setVisible(vqa)
        self.filter_box.setVisible(table is not None)
        self.search.setPlaceholderText("Search questions and answers…" if vqa else "Search captions…")
        self._fill(self.question_type, table.question_types if vqa else [])
        self._fill(self.answer_type, table.answer_types if vqa else [])
        self._fill(self.answer, self._answers_by_count(table) if vqa else [])
        self.model.set_table(table)
        if table is not None:
            for column, width in enumerate(COLUMN_WIDTHS[table.kind]):
                if width:
                    self.view.setColumnWidth(column, width)
        if vqa:
            self.filters = Filters(sort="score" if table.has_scores else "id", descending=table.has_scores)
            self.min_confidence.setEnabled(table.has_scores)
            self.confident_first.setEnabled(table.has_scores)
        else:
            self.filters = Filters(sort="accuracy", descending=False)  # worst CIDEr-D first
        self._clear_detail()
        self.apply_filters()

    def show_ids(self, ids: frozenset[int] | None, title: str) -> None:
        """Browse only these rows (a comparison's list; right answers included); None: the mistakes again."""
        self.ids = ids
        self.title.setText(title)
        self.apply_filters()

    @staticmethod
    def _answers_by_count(table: RowsTable) -> list[str]:
        wrong = table.wrong_mask()
        counts = Counter(table.answer[wrong].tolist())
        return [table.answers[code] for code, _n in counts.most_common()]

    @staticmethod
    def _fill(box: QComboBox, names: list[str]) -> None:
        box.blockSignals(True)
        box.clear()
        box.addItem(ALL)
        box.addItems(names)
        box.blockSignals(False)

    # -- filtering and sorting -----------------------------------------------------------------------

    def current_filters(self) -> Filters:
        def chosen(box: QComboBox) -> str:
            text = box.currentText().strip()
            return ANY if text in ("", ALL) else text

        return Filters(
            question_type=chosen(self.question_type), answer_type=chosen(self.answer_type), answer=chosen(self.answer),
            min_confidence=self.min_confidence.value() / 100, words=self.search.text(),
            only_wrong=self.ids is None, ids=self.ids, sort=self.filters.sort, descending=self.filters.descending)

    def apply_filters(self) -> None:
        self._search_timer.stop()
        if self.table is None:
            self.model.set_table(None)
            self.count_label.setText("")
            return
        self.filters = self.current_filters()
        order = self.table.select(self.filters)
        self.model.set_order(order)
        self._show_sort_indicator()
        noun = "question" if self.table.kind == "vqa" else "caption"
        self.count_label.setText(f"{len(order):,} {noun}{'' if len(order) == 1 else 's'}")
        if self.ids is None:
            what = "wrong answers (accuracy < 100)" if self.table.kind == "vqa" else "captions, worst CIDEr-D first"
            self.title.setText(f"{len(order):,} {what}")
        self.sig_count_changed.emit(len(order))
        if len(order):
            self.view.selectRow(0)
        else:
            self._clear_detail()

    def confidently_wrong_first(self) -> None:
        self.filters = Filters(sort="score", descending=True)
        self.apply_filters()

    def _sort(self, key: str, descending: bool) -> None:
        self.filters = Filters(sort=key, descending=descending)
        self.apply_filters()

    def _show_sort_indicator(self) -> None:
        keys = [column[1] for column in self.model.columns]
        if self.filters.sort in keys:
            header = self.view.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(keys.index(self.filters.sort), Qt.SortOrder.DescendingOrder
                                    if self.filters.descending else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)

    # -- the selected row ----------------------------------------------------------------------------

    def select_id(self, row_id: int) -> bool:
        row = self.model.row_of(row_id)
        if row is None:
            return False
        self.view.selectRow(row)
        return True

    def stop(self) -> None:
        """The tab is closing: a photo still being read is not shown (its widgets may be gone by then)."""
        self._request += 1
        self._search_timer.stop()

    def current_row(self):
        return self.model.row_at(self.view.currentIndex().row())

    def _clear_detail(self) -> None:
        self._request += 1
        self.viewer.show_message("Select a row to see its photo" if self.table is not None else "")
        self.details.setText("")
        self.word_box.hide()

    def _show(self, index: int) -> None:
        record = self.model.row_at(index)
        if record is None or self.evaluation is None:
            return
        self._request += 1
        request = self._request
        self._pending = {"record": record}
        self.details.setText(describe_row(record))
        path = Path(self.evaluation.manifest.dataset) / record.image
        self.tasks.start(load_photo, path, on_done=lambda image, r=request: self._arrived(r, image=image),
                         on_fail=lambda message, r=request: self._detail_failed(r, message))
        if self.evaluation.manifest.has_maps and self.maps is not None:
            self.maps.submit(self.map_channel, read_map, str(self.evaluation.path), record,
                             on_done=lambda maps, r=request: self._arrived(r, maps=maps),
                             on_error=lambda message, r=request: self._arrived(r, maps=None, problem=message))
        else:
            self._pending["maps"] = None

    def _arrived(self, request: int, **parts) -> None:
        """The photo or the map of the shown row (either first); both there: shown."""
        if request != self._request:
            return
        self._pending.update(parts)
        if "image" in self._pending and "maps" in self._pending:
            pending, self._pending = self._pending, {}
            self._detail_loaded(pending["record"], pending["image"], pending["maps"], pending.get("problem"))

    def _detail_loaded(self, record, image, maps, problem: str | None) -> None:
        region = self.evaluation.manifest.attention_region
        self.viewer.show_image(image, [])
        self._region = region
        if problem:
            self.details.setText(self.details.text() + f"<br><i>No map: {html.escape(problem)}</i>")
        if self.table.kind == "vqa":
            self.word_box.hide()
            if maps is not None:  # on a later turn: two scene updates in one turn stall the window (docs/app.md)
                request = self._request
                QTimer.singleShot(1, lambda: request == self._request and self.viewer.show_heatmap(
                    np.asarray(maps, dtype=np.float32), f"“{record.answer}”", region))
            return
        self._word_maps = {} if maps is None else dict(enumerate(maps))  # (words, h, w)
        words = record.caption.split()
        self.word_box.blockSignals(True)
        self.word_box.clear()
        for index in sorted(self._word_maps):
            self.word_box.addItem(f"Map for word {index + 1}: {words[index] if index < len(words) else '?'}", index)
        self.word_box.blockSignals(False)
        self.word_box.setVisible(bool(self._word_maps))
        if self._word_maps:
            self._word_chosen(0)

    def _word_chosen(self, index: int) -> None:
        word = self.word_box.itemData(index)
        if word in self._word_maps:
            self.viewer.show_heatmap(np.asarray(self._word_maps[word], dtype=np.float32),
                                     self.word_box.itemText(index), self._region)

    def _detail_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.viewer.show_message(message)


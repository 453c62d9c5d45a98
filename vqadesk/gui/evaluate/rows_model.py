"""The mistakes browser's table model: the rows a ``RowsTable`` selection keeps, in its order.

No proxy model: ``set_order`` swaps in the positions ``RowsTable.select``
computed (numpy), so filtering or sorting 200k rows is one model reset, and
``data`` reads only the painted rows' records. Clicking a header asks the
browser to sort (``sig_sort_requested``) rather than letting Qt sort in Python.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal

from vqadesk.gui.evaluate.rows_table import RowsTable

# (header, sort key of RowsTable.sort_keys or None, tooltip)
VQA_COLUMNS = (
    ("Question", "id", "The question (sorts by question id)"),
    ("Answer", "answer", "The model's answer"),
    ("Conf.", "score", "Confidence: the model's probability of its answer"),
    ("Acc.", "accuracy", "Official VQA accuracy of the answer against the ten human answers (0-100)"),
    ("Q. type", "question_type", "Question type"),
    ("A. type", "answer_type", "Answer type"),
)
CAPTION_COLUMNS = (
    ("Caption", "id", "The model's caption (sorts by image id)"),
    ("CIDEr-D", "accuracy", "The caption's CIDEr-D against its references, in the split"),
    ("BLEU-4", "score", "The caption's BLEU-4 against its references"),
)


COLUMN_WIDTHS = {"vqa": (0, 80, 56, 48, 110, 64), "captioning": (0, 70, 70)}  # px; the text column stretches


class RowsModel(QAbstractTableModel):
    sig_sort_requested = Signal(str, bool)  # sort key, descending

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.table: RowsTable | None = None
        self.order = np.zeros(0, dtype=np.int64)

    @property
    def columns(self) -> tuple[tuple[str, str, str], ...]:
        return CAPTION_COLUMNS if self.table is not None and self.table.kind != "vqa" else VQA_COLUMNS

    def set_table(self, table: RowsTable | None) -> None:
        self.beginResetModel()
        self.table = table
        self.order = np.zeros(0, dtype=np.int64)
        self.endResetModel()

    def set_order(self, order: np.ndarray) -> None:
        self.beginResetModel()
        self.order = order
        self.endResetModel()

    def row_at(self, row: int):
        """The store's record shown at ``row`` (None out of range)."""
        if self.table is None or not 0 <= row < len(self.order):
            return None
        return self.table.rows[int(self.order[row])]

    def row_of(self, row_id: int) -> int | None:
        """Where the record with ``row_id`` is shown, if it is."""
        if self.table is None:
            return None
        position = self.table.position(row_id)
        hits = np.flatnonzero(self.order == position) if position is not None else []
        return int(hits[0]) if len(hits) else None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - Qt names it
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - Qt names it
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section][2] or None
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        record = self.row_at(index.row())
        if record is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(record, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return self._text(record, 0)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ((2, 3) if self.table.kind == "vqa" else (1, 2)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, record, column: int) -> str:
        if self.table.kind == "vqa":
            score = "—" if record.score is None else f"{record.score * 100:.0f}%"
            return (record.question, record.answer, score, f"{record.accuracy:.0f}",
                    record.question_type, record.answer_type)[column]
        return (record.caption, f"{record.cider:.3f}", f"{record.bleu4:.3f}")[column]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(self.columns):
            self.sig_sort_requested.emit(self.columns[column][1], order == Qt.SortOrder.DescendingOrder)

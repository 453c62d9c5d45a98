"""The Batch tab's results: one table model over a job's rows, a proxy that sorts and filters them.

``ResultsModel`` holds the job's ``CaptionRow`` / ``AnswerRow`` / ``FailedPhoto``
records (the engine's, ``engine/torch_free/batch/records.py``) in one list,
one table row each: a photo's captions, or its answer to one question, or
why the photo failed. A ``QTableView`` shows it through ``ResultsFilter``
(sort by any column, a filter where every word must match the row's file,
caption, question or answer); no widget per row, so 100,000 rows cost their
records. The thumbnail column asks ``LazyThumbnails``, which makes only the
painted rows' icons, in pool threads.

A caption (or an answer) is edited in place: ``setData`` keeps the model's
text and the person's edit side by side (``with_edit``), marks the row
(italic, a pencil in the score column, "edited" in its tooltip) and emits
``sig_edited(RowEdit)``; the panel writes it to the job's progress file,
where exports and a later run read it.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QFont

from vqadesk.engine.torch_free.batch.records import (
    CAPTIONS,
    AnswerRow,
    CaptionRow,
    FailedPhoto,
    PhotoResult,
    RowEdit,
    with_edit,
)
from vqadesk.gui.background.thumbnails import LazyThumbnails
from vqadesk.gui.style import is_dark

THUMBNAIL_SIZE = 40
SORT_ROLE = Qt.ItemDataRole.UserRole  # numbers sort as numbers, text case-blind
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's words for the filter (lower case)
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's record
EDITED_MARK = "✎"

# Columns per kind: the thumbnail, the file, then what the model said.
THUMB, FILE = 0, 1
CAPTION_COLUMNS = ("", "File", "Caption", "Score")
VQA_COLUMNS = ("", "File", "Question", "Answer", "Score")


def row_key(result: PhotoResult) -> tuple[str, str | None]:
    """Which table row a result fills: a photo's captions, or its answer to one question."""
    return (result.key, result.question if isinstance(result, AnswerRow) else None)


class ResultsModel(QAbstractTableModel):
    sig_edited = Signal(object)  # RowEdit

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.kind = CAPTIONS
        self._results: list[PhotoResult] = []
        self._rows: dict[tuple[str, str | None], int] = {}
        self._photo_rows: dict[str, list[int]] = {}  # a photo's rows (one per question)
        self._failed: set[int] = set()  # rows of failed photos, and of edited ones: counted as rows change
        self._edited: set[int] = set()
        self.thumbnails = LazyThumbnails(THUMBNAIL_SIZE, self)
        self.thumbnails.sig_ready.connect(self._thumbnail_ready)

    # -- filling ------------------------------------------------------------------------------------

    def reset(self, kind: str) -> None:
        """An empty table for a job of ``kind`` (``"captions"`` or ``"vqa"``)."""
        self.beginResetModel()
        self.kind = kind
        self._results = []
        self._rows = {}
        self._photo_rows = {}
        self._failed, self._edited = set(), set()
        self.thumbnails.clear()
        self.endResetModel()

    def add(self, results: list[PhotoResult]) -> None:
        """Append new rows; a result for a row already shown replaces it, and a photo that failed before and
        has results now (a rerun) has its failure's row replaced by its first row."""
        fresh = []
        for result in results:
            row = self._rows.get(row_key(result))
            if row is None and not isinstance(result, FailedPhoto):
                row = self._rows.get((result.key, None))  # the row of its earlier failure
                if row is not None and not isinstance(self._results[row], FailedPhoto):
                    row = None
                if row is not None:
                    del self._rows[(result.key, None)]
                    self._rows[row_key(result)] = row
            if row is None:
                fresh.append(result)
            else:
                self._set(row, result)
                self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        if not fresh:
            return
        first = len(self._results)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, result in enumerate(fresh):
            self._rows[row_key(result)] = first + offset
            self._photo_rows.setdefault(result.key, []).append(first + offset)
            self._results.append(result)
            self._note(first + offset, result)
        self.endInsertRows()

    def _set(self, row: int, result: PhotoResult) -> None:
        self._results[row] = result
        self._note(row, result)

    def _note(self, row: int, result: PhotoResult) -> None:
        """Keep the failed and edited counts without walking every row."""
        (self._failed.add if isinstance(result, FailedPhoto) else self._failed.discard)(row)
        (self._edited.add if getattr(result, "edit", None) is not None else self._edited.discard)(row)

    def result(self, row: int) -> PhotoResult:
        return self._results[row]

    def results(self) -> list[PhotoResult]:
        return list(self._results)

    def failed_count(self) -> int:
        return len(self._failed)

    def edited_count(self) -> int:
        return len(self._edited)

    def apply_edit(self, edit: RowEdit) -> bool:
        """Show ``edit`` (read back from the progress file, or just made); False when no row matches."""
        row = self._rows.get((edit.key, edit.question))
        if row is None or isinstance(self._results[row], FailedPhoto):
            return False
        self._set(row, with_edit(self._results[row], edit))
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        return True

    # -- the table ----------------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        return CAPTION_COLUMNS if self.kind == CAPTIONS else VQA_COLUMNS

    @property
    def text_column(self) -> int:
        """The column a person may edit: the caption, or the answer."""
        return 2 if self.kind == CAPTIONS else 3

    @property
    def score_column(self) -> int:
        return len(self.columns) - 1

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - Qt names it; QModelIndex() is an immutable invalid index
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - as above
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == self.score_column:
            return ("The model's score of its best caption: log-probability per word, higher is better"
                    if self.kind == CAPTIONS else "The probability of the answer")
        if role == Qt.ItemDataRole.ToolTipRole and section == self.text_column:
            return "Double-click (or F2) to edit; an edited row is in italics, its score marked ✎"
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == self.text_column and not isinstance(
                self._results[index.row()], FailedPhoto):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        result = self._results[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DecorationRole and column == THUMB:
            return self.thumbnails.icon(result.key, result.path)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(result, column, editing=role == Qt.ItemDataRole.EditRole)
        if role == SORT_ROLE:
            return self._sort_value(result, column)
        if role == SEARCH_ROLE:
            return self._search_text(result)
        if role == RESULT_ROLE:
            return result
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(result)
        if role == Qt.ItemDataRole.FontRole and getattr(result, "edit", None) is not None \
                and column == self.text_column:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and isinstance(result, FailedPhoto):
            return QColor("#ff8a80") if is_dark() else QColor("#b00020")  # message_style's error colours
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.score_column:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or not (self.flags(index) & Qt.ItemFlag.ItemIsEditable):
            return False
        result = self._results[index.row()]
        text = " ".join(str(value).split())
        current = result.caption if isinstance(result, CaptionRow) else result.answer_text
        if not text or text == current:
            return False  # an empty edit would leave the photo without a caption: keep what is there
        edit = RowEdit(result.key, text, result.question if isinstance(result, AnswerRow) else None)
        self.apply_edit(edit)
        self.sig_edited.emit(edit)
        return True

    # -- cells --------------------------------------------------------------------------------------

    def _text(self, result: PhotoResult, column: int, *, editing: bool = False) -> str:
        if column == THUMB:
            return ""
        if column == FILE:
            return result.key
        if isinstance(result, FailedPhoto):
            return f"failed: {result.reason}" if column == 2 else ""  # where the caption or question would be
        edited = result.edit is not None
        if isinstance(result, CaptionRow):
            if column == 2:
                return result.caption
            return "" if editing else f"{EDITED_MARK} {result.score:.2f}" if edited else f"{result.score:.2f}"
        if column == 2:
            return result.question
        if column == 3:
            return result.answer_text
        score = f"{result.score * 100:.0f}%"  # an answer's probability
        return "" if editing else f"{EDITED_MARK} {score}" if edited else score

    def _sort_value(self, result: PhotoResult, column: int):
        if column == self.score_column:
            return -1.0 if isinstance(result, FailedPhoto) else float(result.score)
        if column == THUMB:
            return result.key.lower()
        return self._text(result, column).lower()

    def _search_text(self, result: PhotoResult) -> str:
        columns = range(FILE, self.score_column)
        return " ".join(self._text(result, column) for column in columns).lower()

    def _tooltip(self, result: PhotoResult) -> str:
        if isinstance(result, FailedPhoto):
            return f"{result.key}\ncould not be used: {result.reason}"
        lines = [result.key]
        if isinstance(result, CaptionRow):
            if result.edit is not None:
                lines.append(f"edited: {result.edit}\nthe model wrote:")
            lines += [f"{text}  ({score:.2f})" for text, score in result.captions]
        else:
            lines.append(result.question)
            if result.edit is not None:
                lines.append(f"edited: {result.edit}\nthe model answered:")
            lines += [f"{answer}  {score * 100:.1f}%" for answer, score in result.top_k]
        lines.append(f"{result.model} ({result.precision})")
        return "\n".join(lines)

    def _thumbnail_ready(self, key: str) -> None:
        for row in self._photo_rows.get(key, ()):  # every row of that photo (one per question)
            index = self.index(row, THUMB)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self.thumbnails.shutdown()


class ResultsFilter(QSortFilterProxyModel):
    """Sorts by ``SORT_ROLE``; keeps the rows in which every word of the filter appears."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._words: list[str] = []
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_words(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10, where the invalidate calls are deprecated
            self.beginFilterChange()
            self._words = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = text.lower().split()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802 - Qt override
        if not self._words:
            return True
        text = self.sourceModel().index(source_row, FILE, source_parent).data(SEARCH_ROLE) or ""
        return all(word in text for word in self._words)

"""The Evaluate tab's list of finished evaluations: model, split, date, headline score.

Filled from the store's ``list_evaluations()`` (manifests only), read in a pool
thread and swapped in at once; a damaged folder is listed greyed with its
reason as the tooltip (it can still be deleted). The table sorts by any column
(dates as their ISO text, scores as numbers).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from vqadesk.engine.torch_free.evaluations import EvaluationEntry

PATH_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Model", "Split", "Date", "Score", "Size")


class _Item(QTableWidgetItem):
    """Sorts by ``SORT_ROLE`` when set (numbers as numbers)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is not None and theirs is not None:
            return mine < theirs
        return self.text().casefold() < other.text().casefold()  # not super(): PySide6 recurses into this


def compact(table: QTableWidget) -> None:
    """One text line per row, no row numbers: the tab's tables read as lists."""
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)


def headline_text(entry: EvaluationEntry) -> str:
    manifest = entry.manifest
    if manifest is None:
        return "damaged"
    value = manifest.headline_value
    return f"{value:.2f}%" if manifest.kind == "vqa" else f"{value:.3f}"


def local_date(created: str) -> str:
    """The manifest's UTC time in the computer's zone, month-day and minute (the tooltip says the year)."""
    return datetime.fromisoformat(created).astimezone().strftime("%m-%d %H:%M")


class ResultsList(QTableWidget):
    sig_open = Signal(str)  # an evaluation folder was chosen

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.entries: dict[str, EvaluationEntry] = {}
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        compact(self)
        header = self.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column in (0, 1):  # model and split share what the date, score and size leave
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.setSortingEnabled(True)
        self.sortByColumn(COLUMNS.index("Date"), Qt.SortOrder.DescendingOrder)  # newest first
        self.itemSelectionChanged.connect(self._selected)

    def set_entries(self, entries: list[EvaluationEntry], select: str | None = None) -> None:
        """Show ``entries`` (newest first); keep or make ``select`` (a folder path) the current row."""
        keep = select or self.current_path()
        self.entries = {str(entry.path): entry for entry in entries}
        self.setSortingEnabled(False)
        self.blockSignals(True)
        self.setRowCount(len(entries))
        disabled = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for row, entry in enumerate(entries):
            manifest = entry.manifest
            if manifest is None:
                cells = [(entry.path.name, None), ("", None), ("", None), ("damaged", None), ("", None)]
            else:
                subset = f" ({manifest.subset.size:,}, seed {manifest.subset.seed})" if manifest.subset else ""
                cells = [(manifest.model_label, None), (manifest.split + subset, None),
                         (local_date(manifest.created), manifest.created),
                         (headline_text(entry), manifest.headline_value), (f"{manifest.count:,}", manifest.count)]
            for column, (text, key) in enumerate(cells):
                item = _Item(text)
                item.setData(PATH_ROLE, str(entry.path))
                if key is not None:
                    item.setData(SORT_ROLE, key)
                if manifest is None:
                    item.setForeground(disabled)
                    item.setToolTip(entry.problem or "")
                else:
                    item.setToolTip(f"{manifest.model_reference}\n{manifest.created}\n{manifest.headline_name} "
                                    f"{headline_text(entry)} on {manifest.split} of {manifest.dataset}\n"
                                    f"{manifest.count:,} evaluated in {manifest.seconds:.0f} s on "
                                    f"{manifest.device} ({manifest.precision})\n{entry.path}")
                self.setItem(row, column, item)
        self.setSortingEnabled(True)
        self.blockSignals(False)
        if keep is not None:
            self.select_path(keep)

    def select_path(self, path: str) -> bool:
        for row in range(self.rowCount()):
            if self.item(row, 0).data(PATH_ROLE) == path:
                self.selectRow(row)
                return True
        return False

    def current_path(self) -> str | None:
        row = self.currentRow()
        item = self.item(row, 0) if row >= 0 else None
        return item.data(PATH_ROLE) if item is not None and item.isSelected() else None

    def current_entry(self) -> EvaluationEntry | None:
        path = self.current_path()
        return self.entries.get(path) if path else None

    def whole_entries(self) -> list[EvaluationEntry]:
        return [entry for entry in self.entries.values() if entry.manifest is not None]

    def _selected(self) -> None:
        entry = self.current_entry()
        if entry is not None and entry.manifest is not None:
            self.sig_open.emit(str(entry.path))


def entry_label(entry: EvaluationEntry) -> str:
    """One line naming an evaluation in the Compare view's choosers."""
    manifest = entry.manifest
    assert manifest is not None
    return f"{manifest.model_label} — {manifest.split} — {local_date(manifest.created)} — {headline_text(entry)}"


def same_split(a: EvaluationEntry, b: EvaluationEntry) -> bool:
    ma, mb = a.manifest, b.manifest
    return (ma is not None and mb is not None and ma.kind == mb.kind and ma.split == mb.split
            and Path(ma.dataset) == Path(mb.dataset))

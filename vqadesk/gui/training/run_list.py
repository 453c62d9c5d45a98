"""The list of training runs: status and best metric from each ``run.json``.

The current row is the run whose curves, log and probe the tab shows;
checking two or more rows overlays their curves instead. Only ``run.json``
files are read here (small); a run's events are read when it is shown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from vqadesk.engine.torch_free.training_runs import RunRecord
from vqadesk.text.counts import plural

FOLDER_ROLE = Qt.ItemDataRole.UserRole
FAILED = ("failed", "killed")


def shown_status(record: RunRecord, live: Path | None) -> str:
    """"running" only for the process this tab runs; on disk without one it was interrupted."""
    if record.status == "running":
        return "running" if live is not None and record.folder == live else "interrupted"
    return record.status


class RunList(QWidget):
    sig_current_changed = Signal()
    sig_checked_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._records: dict[str, RunRecord] = {}
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Run", "Status", "Best"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The run's name matters most: it keeps its width, the best metric takes what is left.
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # texts elide instead
        self.tree.setToolTip("Training runs. Select one to see its curves; check two or more to compare them.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self.tree.currentItemChanged.connect(lambda *_: self.sig_current_changed.emit())
        self.tree.itemChanged.connect(self._on_item_changed)

    def set_runs(self, records: list[RunRecord], live: Path | None) -> None:
        """Show ``records``, keeping the current row and the check marks where the runs still exist."""
        current = self.current_folder()
        checked = {str(r.folder) for r in self.checked_records()}
        self.tree.blockSignals(True)
        self.tree.clear()
        self._records = {str(r.folder): r for r in records}
        for record in records:
            item = QTreeWidgetItem()
            item.setData(0, FOLDER_ROLE, str(record.folder))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if str(record.folder) in checked else Qt.CheckState.Unchecked)
            self._fill(item, record, live)
            self.tree.addTopLevelItem(item)
            if str(record.folder) == current:
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        if self.current_folder() != current:
            self.sig_current_changed.emit()
        if {str(r.folder) for r in self.checked_records()} != checked:
            self.sig_checked_changed.emit()

    def update_record(self, record: RunRecord, live: Path | None) -> None:
        """Refresh one row (the live run's, after an epoch) without rebuilding the list."""
        self._records[str(record.folder)] = record
        item = self._item(record.folder)
        if item is not None:
            self.tree.blockSignals(True)  # new texts are not new check marks
            self._fill(item, record, live)
            self.tree.blockSignals(False)

    def select(self, folder: str | Path) -> None:
        item = self._item(folder)
        if item is not None:
            self.tree.setCurrentItem(item)

    def set_checked(self, folder: str | Path, checked: bool) -> None:
        item = self._item(folder)
        if item is not None:
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _item(self, folder: str | Path) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, FOLDER_ROLE) == str(folder):
                return item
        return None

    @staticmethod
    def _fill(item: QTreeWidgetItem, record: RunRecord, live: Path | None) -> None:
        status = shown_status(record, live)
        item.setText(0, record.label)
        item.setText(1, status)
        item.setText(2, record.best_text())
        item.setToolTip(0, _tooltip(record))
        item.setToolTip(1, record.error or status)
        item.setForeground(1, QBrush(QColor("#d62728")) if status in FAILED else QBrush())

    def current_folder(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, FOLDER_ROLE) if item is not None else None

    def current_record(self) -> RunRecord | None:
        folder = self.current_folder()
        return self._records.get(folder) if folder else None

    def checked_records(self) -> list[RunRecord]:
        records = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                record = self._records.get(item.data(0, FOLDER_ROLE))
                if record is not None:
                    records.append(record)
        return records

    def records(self) -> list[RunRecord]:
        return list(self._records.values())

    def _on_item_changed(self, _item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.sig_checked_changed.emit()


def _epochs(value) -> str:
    return plural(value, "epoch") if isinstance(value, int) else f"{value or '?'} epochs"


def _tooltip(record: RunRecord) -> str:
    options = record.options
    parts = [record.name, f"{record.kind} · {options.get('model', '?')} · {_epochs(options.get('epochs'))}",
             f"started {record.started}" + (f", finished {record.finished}" if record.finished else ""),
             str(record.folder)]
    if record.error:
        parts.append(f"error: {record.error}")
    return "\n".join(parts)

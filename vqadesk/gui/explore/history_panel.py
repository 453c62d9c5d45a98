"""The History panel: every question asked this session, exportable as JSON, CSV or HTML."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.history import HistoryEntry, export_csv, export_html, export_json
from vqadesk.engine.torch_free.predictions import VqaPrediction
from vqadesk.errors import VqadeskError
from vqadesk.gui.explore.image_context import ImageContext, find_question
from vqadesk.gui.style import message_style
from vqadesk.metrics.vqa_accuracy import answer_accuracy
from vqadesk.text.counts import plural

EXPORTERS = {".json": export_json, ".csv": export_csv, ".html": export_html}
FILTERS = "JSON (*.json);;CSV (*.csv);;HTML report with images (*.html)"
COLUMNS = ("Time", "Question", "Answer", "Score", "Accuracy", "Image", "Model")
_QUESTION, _ANSWER, _IMAGE = 1, 2, 5


def history_entry(prediction: VqaPrediction, context: ImageContext) -> HistoryEntry:
    record = find_question(context, prediction.question)
    humans = list(record.annotation.answers) if record and record.annotation else None
    return HistoryEntry(
        asked_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
        image_path=str(context.path), image_id=context.image_id, question=prediction.question,
        answers=[(a.text, a.prob) for a in prediction.answers], model=prediction.model,
        attention=prediction.attention, attention_region=prediction.attention_region, human_answers=humans,
        accuracy=answer_accuracy(prediction.best.text, humans) if humans else None,
        total_ms=prediction.timings_ms.get("total"),
    )


class HistoryPanel(QWidget):
    sig_exported = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries: list[HistoryEntry] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_QUESTION, QHeaderView.ResizeMode.Stretch)
        for column in (_IMAGE, len(COLUMNS) - 1):  # long file and model names: elided, full in the tooltip
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, 110)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the history as JSON, CSV or an HTML report with images (Ctrl+E)")
        self.export_button.setEnabled(False)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setEnabled(False)
        self.message = QLabel("Questions you ask appear here.")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.export_button.clicked.connect(self.choose_export)
        self.clear_button.clicked.connect(self.clear)

    def add(self, entry: HistoryEntry) -> None:
        self.entries.append(entry)
        row = self.table.rowCount()
        self.table.insertRow(row)
        text, prob = entry.best
        accuracy = "" if entry.accuracy is None else f"{entry.accuracy * 100:.0f}%"
        cells = (entry.asked_at[11:], entry.question, text, f"{prob * 100:.1f}%", accuracy,
                 Path(entry.image_path).name, entry.model)
        for column, value in enumerate(cells):
            item = QTableWidgetItem(value)
            if column in (_QUESTION, _IMAGE, len(COLUMNS) - 1):
                item.setToolTip(entry.image_path if column == _IMAGE else value)
            if column == _ANSWER and entry.human_answers:
                human = ", ".join(f"{a} ×{n}" for a, n in Counter(entry.human_answers).most_common())
                item.setToolTip(f"human answers: {human}")
            self.table.setItem(row, column, item)
        self.table.scrollToBottom()
        self.export_button.setEnabled(True)
        self.clear_button.setEnabled(True)
        self._say(f"{plural(len(self.entries), 'question')} this session.")

    def clear(self) -> None:
        self.entries.clear()
        self.table.setRowCount(0)
        self.export_button.setEnabled(False)
        self.clear_button.setEnabled(False)
        self._say("Questions you ask appear here.")

    def choose_export(self) -> None:
        if not self.entries:
            self._say("Nothing to export yet: ask a question first.", "error")
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the questions asked", str(Path.home() / "vqadesk-history.json"), FILTERS
        )
        if path:
            if Path(path).suffix.lower() not in EXPORTERS:
                path += {"CSV": ".csv", "HTML": ".html"}.get(chosen.split(" ")[0], ".json")
            self.export(path)

    def export(self, path: str) -> bool:
        exporter = EXPORTERS.get(Path(path).suffix.lower())
        if exporter is None:
            self._say(f"{path}: choose a .json, .csv or .html file name", "error")
            return False
        try:
            exporter(self.entries, path)
        except VqadeskError as exc:
            self._say(str(exc), "error")
            return False
        self._say(f"Exported {plural(len(self.entries), 'question')} to {path}")
        self.sig_exported.emit(path)
        return True

    def _say(self, text: str, kind: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(message_style(kind) if kind else "")

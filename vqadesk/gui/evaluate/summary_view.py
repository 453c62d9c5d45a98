"""The Evaluate tab's Summary: the headline, per-type accuracy (table and bars), calibration, confusions.

VQA: overall accuracy; per answer type or per question type (a chooser) as a
sortable table beside a bar chart, whose weakest type (``plots.weakest``) the
headline names; the calibration plot and the yes/no and counts confusion
matrices from ``metrics.json`` (eval-core's analysis, the same numbers as
``vqadesk evaluate … --json``). Captions: BLEU-1..4 and CIDEr-D, and the per-image
CIDEr-D histogram. Everything here reads an opened evaluation and its
``RowsTable``; nothing is computed on the GUI thread beyond small tables.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.gui.evaluate import analysis_view
from vqadesk.gui.evaluate.plots import AccuracyBars, Bar, CalibrationPlot, Histogram, weakest
from vqadesk.gui.evaluate.results_list import SORT_ROLE, _Item, compact
from vqadesk.gui.evaluate.rows_table import RowsTable

GROUPS = (("Per question type", "question_type", "perQuestionType"),
          ("Per answer type", "answer_type", "perAnswerType"))


def type_bars(metrics: dict, table: RowsTable, column: str, key: str) -> list[Bar]:
    """Per-type accuracies from ``metrics.json`` with the number of questions each type holds."""
    counts = table.counts_by(column)
    return [Bar(name, float(value), counts.get(name, 0)) for name, value in (metrics.get(key) or {}).items()]


class ConfusionTable(QTableWidget):
    """A confusion matrix: rows the human majority answer, columns the model's; cells shaded by row share."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)

    def set_matrix(self, labels: list[str], counts: list[list[int]]) -> None:
        """Labels no question has on either side (counts of 7 on a split that asks up to 5) are left out."""
        keep = [i for i in range(len(labels)) if sum(counts[i]) + sum(row[i] for row in counts) > 0]
        labels = [labels[i] for i in keep]
        counts = [[counts[i][j] for j in keep] for i in keep]
        self.clear()
        self.setRowCount(len(labels))
        self.setColumnCount(len(labels))
        self.setHorizontalHeaderLabels([f"said {label}" for label in labels])
        self.setVerticalHeaderLabels([f"people: {label}" for label in labels])
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for row, values in enumerate(counts):
            total = sum(values) or 1
            for column, value in enumerate(values):
                item = QTableWidgetItem(f"{value:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                shade = QColor(highlight)
                shade.setAlpha(int(200 * value / total))
                item.setBackground(shade)
                item.setToolTip(f"people's majority {labels[row]}, model said {labels[column]}: "
                                f"{value:,} ({value / total:.0%} of the row)")
                self.setItem(row, column, item)
        self.resizeColumnsToContents()  # once, not per cell (a ResizeToContents header measures at every setItem)
        self.resizeRowsToContents()
        height = self.horizontalHeader().sizeHint().height() + sum(self.rowHeight(r) for r in range(len(labels)))
        self.setFixedHeight(min(height + 6, 360))


class SummaryView(QScrollArea):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.metrics: dict = {}
        self.table: RowsTable | None = None
        self.headline = QLabel("Open an evaluation, or run one with Evaluate.")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.group = QComboBox()
        for title, _column, _key in GROUPS:
            self.group.addItem(title)
        self.type_table = QTableWidget(0, 3)
        self.type_table.setHorizontalHeaderLabels(("Type", "Accuracy", "Questions"))
        self.type_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        compact(self.type_table)
        self.type_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.type_table.setMinimumHeight(220)
        self.type_table.setMaximumHeight(420)
        self.bars = AccuracyBars("")
        self.calibration = CalibrationPlot()
        self.yes_no = ConfusionTable("Yes/no")
        self.counts = ConfusionTable("Counts")
        self.scores = QTableWidget(0, 2)
        self.scores.setHorizontalHeaderLabels(("Metric", "Score"))
        compact(self.scores)
        self.scores.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.scores.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.scores.setFixedHeight(190)
        self.histogram = Histogram("Per-image CIDEr-D")
        self.yes_no_label = QLabel("<b>Yes/no</b>: people's majority answer (rows) against the model's (columns)")
        self.counts_label = QLabel("<b>Counts</b>: people's majority number (rows) against the model's (columns)")
        for label in (self.yes_no_label, self.counts_label):
            label.setWordWrap(True)

        page = QWidget()
        grid = QGridLayout(page)
        grid.addWidget(self.headline, 0, 0, 1, 2)
        chooser = QHBoxLayout()
        chooser.addWidget(self.group)
        chooser.addStretch(1)
        grid.addLayout(chooser, 1, 0, 1, 2)
        grid.addWidget(self.type_table, 2, 0)
        grid.addWidget(self.bars, 2, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.scores, 3, 0)
        grid.addWidget(self.histogram, 3, 1)
        grid.addWidget(self.calibration, 4, 0, 1, 2)
        confusions = QHBoxLayout()
        for label, matrix in ((self.yes_no_label, self.yes_no), (self.counts_label, self.counts)):
            box = QVBoxLayout()
            box.addWidget(label)
            box.addWidget(matrix)
            box.addStretch(1)
            confusions.addLayout(box, 1)
        grid.addLayout(confusions, 5, 0, 1, 2)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setRowStretch(6, 1)
        self.setWidget(page)
        self.group.currentIndexChanged.connect(lambda _index: self._show_types())
        self.show_evaluation(None, None)

    def show_evaluation(self, evaluation, table: RowsTable | None) -> None:
        self.metrics = evaluation.metrics if evaluation is not None else {}
        self.table = table
        vqa = evaluation is not None and evaluation.kind == "vqa"
        captions = evaluation is not None and not vqa
        for widget in (self.group, self.type_table, self.bars, self.calibration, self.yes_no, self.counts,
                       self.yes_no_label, self.counts_label):
            widget.setVisible(vqa)
        for widget in (self.scores, self.histogram):
            widget.setVisible(captions)
        if evaluation is None:
            self.headline.setText("Open an evaluation, or run one with Evaluate.")
            return
        manifest = evaluation.manifest
        what = f"{html.escape(manifest.model_label)} on {html.escape(manifest.split)} ({manifest.count:,} " \
               f"{'questions' if vqa else 'images'})"
        if vqa:
            self._show_types()
            self._show_analysis()
        else:
            self._show_caption_scores()
            what_scores = f"CIDEr-D <b>{manifest.headline_value:.3f}</b>"
            self.headline.setText(f"<span style='font-size:large'>{what_scores}</span> — {what}")
            return
        weak = weakest(type_bars(self.metrics, table, "question_type", "perQuestionType")) if table else None
        weak_text = (f"<br>Weakest question type: <b style='color:#D55E00'>{html.escape(weak.label)}</b> "
                     f"{weak.value:.1f}% ({weak.count:,} questions)") if weak is not None else ""
        per_answer = ", ".join(f"{html.escape(name)} {float(value):.1f}%"
                               for name, value in (self.metrics.get("perAnswerType") or {}).items())
        self.headline.setText(f"<span style='font-size:large'>VQA accuracy <b>{manifest.headline_value:.2f}%</b>"
                              f"</span> — {what}<br>Per answer type: {per_answer}{weak_text}")

    def weakest_type(self) -> str | None:
        """The weakest question type's name (None without one), as the headline and the bars show it."""
        if self.table is None or self.table.kind != "vqa":
            return None
        weak = weakest(type_bars(self.metrics, self.table, "question_type", "perQuestionType"))
        return weak.label if weak is not None else None

    def _show_types(self) -> None:
        if self.table is None or self.table.kind != "vqa":
            return
        title, column, key = GROUPS[self.group.currentIndex()]
        bars = type_bars(self.metrics, self.table, column, key)
        self.bars.title = f"{title}: accuracy (%), weakest in orange"
        self.bars.set_bars(bars)
        table = self.type_table
        table.setSortingEnabled(False)
        table.setRowCount(len(bars))
        for row, bar in enumerate(bars):
            cells = ((bar.label, None), (f"{bar.value:.2f}", bar.value), (f"{bar.count:,}", bar.count))
            for column_index, (text, key_value) in enumerate(cells):
                item = _Item(text)
                if key_value is not None:
                    item.setData(SORT_ROLE, key_value)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column_index, item)
        table.setSortingEnabled(True)
        table.sortItems(1, Qt.SortOrder.AscendingOrder)  # weakest first

    def _show_analysis(self) -> None:
        bins, title, note = analysis_view.calibration(self.metrics)
        self.calibration.set_bins(bins, title, note)
        for matrix, label, name in ((self.yes_no, self.yes_no_label, "yes_no"), (self.counts, self.counts_label,
                                                                                   "counts")):
            found = analysis_view.confusion(self.metrics, name)
            matrix.setVisible(found is not None)
            if found is not None:
                matrix.set_matrix(*found)
            else:
                label.setText(f"<b>{matrix.title}</b>: no such questions in this evaluation")

    def _show_caption_scores(self) -> None:
        names = [name for name in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr") if name in self.metrics]
        self.scores.setRowCount(len(names))
        for row, name in enumerate(names):
            self.scores.setItem(row, 0, QTableWidgetItem("CIDEr-D" if name == "CIDEr" else name))
            value = QTableWidgetItem(f"{float(self.metrics[name]):.3f}")
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.scores.setItem(row, 1, value)
        edges, counts = analysis_view.cider_histogram(self.metrics, self.table)
        self.histogram.set_counts(edges, counts, f"Per-image CIDEr-D ({sum(counts):,} images)")

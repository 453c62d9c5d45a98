"""Horizontal bar charts of answer probabilities (pyqtgraph).

``AnswerBarChart`` shows one model's top-k answers, best at the top, each bar
labelled with its answer on the axis and its probability at the bar's end.
``ComparisonBarChart`` shows several models' answers side by side: one row
per answer any model ranked, one coloured bar per model in each row.

As pyqtgraph recommends, the plot items are made once and updated with
``setOpts`` / ``setText`` (never rebuilt per answer). Colours follow the
widget's palette, so the charts read in light and dark themes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QWidget

MAX_BARS = 10
MAX_LABEL_PX = 170  # longer answers are elided on the axis (the full text is in the tooltip/table)
BAR_HEIGHT = 0.7
# Distinct, colour-blind-safe series colours (Okabe & Ito 2008).
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


class _ProbabilityPlot(pg.PlotWidget):
    """A plot with answers on the left axis and probability 0..1 along the bottom."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        plot = self.getPlotItem()
        plot.setXRange(0, 1.08, padding=0)
        plot.getAxis("bottom").setTicks([[(v / 4, f"{v * 25}%") for v in range(5)]])
        plot.getAxis("left").setStyle(tickLength=0)
        plot.showGrid(x=True, y=False, alpha=0.25)
        self._axis_width = 0  # the left axis's width so far (it only grows)
        self._rows = 0  # rows the y range is set for
        self._font = QFont()
        self._font.setPointSizeF(max(self._font.pointSizeF(), 9.0))
        plot.getAxis("left").setTickFont(self._font)
        plot.getAxis("bottom").setTickFont(self._font)
        self.apply_palette()

    def apply_palette(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        # pyqtgraph's constructor changes the palette before the plot item exists.
        if event.type() == QEvent.Type.PaletteChange and self.getPlotItem() is not None:
            self.apply_palette()
            self.on_palette_changed()
        super().changeEvent(event)

    def on_palette_changed(self) -> None:
        """Subclasses re-colour their own items."""

    def _set_rows(self, labels: Sequence[str]) -> None:
        # Row 0 at the top: the best answer reads first. The axis is sized for
        # the longest label now: pyqtgraph widens it only after a label failed
        # to fit (it skips that label for a paint), and long answers are elided.
        # It only grows: a new width lays the whole plot out again (a second
        # repaint per answer), and bars that stay put read better anyway.
        metrics = QFontMetrics(self._font)
        shown = [metrics.elidedText(label, Qt.TextElideMode.ElideRight, MAX_LABEL_PX) for label in labels]
        ticks = [(len(labels) - 1 - row, label) for row, label in enumerate(shown)]
        axis = self.getPlotItem().getAxis("left")
        axis.setTicks([ticks])
        width = max((metrics.horizontalAdvance(label) for label in shown), default=20) + 14
        if width > self._axis_width:
            self._axis_width = width
            axis.setWidth(width)
        rows = max(len(labels), 1)
        if rows != self._rows:
            self._rows = rows
            self.getPlotItem().setYRange(-0.6, rows - 0.4, padding=0)


class AnswerBarChart(_ProbabilityPlot):
    """One model's top answers as horizontal bars with their probabilities."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._bars = pg.BarGraphItem(x0=[], y=[], height=BAR_HEIGHT, width=[], brush=self._bar_colour())
        self.addItem(self._bars)
        self._texts: list[pg.TextItem] = []  # the probabilities at the bars' ends, made as needed
        self._labels: list[str] = []
        self._values: list[float] = []
        self._highlight: str | None = None
        self._set_rows([])

    def set_answers(self, answers: Sequence[tuple[str, float]], *, highlight: str | None = None) -> None:
        """``answers``: (text, probability) pairs, best first; ``highlight`` marks the ground truth."""
        answers = list(answers)[:MAX_BARS]
        self._labels = [text for text, _ in answers]
        self._values = [float(prob) for _, prob in answers]
        self._highlight = highlight
        count = len(answers)
        rows = [count - 1 - row for row in range(count)]
        brushes = [self._bar_colour(label == highlight) for label in self._labels]
        self._bars.setOpts(x0=[0.0] * count, y=rows, width=self._values, height=BAR_HEIGHT, brushes=brushes)
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        while len(self._texts) < count:  # made on first use: the chart is built while the app starts
            text = pg.TextItem(anchor=(0, 0.5))
            text.setFont(self._font)
            self.addItem(text)
            self._texts.append(text)
        for index, text in enumerate(self._texts):
            if index < count:
                text.setText(f"{self._values[index] * 100:.1f}%", color=text_colour)
                text.setPos(min(self._values[index], 0.86) + 0.01, rows[index])
                text.setVisible(True)
            else:
                text.setVisible(False)
        self._set_rows(self._labels)

    def clear_answers(self) -> None:
        self.set_answers([])

    def labels(self) -> list[str]:
        return list(self._labels)

    def values(self) -> list[float]:
        return list(self._values)

    def on_palette_changed(self) -> None:
        if getattr(self, "_labels", None):
            self.set_answers(list(zip(self._labels, self._values)), highlight=self._highlight)

    def _bar_colour(self, highlighted: bool = False) -> QColor:
        palette = self.palette()
        return QColor(SERIES_COLOURS[2]) if highlighted else palette.color(QPalette.ColorRole.Highlight)


class ComparisonBarChart(_ProbabilityPlot):
    """Several models' probabilities for the same answers, one bar per model in each row."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._series: list[pg.BarGraphItem] = []
        # Bottom right: the least likely answers sit there, so their short bars leave it room.
        self._legend = self.getPlotItem().addLegend(offset=(-10, -10))
        self._legend.setLabelTextColor(self.palette().color(QPalette.ColorRole.WindowText))
        self._labels: list[str] = []
        self._data: dict[str, list[float]] = {}
        self._set_rows([])

    def set_comparison(self, answers_by_model: dict[str, Sequence[tuple[str, float]]]) -> None:
        """``{model: [(answer, prob), ...]}``; rows are the answers, ordered by their best probability."""
        best: dict[str, float] = {}
        for answers in answers_by_model.values():
            for text, prob in answers:
                best[text] = max(best.get(text, 0.0), float(prob))
        labels = sorted(best, key=lambda text: -best[text])[:MAX_BARS]
        self._labels = labels
        self._data = {
            model: [dict(answers).get(label, 0.0) for label in labels] for model, answers in answers_by_model.items()
        }
        for item in self._series:
            self.removeItem(item)
        self._legend.clear()
        self._series = []
        models = list(self._data)
        height = BAR_HEIGHT / max(len(models), 1)
        for index, model in enumerate(models):
            # Row r's bars stack downwards from its top edge, one per model.
            rows = [len(labels) - 1 - row + BAR_HEIGHT / 2 - height * (index + 0.5) for row in range(len(labels))]
            colour = QColor(SERIES_COLOURS[index % len(SERIES_COLOURS)])
            item = pg.BarGraphItem(x0=[0.0] * len(labels), y=rows, height=height * 0.92,
                                   width=self._data[model], brush=colour)
            self.addItem(item)
            self._legend.addItem(item, model)  # by hand: an item with a name would be added twice
            self._series.append(item)
        self._set_rows(labels)

    def labels(self) -> list[str]:
        return list(self._labels)

    def on_palette_changed(self) -> None:
        legend = getattr(self, "_legend", None)
        if legend is not None:
            legend.setLabelTextColor(self.palette().color(QPalette.ColorRole.WindowText))
            if self._data:
                self.set_comparison({model: list(zip(self._labels, values)) for model, values in self._data.items()})

    def series(self) -> dict[str, list[float]]:
        return {model: list(values) for model, values in self._data.items()}

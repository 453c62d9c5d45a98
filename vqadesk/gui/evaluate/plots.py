"""The Evaluate tab's charts, drawn with QPainter: per-type accuracy bars, the calibration plot, a histogram.

They are small, fixed pictures of a finished evaluation (tens of bars, ten
bins), so plain painting is enough and costs no pyqtgraph import: each widget
keeps its numbers and paints them in ``paintEvent`` with the palette's colours,
so both themes read. ``AccuracyBars`` marks the weakest row (lowest accuracy
among the types holding at least ``MIN_COUNT_FOR_WEAKEST`` questions) in a
warning colour and says so in its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR_COLOUR = QColor("#0072B2")  # Okabe & Ito blue, as the Explore tab's charts
WEAK_COLOUR = QColor("#D55E00")  # Okabe & Ito vermillion: the weakest type
OTHER_COLOUR = QColor("#E69F00")
ROW_HEIGHT = 18
MARGIN = 6
MIN_COUNT_FOR_WEAKEST = 5  # a type with fewer questions is too noisy to be called the weakest


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..100
    count: int


def weakest(bars: Sequence[Bar]) -> Bar | None:
    """The lowest bar among those with enough questions (or among all when none has)."""
    enough = [bar for bar in bars if bar.count >= MIN_COUNT_FOR_WEAKEST] or list(bars)
    return min(enough, key=lambda bar: bar.value, default=None)


class _Chart(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def _text_colour(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def _grid_colour(self) -> QColor:
        colour = QColor(self._text_colour())
        colour.setAlpha(60)
        return colour

    def _begin(self) -> QPainter:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        painter.setPen(self._text_colour())
        painter.drawText(QRectF(MARGIN, 2, self.width() - 2 * MARGIN, ROW_HEIGHT),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title)
        return painter


class AccuracyBars(_Chart):
    """Horizontal bars, one per type, longest label on the left, accuracy (0-100 %) along the bottom."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        self.bars: list[Bar] = []
        self.weak: Bar | None = None

    def set_bars(self, bars: Sequence[Bar]) -> None:
        self.bars = sorted(bars, key=lambda bar: bar.value)
        self.weak = weakest(self.bars) if len(self.bars) > 1 else None
        self.setFixedHeight(sizes_for(len(self.bars)))
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(360, sizes_for(len(self.bars)))

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = self._begin()
        metrics = QFontMetrics(self.font())
        label_width = min(max((metrics.horizontalAdvance(bar.label) for bar in self.bars), default=40) + 8,
                          self.width() // 3)
        left, right = MARGIN + label_width, self.width() - MARGIN - metrics.horizontalAdvance("100.0% (99999)")
        span = max(right - left, 10)
        top = ROW_HEIGHT + 4
        painter.setPen(QPen(self._grid_colour(), 1))
        for tick in range(0, 101, 25):
            x = left + span * tick / 100
            painter.drawLine(QPointF(x, top), QPointF(x, top + ROW_HEIGHT * len(self.bars)))
        for row, bar in enumerate(self.bars):
            y = top + row * ROW_HEIGHT
            painter.setPen(self._text_colour())
            label = metrics.elidedText(bar.label, Qt.TextElideMode.ElideRight, label_width - 6)
            painter.drawText(QRectF(MARGIN, y, label_width - 6, ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            colour = WEAK_COLOUR if bar is self.weak else BAR_COLOUR
            painter.fillRect(QRectF(left, y + 3, span * max(bar.value, 0) / 100, ROW_HEIGHT - 6), colour)
            text = f"{bar.value:.1f}% ({bar.count})" + ("  weakest" if bar is self.weak else "")
            painter.drawText(QRectF(left + span * max(bar.value, 0) / 100 + 4, y, 200, ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()


def sizes_for(rows: int) -> int:
    return ROW_HEIGHT * (rows + 1) + 10


@dataclass(frozen=True)
class CalibrationBin:
    low: float  # top-score range [low, high)
    high: float
    count: int
    accuracy: float | None  # mean VQA accuracy in the bin, 0..100 (None: empty bin)
    confidence: float | None  # mean top score in the bin, 0..1


class CalibrationPlot(_Chart):
    """Accuracy against the model's top score: one bar per bin, the diagonal of a calibrated model, counts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Calibration", parent)
        self.bins: list[CalibrationBin] = []
        self.note = ""
        self.setFixedHeight(240)

    def set_bins(self, bins: Sequence[CalibrationBin], title: str, note: str = "") -> None:
        self.bins, self.title, self.note = list(bins), title, note
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = self._begin()
        metrics = QFontMetrics(self.font())
        area = QRectF(MARGIN + metrics.horizontalAdvance("100%") + 6, ROW_HEIGHT + 8,
                      self.width() - 2 * MARGIN - metrics.horizontalAdvance("100%") - 12,
                      self.height() - 3 * ROW_HEIGHT - 16)
        if not self.bins:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.note)
            painter.end()
            return
        painter.setPen(QPen(self._grid_colour(), 1))
        for tick in range(0, 101, 25):
            y = area.bottom() - area.height() * tick / 100
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(self._text_colour())
            painter.drawText(QRectF(MARGIN, y - 8, area.left() - MARGIN - 4, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{tick}%")
            painter.setPen(QPen(self._grid_colour(), 1))
        width = area.width() / len(self.bins)
        for index, b in enumerate(self.bins):
            x = area.left() + index * width
            if b.accuracy is not None:
                height = area.height() * b.accuracy / 100
                painter.fillRect(QRectF(x + 2, area.bottom() - height, width - 4, height), BAR_COLOUR)
            painter.setPen(self._text_colour())
            painter.drawText(QRectF(x, area.bottom() + 2, width, ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignCenter, f"{b.low:.1f}")
            painter.drawText(QRectF(x, area.bottom() + ROW_HEIGHT, width, ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignCenter, f"n={b.count}")
        painter.setPen(QPen(WEAK_COLOUR, 2, Qt.PenStyle.DashLine))
        painter.drawLine(area.bottomLeft(), area.topRight())  # a calibrated model's accuracy = its score
        painter.end()


class Histogram(_Chart):
    """Vertical bars: how many items fall in each value range (the per-image CIDEr-D distribution)."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        self.edges: list[float] = []
        self.counts: list[int] = []
        self.setFixedHeight(200)

    def set_counts(self, edges: Sequence[float], counts: Sequence[int], title: str) -> None:
        self.edges, self.counts, self.title = list(edges), list(counts), title
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = self._begin()
        area = QRectF(MARGIN, ROW_HEIGHT + 8, self.width() - 2 * MARGIN, self.height() - 2 * ROW_HEIGHT - 14)
        top = max(self.counts, default=0)
        if top > 0:
            width = area.width() / len(self.counts)
            for index, count in enumerate(self.counts):
                height = (area.height() - ROW_HEIGHT) * count / top
                x = area.left() + index * width
                painter.fillRect(QRectF(x + 1, area.bottom() - height, width - 2, height), BAR_COLOUR)
                if count:
                    painter.drawText(QRectF(x, area.bottom() - height - ROW_HEIGHT, width, ROW_HEIGHT),
                                     Qt.AlignmentFlag.AlignCenter, str(count))
                if index % max(1, len(self.counts) // 5) == 0:  # about five edge values along the bottom
                    painter.drawText(QRectF(max(x - 20, area.left()), area.bottom() + 2, 60, ROW_HEIGHT),
                                     Qt.AlignmentFlag.AlignLeft, f"{self.edges[index]:.3g}")
        painter.end()

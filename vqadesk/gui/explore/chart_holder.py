"""Where a panel's chart goes: an empty widget until the chart is first needed.

The charts (``charts.py``) are pyqtgraph widgets, and pyqtgraph is slow to
import: a panel is made with a ``ChartHolder`` and the window shows at once;
the chart is made on first use (``chart()``), which the window asks for once a
pool thread has imported pyqtgraph (``gui/startup.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget


class ChartHolder(QWidget):
    """Holds the chart ``make_chart()`` returns, made on the first call of ``chart()``."""

    def __init__(self, make_chart: Callable[[], QWidget], minimum_height: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(minimum_height)
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)
        self._make_chart = make_chart
        self.made: QWidget | None = None  # the chart, once made

    def chart(self) -> QWidget:
        if self.made is None:
            self.made = self._make_chart()
            self.layout().addWidget(self.made)
        return self.made

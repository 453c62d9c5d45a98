"""A QTabWidget that does not repaint all of itself whenever a label inside it changes.

Any widget whose text changes (a status line, a caption) asks its parents to
lay out again, up to the nearest QTabWidget, and QTabWidget answers every such
layout request by repainting its whole area -- for the window's main tabs,
the whole window, twice per question answered (docs/app.md has the figures).
``SteadyTabWidget`` lays out
again (and repaints) only when the request changes something the tab widget
itself depends on: its tab bar's size or the minimum size of its pages. The
page that asked lays itself out as usual, and repaints only what changed.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QTabWidget, QWidget


class SteadyTabWidget(QTabWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._constraints = None  # what the last layout was made for

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and self.isVisible():
            constraints = (self.tabBar().sizeHint(), self.minimumSizeHint(), self.count(), self.currentIndex())
            if constraints == self._constraints:
                return True  # nothing of the tab widget's own layout moved: no full repaint
            self._constraints = constraints
        return super().event(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._constraints = None  # laid out again by Qt; the next request is checked afresh
        super().resizeEvent(event)

"""The Evaluate tab's place in the main window: a placeholder until the tab is first shown.

The tab is made when the user first opens it (or a screenshot, a test asks for
it: ``build_now``), so the window's start-up does not pay for its widgets. Until
then the slot remembers the open dataset and the usable models, and hands them
over when the tab is made; afterwards it passes them on as they change.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QTabWidget

TAB_INDEX = 2
TITLE = "Evaluate"


class EvaluateTabSlot(QObject):
    sig_installed = Signal(object)  # the EvaluateTab, once it is in place

    def __init__(self, tabs: QTabWidget, models: Callable[[], list[tuple[str, str, str]]],
                 parent: QObject | None = None):
        super().__init__(parent)
        self._tabs = tabs
        self._models = models
        self.tab = None  # the EvaluateTab once made
        self._dataset: tuple[str | None, list[str], str | None] = (None, [], None)
        tabs.insertTab(TAB_INDEX, QLabel("Loading the Evaluate tab…", alignment=Qt.AlignmentFlag.AlignCenter), TITLE)

    def build_now(self):
        """The tab, made now if it was not yet."""
        if self.tab is not None:
            return self.tab
        from vqadesk.gui.evaluate.tab import EvaluateTab

        tab = EvaluateTab()
        tab.set_dataset(*self._dataset)
        tab.set_models(self._models())
        tabs = self._tabs
        current = tabs.currentIndex()
        placeholder = tabs.widget(TAB_INDEX)
        tabs.blockSignals(True)  # swapping the placeholder is not the user changing tabs
        tabs.removeTab(TAB_INDEX)
        tabs.insertTab(TAB_INDEX, tab, TITLE)
        tabs.setCurrentIndex(current)
        tabs.blockSignals(False)
        placeholder.deleteLater()
        self.tab = tab
        tab.refresh()
        self.sig_installed.emit(tab)
        return tab

    def shown(self) -> None:
        """The user opened the tab: make it, and offer the models listed now."""
        self.build_now().set_models(self._models())

    def set_dataset(self, root: str | None, split_names: list[str], shown: str | None = None) -> None:
        self._dataset = (root, split_names, shown)
        if self.tab is not None:
            self.tab.set_dataset(root, split_names, shown)

    def models_changed(self) -> None:
        if self.tab is not None:
            self.tab.set_models(self._models())

    def is_running(self) -> bool:
        return self.tab is not None and self.tab.is_running()

    def shutdown(self) -> None:
        if self.tab is not None:
            self.tab.shutdown()

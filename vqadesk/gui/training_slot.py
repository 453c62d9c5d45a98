"""The Training tab's place in the main window: a placeholder until the tab is made.

The tab (pyqtgraph plots) is made in small pieces while the window is idle
(``training/tab.build_in_steps``, each piece followed by a turn of the event
loop), or at once when it is first needed (``build_now``: the user opens the
tab, or pins a probe). While thumbnails are being made the next piece waits:
their threads' Python would slow each piece several times over (the GIL),
and the first screen's thumbnails come first.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QTabWidget

from vqadesk.gui.background.inference import InferenceClient

TAB_INDEX = 1
# While thumbnails are being made, the Training tab's next piece waits this long (ms).
STEP_RETRY_MS = 100


class TrainingTabSlot(QObject):
    """Makes the Training tab in steps and swaps it in for the placeholder at ``TAB_INDEX``."""

    sig_installed = Signal(object)  # the TrainingTab, once it is in place

    def __init__(self, tabs: QTabWidget, settings: QSettings, inference: InferenceClient,
                 thumbnails_busy: Callable[[], bool], parent: QObject | None = None):
        super().__init__(parent)
        self._tabs = tabs
        self._settings = settings
        self._inference = inference
        self._thumbnails_busy = thumbnails_busy
        self.tab = None  # a TrainingTab once made
        self._steps = None  # build_in_steps while the tab is being made
        self._dataset: str | None = None  # the dataset folder the tab's form proposes
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._step)
        tabs.addTab(QLabel("Loading the Training tab…", alignment=Qt.AlignmentFlag.AlignCenter), "Training")

    def start_building(self) -> None:
        """Make the tab in steps from the next idle turn on (nothing if it is made)."""
        if self.tab is None:
            self._timer.start(0)

    def build_now(self) -> None:
        """The tab now: made already, or its remaining pieces made here."""
        if self.tab is not None:
            return
        self._timer.stop()
        tab = None
        for tab in self._pieces():
            if tab is not None:
                break
        self._install(tab)

    def set_dataset(self, root: str) -> None:
        self._dataset = root
        if self.tab is not None:
            self.tab.set_dataset(root)

    def show_unavailable(self, message: str) -> None:
        """The placeholder says why there will be no tab."""
        self._tabs.widget(TAB_INDEX).setText(message)

    def is_running(self) -> bool:
        return self.tab is not None and self.tab.is_running()

    def shutdown(self) -> None:
        self._timer.stop()
        if self.tab is not None:
            self.tab.shutdown()

    def _pieces(self):
        if self._steps is None:
            from vqadesk.gui.training.tab import build_in_steps

            self._steps = build_in_steps(self._settings, self._inference)
        return self._steps

    def _step(self) -> None:
        """One piece of the tab, then the event loop."""
        if self.tab is not None:
            return
        if self._thumbnails_busy():
            self._timer.start(STEP_RETRY_MS)
            return
        tab = next(self._pieces())
        if tab is None:
            self._timer.start(0)
        else:
            self._install(tab)

    def _install(self, tab) -> None:
        self._steps = None
        self.tab = tab
        if self._dataset:
            tab.set_dataset(self._dataset)
        tabs = self._tabs
        current = tabs.currentIndex()
        placeholder = tabs.widget(TAB_INDEX)
        tabs.blockSignals(True)  # swapping the placeholder is not the user changing tabs
        tabs.removeTab(TAB_INDEX)
        tabs.insertTab(TAB_INDEX, tab, "Training")
        tabs.setCurrentIndex(current)
        tabs.blockSignals(False)
        placeholder.deleteLater()
        self.sig_installed.emit(tab)

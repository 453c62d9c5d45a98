"""The main window's start-up, in order, and what each step waits for.

1. The window is built; ``freeze_long_lived`` (its objects are here to stay).
2. ``begin`` (``MainWindow.start``): the inference process starts loading the
   models; a pool thread imports pyqtgraph; another opens the dataset.
3. pyqtgraph imported: the Ask panel's chart is made, then, on the next
   event-loop turn, the Compare panel's (``CHARTS_MADE``). If the import
   fails there are no charts, and the Training tab's placeholder says why.
4. The dataset arrives: shown at once, or, while pyqtgraph is still being
   imported, held until that ends (the import is Python that would make every
   call of the dataset's first paint wait for the GIL).
5. The first image is on screen, or the reason there is none
   (``FIRST_IMAGE``): once the charts are made too, the Training tab is made
   in steps while the window is idle (``training_slot.TrainingTabSlot``).
6. The models have loaded or failed (``MODELS_SETTLED``) and the first image
   is shown: ``freeze_long_lived`` again, then ``sig_ready`` (``READY``), which
   is when ``--screenshot`` takes its picture.
7. The Training tab is installed: ``freeze_long_lived`` once more.

A window that is never started waits for no models: step 6 needs only its image.
"""

from __future__ import annotations

import gc
from enum import Enum, auto
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from vqadesk.data.dataset import Dataset
from vqadesk.gui.window_settings import last_dataset

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow


class Milestone(Enum):
    STARTED = auto()  # begin(): models loading, pyqtgraph importing, the dataset opening
    CHARTS_MADE = auto()  # pyqtgraph imported and the Explore tab's charts made
    PLOTTING_SETTLED = auto()  # the charts made, or pyqtgraph failed to import
    FIRST_IMAGE = auto()  # the first image, or why there is none, is on screen
    MODELS_SETTLED = auto()  # the models loaded or failed to
    READY = auto()  # sig_ready sent


def import_plotting() -> None:
    """Pool thread: import pyqtgraph and the modules built on it off the GUI thread (and the Evaluate tab's
    modules, about 120 ms of imports its first showing would otherwise pay on the GUI thread)."""
    import vqadesk.gui.evaluate.tab
    import vqadesk.gui.explore.charts
    import vqadesk.gui.training.tab  # noqa: F401


def freeze_long_lived() -> None:
    """Leave the objects that exist now out of Python's full collections (``gc.freeze``).

    A full (generation 2) collection walks every tracked object while holding
    the GIL, at any allocation in any thread, so it can stall the window (see
    docs/app.md, "Start-up"). Frozen objects are never walked; garbage among
    them is still freed by reference counting (only cycles among them stay).
    """
    gc.freeze()


class StartupSequence(QObject):
    """Which start-up milestones the window has reached, and what each one lets happen next."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self._window = window
        self._reached: set[Milestone] = set()
        self._held: Dataset | None = None  # a dataset that arrived while pyqtgraph was being imported

    def reached(self, milestone: Milestone) -> bool:
        return milestone in self._reached

    def begin(self, dataset: str | None) -> None:
        """Step 2: start the inference process and open ``dataset`` (None: the last one, else the Shapes world)."""
        if self.reached(Milestone.STARTED):
            return
        self._reached.add(Milestone.STARTED)
        window = self._window
        window.inference.start()
        window.tasks.start(import_plotting, on_done=lambda _none: self._make_charts(),
                           on_fail=self._plotting_failed)
        if dataset is None:
            dataset = last_dataset(window.settings)
        window.open_dataset(dataset)

    def dataset_arrived(self, dataset: Dataset) -> None:
        """Step 4: a pool thread opened ``dataset``; shown now, or once pyqtgraph's import has ended."""
        if self.reached(Milestone.STARTED) and not self.reached(Milestone.PLOTTING_SETTLED):
            self._held = dataset
            return
        self._window.show_dataset(dataset)

    def image_settled(self) -> None:
        """Step 5: the first image (or the reason there is none) is on screen."""
        self._reached.add(Milestone.FIRST_IMAGE)
        self._start_training_tab()
        self._send_ready()

    def models_settled(self) -> None:
        """Step 6's other half: the models loaded, or failed to."""
        self._reached.add(Milestone.MODELS_SETTLED)
        self._send_ready()

    # -- the steps -----------------------------------------------------------------------------

    def _make_charts(self) -> None:
        """Step 3: pyqtgraph is imported: one chart per event-loop turn."""
        _ = self._window.ask_panel.chart
        QTimer.singleShot(1, self._make_compare_chart)  # 1 ms: a timer, so the next event-loop turn

    def _make_compare_chart(self) -> None:
        _ = self._window.compare_panel.chart
        self._window.watch_drops()  # the plots accept drops
        self._reached.add(Milestone.CHARTS_MADE)
        self._plotting_settled()
        self._start_training_tab()

    def _plotting_failed(self, message: str) -> None:
        """pyqtgraph did not import (a broken install): no charts, but the dataset still shows."""
        self._window.training_slot.show_unavailable(
            f"The Training tab needs pyqtgraph, which could not be imported:\n{message}")
        self._window.statusBar().showMessage(f"Charts are unavailable: {message}")
        self._plotting_settled()

    def _plotting_settled(self) -> None:
        self._reached.add(Milestone.PLOTTING_SETTLED)
        if self._held is not None:
            dataset, self._held = self._held, None
            QTimer.singleShot(0, lambda: self._window.show_dataset(dataset))

    def _start_training_tab(self) -> None:
        """Step 5: once started, the charts made and the first image shown."""
        if all(self.reached(m) for m in (Milestone.STARTED, Milestone.CHARTS_MADE, Milestone.FIRST_IMAGE)):
            self._window.training_slot.start_building()

    def _send_ready(self) -> None:
        """Step 6: the first image shown and, in a started window, the models settled."""
        models_pending = self.reached(Milestone.STARTED) and not self.reached(Milestone.MODELS_SETTLED)
        if self.reached(Milestone.FIRST_IMAGE) and not models_pending and not self.reached(Milestone.READY):
            self._reached.add(Milestone.READY)
            freeze_long_lived()  # charts, first dataset, models' records: here to stay
            self._window.sig_ready.emit()


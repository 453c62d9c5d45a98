"""Measure how long the GUI thread's event loop goes without running (Qt, for tests and benchmarks).

``EventLoopMonitor`` runs a zero-work timer every ``interval_ms`` and records
the time between its ticks. A tick that comes late means the GUI thread was
busy (or blocked on the GIL) for that long: the window could not repaint or
react. ``longest_gap_ms`` minus the interval is the worst stall.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

DEFAULT_INTERVAL_MS = 5


class EventLoopMonitor(QObject):
    def __init__(self, interval_ms: int = DEFAULT_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.gaps_ms: list[float] = []
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()

    @property
    def longest_gap_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    def percentile_ms(self, q: float) -> float:
        if not self.gaps_ms:
            return 0.0
        ordered = sorted(self.gaps_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps_ms.append((now - self._last) * 1000.0)
        self._last = now

"""The started main window the GUI tests share: shown, started on a dataset, ready."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from vqadesk.gui.main_window import MainWindow


def started_window(qtbot, settings: QSettings, dataset: Path, timeout_ms: int) -> MainWindow:
    """A CPU main window on ``dataset`` once ``sig_ready`` fired (models loaded, first image shown)."""
    win = MainWindow(settings, device="cpu")
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.sig_ready, timeout=timeout_ms):
        win.start(str(dataset))
    return win

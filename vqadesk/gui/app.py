"""Start the desktop app: QApplication, settings, the main window, and the
``--screenshot`` / ``--quit-after`` mode used by tests, docs and reviewers."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from vqadesk import __version__
from vqadesk.paths import user_data_dir

# After the first image is on screen, give thumbnails a moment to fill in
# before the screenshot is taken.
SCREENSHOT_SETTLE_MS = 1200


def open_settings() -> QSettings:
    """The app's settings, an INI file in the user data folder.

    A damaged file is moved aside (``settings.ini.broken``) and the app starts
    with defaults rather than failing.
    """
    path = user_data_dir() / "settings.ini"
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    if settings.status() != QSettings.Status.NoError:
        path.replace(path.with_suffix(".ini.broken"))
        settings = QSettings(str(path), QSettings.Format.IniFormat)
    return settings


def run_gui(
    *,
    dataset: str | None = None,
    screenshot: str | None = None,
    quit_after: float | None = None,
) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("vqadesk")
    app.setApplicationVersion(__version__)

    from vqadesk.gui.main_window import MainWindow

    # Screenshots always show the default 1280x800 layout, whatever the user
    # last resized the window to.
    window = MainWindow(open_settings(), restore_geometry=screenshot is None)
    window.show()

    start = dataset
    if start is None:
        last = window.settings.value("dataset/last")
        start = last if isinstance(last, str) and Path(last).is_dir() else None
    # Let the window paint first, then start opening the dataset.
    QTimer.singleShot(0, lambda: window.open_dataset(start))

    saved = {"done": False}

    def save_screenshot() -> None:
        if screenshot and not saved["done"]:
            saved["done"] = True
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(screenshot):
                print(f"vqadesk: error: could not write screenshot {screenshot}", file=sys.stderr)

    def finish() -> None:
        save_screenshot()
        window.close()
        app.quit()

    if screenshot:
        window.sig_ready.connect(lambda: QTimer.singleShot(SCREENSHOT_SETTLE_MS, finish))
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), finish)
    return app.exec()

"""Start the desktop app: QApplication, theme, settings, the main window, and the
``--screenshot`` / ``--quit-after`` / ``--tab`` mode used by tests, docs and reviewers.

The window is shown before anything slow starts (torch is imported only by
the inference process, the dataset opened in a pool thread). ``--screenshot``
waits for the window's ``sig_ready`` (first image shown, models loaded),
then asks the image's first dataset question and lets the answer, the
caption and the thumbnails arrive before it saves the picture, so the
screenshot shows every panel at work.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from vqadesk import __version__
from vqadesk.errors import internal_error
from vqadesk.gui.platform_check import check_xcb_libraries
from vqadesk.gui.style import apply_theme
from vqadesk.paths import UserDataError, user_data_dir

# After the first answer is on screen, give thumbnails a moment to fill in
# before the screenshot is taken.
SCREENSHOT_SETTLE_MS = 1200
# The longest a screenshot waits for the first answer before it is taken anyway.
SCREENSHOT_ANSWER_TIMEOUT_MS = 8000
MAIN_TABS = ("explore", "training", "evaluate")  # the window's tabs, in order (``--tab``)


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


def open_settings_or_note() -> tuple[QSettings, str | None]:
    """``open_settings()``, or, when the user data folder cannot be made, settings kept for this
    session only (in a temporary folder) and the one line that says why."""
    try:
        return open_settings(), None
    except UserDataError as exc:
        folder = tempfile.mkdtemp(prefix="vqadesk-settings-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        return settings, f"{exc} (settings are kept for this session only)"


def show_startup_problem(window: QMainWindow, problem: str) -> QLabel:
    """``problem`` on stderr and, for as long as the window lives, at the right of its status bar."""
    print(f"vqadesk: warning: {problem}", file=sys.stderr)
    label = QLabel(problem)
    label.setObjectName("startup-problem")
    label.setToolTip(problem)
    window.statusBar().addPermanentWidget(label)
    return label


def _report_slot_errors_in(window) -> None:
    """An exception escaping a Qt slot would print a traceback and carry on: show one line
    in the window (and on stderr) instead; ``VQADESK_DEBUG=1`` keeps the traceback."""
    if os.environ.get("VQADESK_DEBUG"):
        return

    def hook(kind, value, _traceback) -> None:
        message = internal_error(value)
        print(f"vqadesk: {message} (set VQADESK_DEBUG=1 to see the traceback)", file=sys.stderr)
        window.statusBar().showMessage(message)

    sys.excepthook = hook


def _report_time(what: str) -> None:
    """One JSON line on stderr: the wall-clock time ``what`` happened (the first timer after
    ``show`` runs once the window has been laid out and painted)."""
    print(json.dumps({"event": what, "time": time.time()}), file=sys.stderr, flush=True)


def run_gui(
    *,
    dataset: str | None = None,
    screenshot: str | None = None,
    quit_after: float | None = None,
    tab: str = "explore",
) -> int:
    app = QApplication.instance()
    if app is None:
        check_xcb_libraries()  # one line naming what is missing, rather than Qt's abort
        app = QApplication(sys.argv[:1])
    app.setApplicationName("vqadesk")
    app.setApplicationVersion(__version__)
    settings, startup_problem = open_settings_or_note()
    apply_theme(app, str(settings.value("view/theme", "system")))

    from vqadesk.gui.main_window import MainWindow

    # Screenshots always show the default 1280x800 layout, whatever the user
    # last resized the window to.
    window = MainWindow(settings, restore_geometry=screenshot is None)
    window.show()
    if startup_problem:
        show_startup_problem(window, startup_problem)
    _report_slot_errors_in(window)
    if os.environ.get("VQADESK_REPORT_STARTUP"):  # benchmarks/bench_gui_startup.py reads these
        QTimer.singleShot(0, lambda: _report_time("window_shown"))
        window.sig_ready.connect(lambda: _report_time("ready"))
    # Let the window paint first, then start the worker and open the dataset.
    QTimer.singleShot(0, lambda: window.start(dataset))

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

    def show_an_answer() -> None:
        """Ask the first dataset question about the image, then take the picture."""
        panel = window.ask_panel
        if panel.dataset_question_count() == 0 or window.inference.models is None:
            QTimer.singleShot(SCREENSHOT_SETTLE_MS, finish)
            return
        panel.sig_answered.connect(lambda *_: QTimer.singleShot(SCREENSHOT_SETTLE_MS, finish))
        QTimer.singleShot(SCREENSHOT_ANSWER_TIMEOUT_MS, finish)
        panel.ask_dataset_question(0)

    if tab != "explore":  # first, so the screenshot's answer and settling happen with this tab in front
        window.sig_ready.connect(lambda: window.tabs.setCurrentIndex(MAIN_TABS.index(tab)))
    if screenshot:
        window.sig_ready.connect(show_an_answer)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), finish)
    return app.exec()

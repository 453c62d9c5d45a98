"""Hostile files through the app: a readable one-line message in the window, and the app carries on (issue 16).

A dataset folder whose annotation file is a FIFO, holds an integer of 5,000
digits or a lone UTF-16 surrogate is refused in the window's words (never
"internal error", never a hang), and the dataset shown before stays usable.
A user data folder that cannot be made (``VQADESK_DATA_DIR`` under a regular
file, so ``mkdir`` fails even as root) does not stop the window from starting.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.support import hostile_files as hostile
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.gui.main_window import MainWindow

WAIT_MS = 60000  # a bound on a hang, not a speed
INSTANCES = "annotations/instances_val.json"
CAPTIONS = "annotations/captions_val.json"


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("val",), n_images=4, seed=3, size=64)
    return root


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, device="cpu")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_wait(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.sig_dataset_changed, timeout=WAIT_MS):
        window.open_dataset(str(path))


def spoil_surrogate(path: Path) -> str:
    hostile.set_first(path, "annotations", "caption", hostile.LONE_SURROGATE)
    return "lone UTF-16 surrogate"


def spoil_digits(path: Path) -> str:
    hostile.five_thousand_digits(path, "image_id")
    return "a number of 5,000 digits"


def spoil_fifo(path: Path) -> str:
    hostile.fifo(path)
    return "is not a regular file (a FIFO)"


SPOILERS = {"fifo": (INSTANCES, spoil_fifo), "5000-digits": (INSTANCES, spoil_digits),
            "surrogate": (CAPTIONS, spoil_surrogate)}


@pytest.mark.parametrize("kind", [
    "fifo", "5000-digits", "surrogate"])
def test_a_hostile_annotation_file_is_one_readable_line_and_the_app_carries_on(
        qtbot, window, shapes_root, tmp_path, kind):
    open_and_wait(qtbot, window, shapes_root)
    shown = window.dataset
    hostile_root = tmp_path / "hostile"
    write_shapes_dataset(hostile_root, splits=("val",), n_images=4, seed=4, size=64)
    relative, spoiler = SPOILERS[kind]
    annotation = hostile_root / relative
    expected = spoiler(annotation)

    window.open_dataset(str(hostile_root))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Could not open the dataset", timeout=WAIT_MS)
    message = window.viewer._message.text()
    assert str(annotation) in message and expected in message, message
    assert "internal error" not in message.lower()
    assert len(message.removeprefix("Could not open the dataset:\n").splitlines()) == 1, message

    # The dataset shown before is still the window's, and its images still show.
    assert window.dataset is shown
    split = window.browser.split
    assert split is not None and split.coco is shown.split("val").coco
    window.browser.select_row(1)
    (chosen,) = window.browser.selected_image_ids()
    qtbot.waitUntil(lambda: window.viewer._message is None and window.context is not None
                    and window.context.image_id == chosen, timeout=WAIT_MS)
    # ... and it opens again.
    open_and_wait(qtbot, window, shapes_root)
    assert "internal error" not in window.statusBar().currentMessage()


def test_a_user_data_folder_that_cannot_be_made_still_starts_the_window(qtbot, monkeypatch, tmp_path, shapes_root):
    from vqadesk.gui import app

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data_dir = blocker / "data"  # under a regular file: mkdir fails even as root
    monkeypatch.setenv("VQADESK_DATA_DIR", str(data_dir))
    settings, problem = app.open_settings_or_note()
    assert problem is not None and str(data_dir) in problem and "cannot be created" in problem
    win = MainWindow(settings, device="cpu")
    qtbot.addWidget(win)
    win.show()
    label = app.show_startup_problem(win, problem)
    open_and_wait(qtbot, win, shapes_root)  # a dataset opens all the same
    assert win.dataset.root == shapes_root
    assert label.isVisible() and label.text() == problem  # still said once the dataset's message came
    assert "internal error" not in win.statusBar().currentMessage()
    # The Shapes world (made in the user data folder) cannot be: said in the window's words.
    win.open_dataset(None)
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == "Could not open the dataset", timeout=WAIT_MS)
    assert str(data_dir) in win.viewer._message.text() and "internal error" not in win.viewer._message.text()
    assert win.dataset.root == shapes_root
    win.close()
    assert not data_dir.exists()

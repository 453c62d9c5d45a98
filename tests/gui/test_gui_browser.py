"""The first version of the desktop app: open datasets, browse, look at an image."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.gui.main_window import MainWindow

WAIT_MS = 60000  # a bound on a hang, not a speed: the tests share a busy 2-core machine


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=12, seed=3)
    return root


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_wait(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.sig_dataset_changed, timeout=20000):
        window.open_dataset(str(path))


def test_opens_shapes_world_and_shows_first_image(qtbot, window, shapes_root):
    open_and_wait(qtbot, window, shapes_root)
    browser = window.browser
    assert [browser.split_box.itemText(i) for i in range(browser.split_box.count())] == ["train", "val"]
    assert browser.split_box.currentText() == "val"  # a validation split is shown first
    assert browser.model.rowCount() == 12
    qtbot.waitUntil(lambda: window.viewer.boxes_count() > 0, timeout=10000)
    split = window.dataset.split("val")
    first = split.image_ids[0]
    assert window.viewer.boxes_count() == len(split.coco.objects(first))
    assert window.caption_panel.references.count() == len(split.coco.captions(first)) >= 5
    assert window.ask_panel.questions.rowCount() == len(split.questions(first)) > 0
    # Thumbnails are made in the background for the visible rows.
    qtbot.waitUntil(lambda: browser.model.loaded_count() > 0, timeout=10000)


def test_selecting_another_image_and_split_updates_the_panels(qtbot, window, shapes_root):
    open_and_wait(qtbot, window, shapes_root)
    window.browser.select_row(3)
    split = window.dataset.split("val")
    wanted = split.coco.image(split.image_ids[3]).file_name
    qtbot.waitUntil(lambda: wanted in window.image_info.text(), timeout=WAIT_MS)
    window.browser.split_box.setCurrentText("train")
    train = window.dataset.split("train")
    wanted = train.coco.image(train.image_ids[0]).file_name
    qtbot.waitUntil(lambda: wanted in window.image_info.text(), timeout=WAIT_MS)


def test_filter_by_category_and_id(qtbot, window, shapes_root):
    open_and_wait(qtbot, window, shapes_root)
    split = window.dataset.split("val")
    some_id = split.image_ids[5]
    window.browser.filter_edit.setText(str(some_id))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=WAIT_MS)
    window.browser.filter_edit.setText("no-such-thing-anywhere")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 0, timeout=WAIT_MS)
    assert "0 of 12" in window.browser.count_label.text()


def test_object_boxes_toggle(qtbot, window, shapes_root):
    open_and_wait(qtbot, window, shapes_root)
    qtbot.waitUntil(lambda: window.viewer.boxes_count() > 0, timeout=10000)
    window.boxes_action.setChecked(False)
    assert not any(item.isVisible() for item in window.viewer._box_items)
    window.boxes_action.setChecked(True)
    assert all(item.isVisible() for item in window.viewer._box_items)


def test_plain_photo_folder_with_a_broken_file(qtbot, window, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(photos / "holiday.jpg")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    open_and_wait(qtbot, window, photos)
    assert window.dataset.kind == "photos"
    names = {window.dataset.split("photos").coco.image(i).file_name for i in window.dataset.split("photos").image_ids}
    assert "holiday.jpg" in names
    # Selecting the broken file shows a message naming it instead of crashing.
    split = window.dataset.split("photos")
    row = [split.coco.image(i).file_name for i in split.image_ids].index("broken.png")
    window.browser.select_row(row)
    qtbot.waitUntil(lambda: window.viewer._message is not None, timeout=WAIT_MS)
    assert "broken.png" in window.viewer._message.text()


def test_missing_dataset_is_reported_in_the_window(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.sig_ready, timeout=WAIT_MS):
        window.open_dataset(str(tmp_path / "nowhere"))
    assert "nowhere" in window.viewer._message.text()
    assert "Could not open" in window.statusBar().currentMessage()


def test_cli_screenshot(tmp_path, shapes_root):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VQADESK_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "vqadesk", "gui", "--dataset", str(shapes_root),
         "--screenshot", str(shot), "--quit-after", "30"],
        env=env, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr
    with Image.open(shot) as image:
        assert image.width >= 800 and image.height >= 500


def test_cli_gui_rejects_a_missing_dataset_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vqadesk", "gui", "--dataset", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith("folder not found")
    assert "Traceback" not in result.stderr


def test_first_launch_generates_the_shapes_world_then_reuses_it(tmp_path):
    """A bare `vqadesk` on a fresh user folder: Shapes world generated, opened, remembered."""
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VQADESK_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "vqadesk", "--screenshot", str(tmp_path / "a.png"), "--quit-after", "60"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    marker = data / "shapes-world" / ".vqadesk-complete.json"
    assert marker.is_file()
    assert (data / "shapes-world" / "annotations" / "captions_train.json").is_file()
    stamp = marker.stat().st_mtime_ns
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert marker.stat().st_mtime_ns == stamp  # reopened, not regenerated
    assert "shapes-world" in (data / "settings.ini").read_text()


def test_real_coco_photos_folder(qtbot, window, coco_real):
    """The 15 real COCO photos open as a folder of photos, sizes read from the files."""
    open_and_wait(qtbot, window, coco_real)
    split = window.dataset.split("photos")
    assert len(split.image_ids) == 15
    assert 262148 in split.image_ids and 39769 in split.image_ids  # ids from both naming styles
    qtbot.waitUntil(lambda: window.viewer._pixmap_item is not None, timeout=10000)
    first = split.coco.image(split.image_ids[0])
    assert first.file_name in window.image_info.text()
    assert "640 × 425" in window.image_info.text()
    assert window.ask_panel.no_questions.isVisibleTo(window.ask_panel)
    assert not window.ask_panel.questions.isVisibleTo(window.ask_panel)
    qtbot.waitUntil(lambda: window.browser.model.loaded_count() >= 10, timeout=15000)


def test_real_coco_annotations_file_opens_with_its_photos(qtbot, window, coco_real):
    """File → Open COCO dataset…: a real person-keypoints file and the real photos."""
    annotations = coco_real / "annotations" / "mmpose_test_coco.json"
    with qtbot.waitSignal(window.sig_dataset_changed, timeout=20000):
        window.open_coco_files(str(annotations), str(coco_real))
    split = window.dataset.split("mmpose_test_coco")
    assert sorted(split.image_ids) == [785, 40083, 196141, 197388]
    window.browser.select_row(split.image_ids.index(785))
    qtbot.waitUntil(lambda: window.viewer.boxes_count() == len(split.coco.objects(785)) > 0, timeout=10000)
    assert "person" in window.image_info.text()
    qtbot.waitUntil(lambda: window.browser.model.loaded_count() == 4, timeout=15000)


def test_a_split_not_yet_open_opens_in_the_background_and_a_broken_one_says_why(qtbot, window, tmp_path):
    root = tmp_path / "two-splits"
    write_shapes_dataset(root, splits=("train", "val"), n_images=6, seed=4)
    open_and_wait(qtbot, window, root)
    assert window.dataset.is_open("val") and not window.dataset.is_open("train")  # only the shown split is read
    window.browser.split_box.setCurrentText("train")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 6, timeout=10000)
    assert window.dataset.is_open("train") and window.browser.count_label.text() == "6 images"

    broken = tmp_path / "broken-train"
    write_shapes_dataset(broken, splits=("train", "val"), n_images=4, seed=5)
    (broken / "annotations" / "captions_train.json").write_text("{not json", encoding="utf-8")
    open_and_wait(qtbot, window, broken)
    window.browser.split_box.setCurrentText("train")
    qtbot.waitUntil(lambda: "Could not open train" in window.browser.count_label.text(), timeout=10000)
    assert "captions_train.json" in window.browser.count_label.toolTip()
    assert window.browser.model.rowCount() == 0


def test_one_photo_is_counted_as_one_image(qtbot, window, tmp_path):
    """Issue 16: the browser said "1 images"."""
    photos = tmp_path / "one"
    photos.mkdir()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(photos / "only.jpg")
    open_and_wait(qtbot, window, photos)
    qtbot.waitUntil(lambda: window.browser.count_label.text() == "1 image", timeout=WAIT_MS)

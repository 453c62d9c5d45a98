"""The Training tab's dataset check: Start waits for a dataset with the chosen splits, the note says
what is missing, and the app's open folder of photos gives way to the Shapes world (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from tests.gui.test_gui_training import fake_root, make_tab
from vqadesk.data.default_dataset import default_shapes_root
from vqadesk.engine.torch_free.training_data import dataset_problem


@pytest.fixture
def tab(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    widget = make_tab(qtbot, settings)
    yield widget
    widget.shutdown()


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (20, 20)).save(folder / "holiday.jpg")
    return folder


def test_a_photo_folder_gives_way_to_the_shapes_world(qtbot, tmp_path, photos):
    shapes = str(fake_root(default_shapes_root()))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    tab = make_tab(qtbot, settings)
    assert tab.form.dataset.text() == shapes  # a first run: the Shapes world is the default
    tab.set_dataset(str(photos))  # the app opened a folder of photos: no splits to train on
    assert tab.form.dataset.text() == shapes
    assert tab.start_button.isEnabled()
    assert tab.form.data_note.text() == "✓ has train and val for vqa"
    other = str(fake_root(tmp_path / "coco"))
    tab.set_dataset(other)  # a dataset that has them is taken as before
    assert tab.form.dataset.text() == other
    tab.shutdown()


def test_start_waits_for_the_chosen_splits(qtbot, tab, tmp_path, user_data):
    root = fake_root(tmp_path / "root")
    tab.set_dataset(str(root))
    assert tab.start_button.isEnabled()
    tab.form.val_split.setText("test")
    assert not tab.start_button.isEnabled()
    assert "no split 'test'" in tab.start_button.toolTip()
    assert tab.form.data_note.text().startswith("✗ ") and "no split 'test'" in tab.form.data_note.text()
    tab.start_run()  # asked directly all the same: refused with the reason, no process
    assert not tab.is_running() and "no split 'test'" in tab.report.text()
    assert not any((user_data / "runs").glob("*"))  # no run folder made
    tab.form.val_split.setText("val")
    assert tab.start_button.isEnabled()


def test_vqa_needs_questions_and_answers_captioning_only_captions(qtbot, tab, tmp_path):
    captions_only = str(fake_root(tmp_path / "captions-only", vqa=False))
    tab.form.dataset.setText(captions_only)
    assert not tab.start_button.isEnabled() and "no VQA questions" in tab.start_button.toolTip()
    tab.form.set_kind("captioning")
    assert tab.start_button.isEnabled()


@pytest.mark.parametrize(("make", "expected"), [
    (lambda root: None, "no such folder"),
    (lambda root: root.mkdir(), "no split 'train'"),
    (lambda root: fake_root(root, ("train",)), "no split 'val'"),
    (lambda root: [fake_root(root), (root / "val").rmdir()], "no image folder 'val/'"),
])
def test_each_missing_piece_is_named(tmp_path, make, expected):
    root = tmp_path / "root"
    make(root)
    problem = dataset_problem("vqa", str(root), ("train", "val"))
    assert problem is not None and expected in problem


def test_options_that_bring_their_own_files_skip_the_check(tmp_path):
    root = tmp_path / "features-only"
    root.mkdir()
    assert dataset_problem("vqa", str(root), ("train", "val")) is not None
    assert dataset_problem("vqa", str(root), ("train", "val"), "--features store/") is None
    assert dataset_problem("vqa", "", ("train", "val")) == "choose a dataset folder"

"""The Batch tab with real (tiny) models: start, pause, resume, cancel, edit, export, failures, entry points.

The window runs its real inference process on the tiny checkpoints of
``inference_models.py``; the photos are the tiny Shapes world's, copied
under odd names (spaces, Unicode, one name in two subfolders) with a broken
JPEG among them. Jobs write the engine's progress file, so every check of
what was kept reads it back with the engine's own readers.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import QApplication, QFileDialog

from tests.support.gui_windows import started_window
from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.engine.torch_free.batch import (
    CaptionRow,
    FailedPhoto,
    iter_results,
    progress_path,
    read_batch_results,
    read_settings,
)
from vqadesk.gui.batch import runner as states
from vqadesk.gui.batch.results_model import EDITED_MARK, RESULT_ROLE
from vqadesk.text.counts import plural

WAIT_MS = 60000  # generous: a busy 2-core machine, the first model load imports torch


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture
def window(qtbot, tmp_path, models, monkeypatch):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("models/vqa", str(models.vqa))
    settings.setValue("models/captioner", str(models.captioner))
    win = started_window(qtbot, settings, models.shapes, WAIT_MS)
    yield win
    win.close()


@pytest.fixture
def photos(tmp_path, models) -> Path:
    """Eight photos under odd names, two in a subfolder with a name also used at the top."""
    folder = tmp_path / "my photos"
    (folder / "2019 trip").mkdir(parents=True)
    names = ["IMG_1234.png", "holiday photo.png", "été à la plage.png", "same.png", "a.png", "b.png"]
    sources = models.images("val")
    for name, source in zip(names, sources):
        shutil.copy(source, folder / name)
    shutil.copy(sources[6], folder / "2019 trip" / "same.png")
    shutil.copy(sources[7], folder / "2019 trip" / "c.png")
    return folder


def set_up(window, folder: Path, *, recursive: bool = True, chunk_size: int = 16):
    """The Batch tab on ``folder``, as File → Caption folder… leaves it; returns the panel."""
    window.caption_folder(str(folder), recursive)
    panel = window.batch_panel
    panel.runner.chunk_size = chunk_size
    return panel


def run_to_end(qtbot, panel, **start) -> None:
    with qtbot.waitSignal(panel.runner.sig_stopped, timeout=WAIT_MS,
                          check_params_cb=lambda state, _message: state == states.FINISHED):
        assert panel.start(**start), panel.status.text()


def table_texts(panel, column: int) -> list[str]:
    return [panel.proxy.index(row, column).data() for row in range(panel.proxy.rowCount())]


def test_a_folder_is_captioned_into_the_table_and_the_progress_file(qtbot, window, photos):
    panel = set_up(window, photos)
    assert window.side_tabs.currentWidget() is panel
    run_to_end(qtbot, panel)
    keys = sorted(table_texts(panel, 1))
    assert keys == sorted(["IMG_1234.png", "holiday photo.png", "été à la plage.png", "same.png", "a.png", "b.png",
                           "2019 trip/same.png", "2019 trip/c.png"])
    assert all(text for text in table_texts(panel, 2))  # every photo has its caption
    assert panel.progress.value() == panel.progress.maximum() == 8
    assert "photos/s" in panel.status.text() or "Finished" in panel.status.text()
    # The command line's progress file, with the command line's settings header.
    progress = progress_path(panel.form.out_path())
    settings = read_settings(progress)
    assert settings.kind == "captions" and settings.root == str(photos) and settings.recursive
    assert settings.model == str(window.inference.models.captioner_path)
    _settings, results = iter_results(progress)
    rows = list(results)
    resolved = window.device_label.text().rsplit("· ", 1)[-1]  # the inference process's precision
    assert resolved in ("fp32", "bf16")
    assert len(rows) == 8 and all(isinstance(row, CaptionRow) and row.precision == resolved for row in rows)
    # The results file is written at the end, as the command line writes it (json for a .json name).
    qtbot.waitUntil(lambda: panel.form.out_path().is_file(), timeout=WAIT_MS)
    assert len(read_batch_results(panel.form.out_path()).rows) == 8


def test_pause_sends_no_next_chunk_and_resume_finishes(qtbot, window, photos):
    panel = set_up(window, photos, chunk_size=2)
    with qtbot.waitSignal(panel.runner.sig_events, timeout=WAIT_MS):
        assert panel.start()
    panel.pause_button.click()
    qtbot.waitUntil(lambda: panel.runner.state == states.PAUSED, timeout=WAIT_MS)
    assert panel.pause_button.text() == "Resume" and panel.pause_button.isEnabled()
    assert not panel.form.isEnabled()
    paused_at = panel.progress.value()
    assert 2 <= paused_at < 8
    qtbot.wait(500)  # nothing more is predicted while paused
    assert panel.progress.value() == paused_at
    assert panel.model.rowCount() == paused_at
    assert "Paused" in panel.status.text()
    # An edit made while paused is written by the job's own thread, into the file the job holds.
    edited_key = panel.model.result(0).key
    assert panel.proxy.setData(panel.proxy.index(0, 2), "edited while paused")
    with qtbot.waitSignal(panel.runner.sig_stopped, timeout=WAIT_MS):
        panel.pause_button.click()
    assert panel.runner.state == states.FINISHED
    assert panel.model.rowCount() == 8
    rows = {row.key: row for row in iter_results(progress_path(panel.form.out_path()))[1]}
    assert rows[edited_key].caption == "edited while paused" and rows[edited_key].edit is not None


def test_cancel_keeps_the_finished_photos_and_start_resumes(qtbot, window, photos):
    panel = set_up(window, photos, chunk_size=2)
    with qtbot.waitSignal(panel.runner.sig_events, timeout=WAIT_MS):
        assert panel.start()
    with qtbot.waitSignal(panel.runner.sig_stopped, timeout=WAIT_MS):
        panel.cancel_button.click()
    assert panel.runner.state == states.CANCELLED and "Start resumes" in panel.status.text()
    assert panel.start_button.isEnabled() and panel.form.isEnabled()
    progress = progress_path(panel.form.out_path())
    qtbot.waitUntil(lambda: _kept(progress) >= 2, timeout=WAIT_MS)
    kept = _kept(progress)
    assert kept < 8
    opened = []
    panel.runner.sig_opened.connect(lambda started, _earlier: opened.append(started))
    run_to_end(qtbot, panel)
    assert opened[0].already_done == kept  # resumed: the kept photos are not done again
    assert panel.model.rowCount() == 8
    assert _kept(progress) == 8


def _kept(progress: Path) -> int:
    return len(list(iter_results(progress)[1]))


def test_a_job_the_app_stopped_goes_on_from_the_command_line_and_back(qtbot, window, photos):
    panel = set_up(window, photos, chunk_size=2)
    with qtbot.waitSignal(panel.runner.sig_events, timeout=WAIT_MS):
        assert panel.start()
    with qtbot.waitSignal(panel.runner.sig_stopped, timeout=WAIT_MS):
        panel.cancel_button.click()
    assert "command line" in panel.status.text()
    panel.exporter.copy_command()
    command = QApplication.clipboard().text()
    assert command.startswith("vqadesk predict captions --images") and "--recursive" in command
    progress = progress_path(panel.form.out_path())
    qtbot.waitUntil(lambda: _kept(progress) >= 2, timeout=WAIT_MS)
    kept = _kept(progress)
    result = subprocess.run([sys.executable, "-m", "vqadesk", *shlex.split(command)[1:]],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{plural(kept, 'photo')} already done" in result.stderr  # the command line went on from the app's photos
    assert _kept(progress) == 8
    # And back: the app takes up what the command line finished, with nothing left to do.
    opened = []
    panel.runner.sig_opened.connect(lambda started, _earlier: opened.append(started))
    run_to_end(qtbot, panel)
    assert opened[0].already_done == 8 and panel.model.rowCount() == 8


def test_a_photo_that_failed_is_tried_again_and_its_row_replaced(qtbot, window, photos, models):
    broken = photos / "later.png"
    broken.write_bytes(b"\x89PNG not really")
    panel = set_up(window, photos, recursive=False)
    run_to_end(qtbot, panel)
    assert panel.model.failed_count() == 1 and panel.model.rowCount() == 7
    shutil.copy(models.images("val")[9], broken)  # fixed
    run_to_end(qtbot, panel)
    assert panel.model.failed_count() == 0 and panel.model.rowCount() == 7
    assert panel.count_label.text() == "7 rows"
    row = table_texts(panel, 1).index("later.png")
    assert isinstance(panel.proxy.index(row, 1).data(RESULT_ROLE), CaptionRow)


def test_an_edit_is_marked_kept_in_the_progress_file_and_exported(qtbot, window, photos, tmp_path):
    panel = set_up(window, photos)
    run_to_end(qtbot, panel)
    row = table_texts(panel, 1).index("holiday photo.png")
    index = panel.proxy.index(row, 2)
    assert panel.proxy.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert panel.proxy.setData(index, "two friends on a  sunny beach")
    assert index.data() == "two friends on a sunny beach"
    assert isinstance(index.data(Qt.ItemDataRole.FontRole), QFont) and index.data(Qt.ItemDataRole.FontRole).italic()
    assert panel.proxy.index(row, 3).data().startswith(EDITED_MARK)
    assert "1 edited" in panel.count_label.text()
    progress = progress_path(panel.form.out_path())
    exported = []
    panel.exporter.sig_exported.connect(exported.append)
    for fmt, name in (("json", "r.json"), ("jsonl", "r.jsonl"), ("csv", "r.csv")):
        with qtbot.waitSignal(panel.exporter.sig_exported, timeout=WAIT_MS):
            panel.exporter.export(tmp_path / name, fmt)
        results = read_batch_results(tmp_path / name, fmt)
        edited = [r for r in results.rows if r.key == "holiday photo.png"]
        assert edited[0].caption == "two friends on a sunny beach" and edited[0].edit is not None, fmt
        assert len(results.rows) == 8
    # The edit survives in the progress file: a new window reading it back shows it.
    _settings, rows = iter_results(progress)
    assert {r.key: r.caption for r in rows}["holiday photo.png"] == "two friends on a sunny beach"
    # Sidecars beside the photos carry the edit; an existing one is kept unless replaced.
    (photos / "a.txt").write_text("my own caption\n")
    with qtbot.waitSignal(panel.exporter.sig_sidecars, timeout=WAIT_MS):
        panel.exporter.write_sidecars(overwrite=False)
    assert (photos / "holiday photo.txt").read_text() == "two friends on a sunny beach\n"
    assert (photos / "2019 trip" / "same.txt").is_file() and (photos / "same.txt").is_file()
    assert (photos / "a.txt").read_text() == "my own caption\n"
    assert "1 existing ones kept" in panel.status.text()
    with qtbot.waitSignal(panel.exporter.sig_sidecars, timeout=WAIT_MS):
        panel.exporter.write_sidecars(overwrite=True)
    assert (photos / "a.txt").read_text() != "my own caption\n"


def test_coco_export_of_a_split_and_the_selection_from_the_browser(qtbot, window, tmp_path):
    browser = window.browser
    qtbot.waitUntil(lambda: browser.model.rowCount() >= 3, timeout=WAIT_MS)
    view = browser.view
    view.selectionModel().clearSelection()
    for row in (0, 2):
        view.selectionModel().select(browser.model.index(row), view.selectionModel().SelectionFlag.Select)
    menu = browser.context_menu()
    action = menu.actions()[0]
    assert action.isEnabled() and "(2)" in action.text()
    action.trigger()
    panel = window.batch_panel
    assert window.side_tabs.currentWidget() is panel
    assert "selection" in panel.form.source_box.currentText()
    run_to_end(qtbot, panel)
    assert panel.model.rowCount() == 2
    ids = {browser.model.image_id(0), browser.model.image_id(2)}
    assert {panel.model.result(row).coco_id for row in range(2)} == ids
    with qtbot.waitSignal(panel.exporter.sig_exported, timeout=WAIT_MS):
        panel.exporter.export(tmp_path / "coco.json", "coco")
    coco = read_batch_results(tmp_path / "coco.json", "coco")
    assert {row.coco_id for row in coco.rows} == ids


def test_a_broken_photo_is_listed_with_its_reason_and_the_job_goes_on(qtbot, window, photos):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    panel = set_up(window, photos)
    run_to_end(qtbot, panel)
    assert panel.model.rowCount() == 9 and panel.model.failed_count() == 1
    row = table_texts(panel, 1).index("broken.jpg")
    assert table_texts(panel, 2)[row].startswith("failed: ")
    failed = panel.proxy.index(row, 1).data(RESULT_ROLE)
    assert isinstance(failed, FailedPhoto) and failed.reason in table_texts(panel, 2)[row]
    assert "1 failed" in panel.count_label.text() and "1 failed" in panel.status.text()
    # The filter keeps the rows in which every word appears.
    panel.filter_edit.setText("broken")
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 1, timeout=WAIT_MS)
    assert "1 of 9 rows" in panel.count_label.text()


def test_questions_answer_each_photo_and_a_row_shows_its_heatmap(qtbot, window, photos):
    panel = set_up(window, photos, recursive=False)
    form = panel.form
    form.kind_box.setCurrentIndex(form.kind_box.findData("vqa"))
    assert form.model_box.currentText().startswith("In use")
    form.questions.setPlainText("what color is the circle?\n\nis there a square?\n")
    run_to_end(qtbot, panel)
    assert panel.model.rowCount() == 12  # six photos, two questions (the empty line skipped)
    assert set(table_texts(panel, 2)) == {"what color is the circle?", "is there a square?"}
    # Sorted by score, highest first.
    panel.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    scores = [float(text.rstrip("%")) for text in table_texts(panel, 4)]
    assert scores == sorted(scores, reverse=True)
    panel.select_row(0)
    result = panel.proxy.index(0, 1).data(RESULT_ROLE)
    qtbot.waitUntil(lambda: window.viewer.has_heatmap() and result.question in window.viewer.heatmap_label,
                    timeout=WAIT_MS)
    np.testing.assert_allclose(window.viewer.heatmap_grid, panel.heatmaps[(result.key, result.question)][0])
    assert result.key in window.image_info.text() and result.answer in window.image_info.text()


def test_other_settings_on_the_same_results_file_offer_start_afresh(qtbot, window, photos):
    panel = set_up(window, photos, recursive=False)
    run_to_end(qtbot, panel)
    panel.form.beam.setValue(2)
    mismatch = []
    panel.runner.sig_mismatch.connect(mismatch.append)
    assert panel.start()
    qtbot.waitUntil(lambda: bool(mismatch), timeout=WAIT_MS)
    assert "beam 2 (was 3)" in panel.status.text() and "Start afresh" in panel.status.text()
    assert panel.restart_button.isVisible() and panel.runner.state == states.IDLE
    with qtbot.waitSignal(panel.runner.sig_stopped, timeout=WAIT_MS):
        panel.restart_button.click()
    assert read_settings(progress_path(panel.form.out_path())).beam == 2
    assert panel.model.rowCount() == 6


def test_file_menu_caption_folder_opens_the_batch_tab(qtbot, window, photos, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(photos))
    window.show_side_tab("Ask")
    file_menu = window.menuBar().actions()[0].menu()
    action = next(a for a in file_menu.actions() if a.text().replace("&", "") == "Caption folder…")
    action.trigger()
    assert window.side_tabs.currentWidget() is window.batch_panel
    assert window.batch_panel.form.folder_edit.text() == str(photos)
    assert window.batch_panel.form.source_box.currentData() == "folder"


def drop(window, paths: list[Path], modifiers: Qt.KeyboardModifier) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, modifiers)
    QApplication.sendEvent(window, enter)
    window.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                modifiers))


def test_a_folder_dropped_with_shift_sets_up_a_batch_job(qtbot, window, photos):
    before = window.dataset
    drop(window, [photos], Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.batch_panel.form.folder_edit.text() == str(photos), timeout=WAIT_MS)
    assert window.side_tabs.currentWidget() is window.batch_panel
    assert window.dataset is before  # not opened as a dataset
    assert window.batch_panel.runner.state == states.IDLE  # set up, not started


def test_picking_another_model_in_the_list_loads_it_as_the_model_in_use(qtbot, window):
    form = window.batch_panel.form
    assert form.model_box.currentText().startswith("In use: ")
    others = [form.model_box.itemData(i) for i in range(1, form.model_box.count())]
    assert others, "the Models tab lists the bundled captioner too"
    with qtbot.waitSignal(window.sig_models_changed, timeout=WAIT_MS):
        form.model_box.setCurrentIndex(1)
        form.model_box.activated.emit(1)
    assert str(window.inference.models.captioner_path) == others[0]
    assert form.active_model() == others[0] and form.model_box.currentIndex() == 0

"""The desktop app with real (tiny) models: ask, caption, compare, drop, export, themes.

The window runs its real inference worker on tiny checkpoints trained once
per session (``inference_models.py``); settings point it at them, as a user
who chose them in the Models tab would.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication

from tests.support.gui_windows import started_window
from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.gui.main_window import MainWindow

WAIT_MS = 60000  # generous: a busy 2-core machine, the first model load imports torch


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture
def settings(tmp_path, models) -> QSettings:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("models/vqa", str(models.vqa))
    settings.setValue("models/captioner", str(models.captioner))
    return settings


@pytest.fixture
def window(qtbot, settings, models, monkeypatch, tmp_path):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    win = started_window(qtbot, settings, models.shapes, WAIT_MS)
    yield win
    win.close()


def ask_and_wait(qtbot, window, question: str):
    with qtbot.waitSignal(window.ask_panel.sig_answered, timeout=WAIT_MS):
        window.ask_panel.ask(question)
    return window.ask_panel.prediction


def heatmap_settled(qtbot, window) -> None:
    """The answer's heatmap follows its bars by one event-loop turn."""
    qtbot.waitUntil(lambda: not window._heatmap_timer.isActive(), timeout=WAIT_MS)


def test_window_opens_on_the_shapes_world_with_both_models(window, models):
    assert window.dataset.root == models.shapes
    assert window.inference.models.vqa_path == models.vqa
    assert window.inference.models.captioner_path == models.captioner
    assert "best" in window.models_label.text()
    assert window.device_label.text().startswith("CPU")
    # The precision the inference process resolved (docs/performance.md), never "auto".
    assert window.device_label.text().endswith((" · fp32", " · bf16"))
    assert window.device_label.text() == window.inference.models.status_text
    assert window.ask_panel.dataset_question_count() > 0
    assert window.ask_panel.question_edit.completion_count() > 10


def test_asked_question_bars_match_the_cli_json(qtbot, window, models):
    question = window.ask_panel.questions.item(0, 0).text()
    prediction = ask_and_wait(qtbot, window, question)
    chart = window.ask_panel.chart
    assert chart.labels() == [a.text for a in prediction.answers]
    assert len(chart.labels()) == window.ask_panel.top_k.value()
    image = window.context.path
    result = subprocess.run(
        [sys.executable, "-m", "vqadesk", "ask", str(image), question, "--model", str(models.vqa),
         "--top-k", str(window.ask_panel.top_k.value()), "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    cli = json.loads(result.stdout)
    assert chart.labels() == [a["answer"] for a in cli["answers"]]
    assert chart.values() == pytest.approx([a["score"] for a in cli["answers"]], abs=1e-5)
    # The dataset asks this question: the ten human answers and the official accuracy show.
    assert window.ask_panel.truth_box.isVisibleTo(window.ask_panel)
    assert "Accuracy of" in window.ask_panel.truth.text()
    # The attention map is laid over the image (on the next event-loop turn), and the session
    # history has the question.
    heatmap_settled(qtbot, window)
    assert window.viewer.has_heatmap()
    np.testing.assert_allclose(window.viewer.heatmap_grid, prediction.attention)
    assert window.history_panel.table.rowCount() == 1


def test_empty_question_is_a_message_not_a_crash(qtbot, window):
    window.ask_panel.ask("   ")
    assert "empty" in window.ask_panel.status.text()
    assert window.ask_panel.prediction is None


def test_question_history_walks_with_up_and_down(qtbot, window):
    edit = window.ask_panel.question_edit
    for question in ("what color is the circle?", "how many squares are there?"):
        ask_and_wait(qtbot, window, question)
    edit.clear()
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Up)
    assert edit.text() == "how many squares are there?"
    qtbot.keyClick(edit, Qt.Key.Key_Up)
    assert edit.text() == "what color is the circle?"
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    assert edit.text() == ""


def test_clicking_a_caption_word_shows_its_attention(qtbot, window):
    panel = window.caption_panel
    qtbot.waitUntil(lambda: panel.prediction is not None, timeout=WAIT_MS)
    caption = panel.prediction.best
    assert caption.words, "the tiny captioner wrote no words"
    assert panel.caption_labels[0].isVisibleTo(panel)
    before = window.viewer.heatmap_grid
    last = len(caption.words) - 1
    with qtbot.waitSignal(panel.sig_word_selected, timeout=WAIT_MS):
        panel.caption_labels[0].linkActivated.emit(f"0:{last}")
    np.testing.assert_allclose(window.viewer.heatmap_grid, caption.words[last].attention)
    assert before is None or not np.array_equal(before, window.viewer.heatmap_grid)
    assert caption.words[last].word in window.overlays.caption.text()
    # Reference captions are scored: BLEU-4 and CIDEr-D with the split's document frequencies.
    qtbot.waitUntil(lambda: "CIDEr-D" in panel.scores.text() and "reading" not in panel.scores.text(), timeout=WAIT_MS)


def drop(window, paths: list[Path], target=None) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = target or window
    # A real drag enters the widget under the cursor first (refused unless something on the
    # way accepts it: the widget, the window's filter on it, or a parent it is passed to);
    # only then does the drop follow. Qt delivers a Drop only during a real drag, so the drop
    # itself is handed to what Qt would call.
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()  # as Qt delivers it: refused unless a handler (or filter) accepts it
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), f"a drag of files onto {type(target).__name__} is refused"
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.eventFilter(target, event) if target is not window else window.dropEvent(event)


def test_dropping_photos_opens_and_captions_them(qtbot, window, models, tmp_path):
    photos = models.images("val")[:2]
    drop(window, photos, target=window.ask_panel.question_edit)  # a drop on a text field opens files too
    qtbot.waitUntil(lambda: window.dataset is not None and window.dataset.is_loose_photos, timeout=WAIT_MS)
    assert window.dataset.name == "Dropped photos"
    qtbot.waitUntil(lambda: len(window.dropped_captions) == 2, timeout=WAIT_MS)
    labels = [window.browser.model.data(window.browser.model.index(row)) for row in range(2)]
    assert labels == [window.dropped_captions[str(p)].best.text for p in photos]
    # A second drop adds to the same collection.
    drop(window, [models.images("val")[2]])
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.dropped_captions) == 3, timeout=WAIT_MS)


def test_drops_on_plots_and_training_fields_open_files_too(qtbot, window, models):
    # Widgets made after the window (pyqtgraph views, the Training tab's fields) take file drops too.
    qtbot.waitUntil(lambda: window.compare_panel.chart_holder.made is not None, timeout=WAIT_MS)
    drop(window, [models.images("val")[0]], target=window.ask_panel.chart.viewport())
    qtbot.waitUntil(lambda: window.dataset is not None and window.dataset.is_loose_photos, timeout=WAIT_MS)
    window.build_training_tab()
    drop(window, [models.images("val")[1]], target=window.training_tab.form.dataset)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=WAIT_MS)
    assert window.training_tab.form.dataset.text() != str(models.images("val")[1])  # not pasted as text


def test_dropping_something_that_is_not_an_image_says_so(qtbot, window, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    before = window.dataset
    drop(window, [text, broken])
    qtbot.waitUntil(lambda: window.last_notice is not None, timeout=WAIT_MS)
    message = window.last_notice.text()
    assert "notes.txt: not an image" in message and "broken.jpg" in message
    assert window.dataset is before


def test_dropping_a_folder_opens_it_as_a_dataset(qtbot, window, coco_real):
    with qtbot.waitSignal(window.sig_dataset_changed, timeout=WAIT_MS):
        drop(window, [coco_real])
    assert window.dataset.root == coco_real


def test_compare_two_models_side_by_side(qtbot, window, models):
    panel = window.compare_panel
    panel.add_model("bow", str(models.bow), checked=True)
    assert len(panel.checked_models()) == 2  # the active model is ticked, plus bow
    panel.question.setText("what color is the square?")
    with qtbot.waitSignal(panel.sig_compared, timeout=WAIT_MS):
        panel.compare()
    series = panel.chart.series()
    assert set(series) == {name for name, _path in panel.checked_models()}
    for result in panel.results:
        assert result.error is None
        name = next(n for n, p in panel.checked_models() if p == result.model)
        for answer in result.prediction.answers:
            assert series[name][panel.chart.labels().index(answer.text)] == pytest.approx(answer.prob)


def test_history_exports_json_csv_and_html(qtbot, window, tmp_path):
    ask_and_wait(qtbot, window, "what color is the circle?")
    ask_and_wait(qtbot, window, "is there a square?")
    panel = window.history_panel
    assert panel.export(str(tmp_path / "h.json")) and panel.export(str(tmp_path / "h.csv"))
    assert panel.export(str(tmp_path / "h.html"))
    document = json.loads((tmp_path / "h.json").read_text())
    assert document["format"] == "vqadesk.history"
    assert [e["question"] for e in document["entries"]] == ["what color is the circle?", "is there a square?"]
    assert document["entries"][0]["attention"] is not None
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert [r["question"] for r in rows] == ["what color is the circle?", "is there a square?"]
    report = (tmp_path / "h.html").read_text()
    assert report.count("data:image/png;base64,") == 4  # each question: the image and its attention
    assert not panel.export(str(tmp_path / "missing-folder" / "h.json"))
    assert "does not exist" in panel.message.text()


def test_a_broken_checkpoint_is_a_message_and_the_model_stays(qtbot, window, models, tmp_path):
    assert window.inference.models.vqa_path == models.vqa
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    assert not window.models_panel.open_checkpoint(str(broken))
    assert "broken.json" in window.models_panel.message.text()
    pickled = tmp_path / "model.pt"
    pickled.write_bytes(b"\x80\x04K\x01.")
    window.use_model("vqa", str(pickled))
    qtbot.waitUntil(lambda: "model.pt" in window.models_panel.message.text(), timeout=WAIT_MS)
    assert window.inference.models.vqa_path == models.vqa  # the previous model is still loaded
    ask_and_wait(qtbot, window, "what color is the circle?")


def test_use_this_model_from_the_training_tab_loads_it(qtbot, window, models):
    # Made in small steps while the window is idle (or at once when first needed, see below).
    qtbot.waitUntil(lambda: window.training_tab is not None, timeout=WAIT_MS)
    window.tabs.setCurrentIndex(1)
    assert window.training_tab is window.tabs.widget(1)
    window.tabs.setCurrentIndex(0)
    with qtbot.waitSignal(window.sig_models_changed, timeout=WAIT_MS):
        window.training_tab.sig_use_model.emit("vqa", str(models.bow))
    assert window.inference.models.vqa_path == models.bow
    assert window.side_tabs.currentWidget() is window.ask_panel
    prediction = ask_and_wait(qtbot, window, "how many circles are there?")
    assert prediction.attention is None  # bow has no attention: no heatmap
    heatmap_settled(qtbot, window)
    assert not window.viewer.has_heatmap()


def test_dark_theme_recolours_the_charts(qtbot, window):
    window.set_theme("dark")
    chart = window.ask_panel.chart
    qtbot.waitUntil(lambda: chart.palette().color(QPalette.ColorRole.Window).lightness() < 128, timeout=WAIT_MS)
    assert chart.backgroundBrush().color().lightness() < 128
    window.set_theme("light")
    qtbot.waitUntil(lambda: chart.backgroundBrush().color().lightness() > 128, timeout=WAIT_MS)


def test_settings_are_remembered(qtbot, settings, models, monkeypatch, tmp_path):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    first = MainWindow(settings, device="cpu")
    qtbot.addWidget(first)
    with qtbot.waitSignal(first.sig_ready, timeout=WAIT_MS):
        first.start(str(models.shapes))
    first.ask_panel.top_k.setValue(3)
    first.caption_panel.beam.setValue(2)
    first.overlays.opacity.setValue(35)
    assert first.browser.split_box.currentText() == "val"  # a validation split first, then the user's choice
    # Wait for the signal, not for is_open("train"): the pool thread marks the split open a moment
    # before the GUI thread hears of it and remembers it.
    with qtbot.waitSignal(first.browser.split_changed, timeout=WAIT_MS, check_params_cb=lambda name: name == "train"):
        first.browser.split_box.setCurrentText("train")
    assert settings.value("dataset/split") == "train"
    first.close()
    second = MainWindow(settings, device="cpu")
    qtbot.addWidget(second)
    assert second.ask_panel.top_k.value() == 3
    assert second.caption_panel.beam.value() == 2
    assert second.overlays.opacity.value() == 35
    assert settings.value("dataset/last") == str(models.shapes)
    with qtbot.waitSignal(second.sig_dataset_changed, timeout=WAIT_MS):
        second.start()  # the last dataset, on the split last shown
    assert second.browser.split_box.currentText() == "train" and second.dataset.is_open("train")
    assert not second.dataset.is_open("val")
    second.close()


def test_without_pyqtgraph_the_dataset_still_shows_and_the_training_tab_says_why(qtbot, settings, models,
                                                                                  monkeypatch, tmp_path):
    from vqadesk.gui import startup

    def broken_import() -> None:
        raise ImportError("No module named 'pyqtgraph'")

    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(startup, "import_plotting", broken_import)
    window = MainWindow(settings, device="cpu")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sig_dataset_changed, timeout=WAIT_MS):
        window.start(str(models.shapes))
    assert window.browser.model.rowCount() > 0 and window.training_tab is None
    assert "pyqtgraph" in window.tabs.widget(1).text()
    window.close()

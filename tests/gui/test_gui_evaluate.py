"""The Evaluate tab: a real evaluation routine run, cancelled, reopened; the views, mistakes and compare."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.evaluation_folders import (
    real_caption_entries,
    real_vqa_entries,
    write_caption_evaluation,
    write_vqa_evaluation,
)
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.torch_free.evaluations import list_evaluations
from vqadesk.gui.evaluate.tab import EvaluateTab
from vqadesk.metrics.analysis import diff_evaluations

RUN_MS = 90000  # a process start and torch import alone cost ~5-10 s on the 2-core CI machine
REPO = Path(__file__).resolve().parents[2]
BUNDLED_VQA = ("vqa", "shapes-vqa", str(REPO / "resources" / "models" / "shapes-vqa.json"))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=24, seed=3)
    return root


@pytest.fixture
def tab(qtbot, tmp_path):
    widget = EvaluateTab(root=tmp_path / "evaluations")
    qtbot.addWidget(widget)
    widget.resize(1280, 760)
    widget.show()
    yield widget
    widget.shutdown()


def wait_listed(qtbot, tab: EvaluateTab, count: int) -> None:
    tab.refresh()
    qtbot.waitUntil(lambda: tab.results.rowCount() == count, timeout=10000)


def open_row(qtbot, tab: EvaluateTab, folder: Path) -> None:
    assert tab.results.select_path(str(folder))
    qtbot.waitUntil(lambda: tab.current is not None and tab.current[0].path == folder, timeout=10000)
    qtbot.waitUntil(lambda: tab.mistakes.evaluation is tab.current[0])  # on the next turn of the event loop


# -- a real run --------------------------------------------------------------------------------------


def test_evaluating_the_bundled_model_on_a_shapes_split_lists_and_shows_it(qtbot, tab, shapes):
    tab.set_models([BUNDLED_VQA])
    tab.set_dataset(str(shapes), ["train", "val"], "val")
    tab.form.subset.setChecked(True)
    tab.form.subset_size.setValue(40)
    events = []
    tab.process.on_event.append(events.append)
    finished = []
    tab.process.on_finished.append(lambda folder, error: finished.append((folder, error)))
    tab.form.evaluate_button.click()
    assert tab.form.cancel_button.isEnabled() and not tab.form.evaluate_button.isEnabled()
    qtbot.waitUntil(lambda: bool(finished), timeout=RUN_MS)
    folder, error = finished[0]
    assert error is None, error
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "done"
    assert tab.process.progress.done == tab.process.progress.total == 40
    qtbot.waitUntil(lambda: tab.current is not None and str(tab.current[0].path) == folder, timeout=10000)
    manifest = tab.current[0].manifest
    assert manifest.split == "val" and manifest.count == 40 and manifest.subset.size == 40
    assert tab.results.rowCount() == 1 and tab.results.item(0, 0).text() == "shapes-vqa"
    assert f"{manifest.headline_value:.2f}%" in tab.summary.headline.text()
    weakest = tab.summary.weakest_type()
    assert weakest is not None and weakest in tab.summary.headline.text()
    assert tab.summary.bars.weak is not None and tab.summary.bars.weak.label == weakest
    assert tab.form.evaluate_button.isEnabled() and not tab.form.cancel_button.isEnabled()


def test_evaluating_the_bundled_captioner_shows_scores_histogram_and_worst_captions(qtbot, tab, shapes):
    tab.set_models([BUNDLED_VQA, ("captioning", "shapes-captioner",
                                  str(REPO / "resources" / "models" / "shapes-captioner.json"))])
    tab.form.model_box.setCurrentIndex(1)
    tab.set_dataset(str(shapes), ["train", "val"], "val")
    tab.form.subset.setChecked(True)
    tab.form.subset_size.setValue(6)
    finished = []
    tab.process.on_finished.append(lambda folder, error: finished.append((folder, error)))
    tab.form.evaluate_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=RUN_MS)
    folder, error = finished[0]
    assert error is None, error
    qtbot.waitUntil(lambda: tab.mistakes.evaluation is not None and str(tab.mistakes.evaluation.path) == folder,
                    timeout=10000)
    evaluation = tab.current[0]
    assert evaluation.kind == "captioning" and "CIDEr-D" in tab.summary.headline.text()
    assert tab.summary.scores.rowCount() == 5 and sum(tab.summary.histogram.counts) == 6
    browser = tab.mistakes
    shown = [browser.model.row_at(i) for i in range(browser.model.rowCount())]
    assert len(shown) == 6 and [r.cider for r in shown] == sorted(r.cider for r in shown)  # worst first
    if evaluation.manifest.has_maps:  # per-word maps: one entry per word of the caption
        qtbot.waitUntil(lambda: browser.viewer.has_heatmap(), timeout=30000)
        assert browser.word_box.count() == len(shown[0].caption.split())


def test_cancel_stops_the_routine_and_keeps_nothing(qtbot, tab, shapes):
    tab.set_models([BUNDLED_VQA])
    tab.set_dataset(str(shapes), ["train", "val"], "train")
    finished = []
    tab.process.on_finished.append(lambda folder, error: finished.append((folder, error)))
    tab.process.on_event.append(lambda event: tab.form.cancel_button.click() if event["event"] == "start" else None)
    tab.form.evaluate_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=RUN_MS)
    assert finished[0] == (None, "cancelled")
    assert "Cancelled" in tab.form.status.text()
    root = tab.root
    assert not root.exists() or list(root.iterdir()) == []  # neither a folder nor a .partial one


def test_a_routine_error_is_one_line_in_the_form(qtbot, tab, shapes):
    tab.set_models([("captioning", "shapes-captioner", str(REPO / "resources" / "models" / "shapes-captioner.json"))])
    tab.set_dataset(str(shapes / "nowhere"), ["val"], "val")
    finished = []
    tab.process.on_finished.append(lambda folder, error: finished.append((folder, error)))
    tab.form.evaluate_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=RUN_MS)
    folder, error = finished[0]
    assert folder is None and error and "\n" not in error and "Traceback" not in error
    assert tab.form.status.text() == error


# -- views of written folders ------------------------------------------------------------------------


@pytest.fixture
def vqa_folder(tab, coco_real) -> Path:
    entries = real_vqa_entries(coco_real)
    maps = {e.question_id: np.full((7, 7), 0.01) + np.eye(7)[e.question_id % 7] for e in entries}
    return write_vqa_evaluation(tab.root, entries, dataset=coco_real, maps=maps)


def test_the_summary_shows_types_calibration_and_confusions(qtbot, tab, vqa_folder):
    wait_listed(qtbot, tab, 1)
    open_row(qtbot, tab, vqa_folder)
    metrics = tab.current[0].metrics
    summary = tab.summary
    assert f"{metrics['overall']:.2f}%" in summary.headline.text()
    assert summary.type_table.rowCount() == len(metrics["perQuestionType"])
    accuracies = [float(summary.type_table.item(r, 1).text()) for r in range(summary.type_table.rowCount())]
    assert accuracies == sorted(accuracies)  # weakest first
    summary.type_table.sortItems(2)  # sortable by count too, numerically
    counts = [int(summary.type_table.item(r, 2).text()) for r in range(summary.type_table.rowCount())]
    assert counts == sorted(counts)
    summary.group.setCurrentIndex(1)
    assert {bar.label for bar in summary.bars.bars} == set(metrics["perAnswerType"])
    assert [b.count for b in summary.calibration.bins] == [b["count"] for b in metrics["calibration"]["bins"]]
    yes_no = metrics["yesNoConfusion"]
    matrix = yes_no["matrix"]
    used = [i for i, label in enumerate(yes_no["labels"]) if sum(matrix[i]) + sum(row[i] for row in matrix)]
    assert summary.yes_no.rowCount() == len(used) < len(yes_no["labels"])  # "other" is nobody's answer here
    assert [summary.yes_no.item(r, c).text() for r in range(len(used)) for c in range(len(used))] == \
        [f"{matrix[i][j]:,}" for i in used for j in used]


def test_reopening_is_instant_and_a_mistake_shows_its_photo_map_and_answers(qtbot, tab, vqa_folder, coco_real):
    other = write_caption_evaluation(tab.root, real_caption_entries(coco_real), dataset=coco_real)
    wait_listed(qtbot, tab, 2)
    open_row(qtbot, tab, vqa_folder)
    open_row(qtbot, tab, other)
    assert tab.results.select_path(str(vqa_folder))
    assert tab.current[0].path == vqa_folder  # from memory: no wait for a pool thread
    browser = tab.mistakes
    qtbot.waitUntil(lambda: browser.evaluation is tab.current[0])
    rows = tab.current[0].rows
    wrong = [row for row in rows if row.accuracy < 100]
    assert browser.model.rowCount() == len(wrong)
    browser.confidently_wrong_first()
    shown = [browser.model.row_at(i) for i in range(browser.model.rowCount())]
    assert [r.score for r in shown] == sorted((r.score for r in wrong), reverse=True)
    target = shown[3]
    browser.view.selectRow(3)
    qtbot.waitUntil(lambda: browser.viewer.has_heatmap(), timeout=10000)
    photo = Image.open(coco_real / target.image)
    pixmap = browser.viewer.scene().items()[-1].pixmap()  # the photo, under the map
    assert (pixmap.width(), pixmap.height()) == photo.size
    assert np.argmax(browser.viewer.heatmap_grid.max(axis=0)) == target.question_id % 7
    text = browser.details.text()
    assert html.escape(target.question) in text and f"accuracy {target.accuracy:.0f}" in text
    assert all(html.escape(answer) in text for answer, _score in target.top_k)
    assert all(html.escape(human) in text for human in set(target.human_answers))


def test_mistake_filters_narrow_the_list(qtbot, tab, vqa_folder):
    wait_listed(qtbot, tab, 1)
    open_row(qtbot, tab, vqa_folder)
    browser = tab.mistakes
    wrong = [row for row in tab.current[0].rows if row.accuracy < 100]
    browser.answer_type.setCurrentText("number")
    assert browser.model.rowCount() == sum(r.answer_type == "number" for r in wrong)
    browser.answer_type.setCurrentIndex(0)
    browser.min_confidence.setValue(90)
    assert browser.model.rowCount() == sum(r.score >= 0.9 for r in wrong) > 0
    browser.min_confidence.setValue(0)
    word = wrong[0].question.split()[-1].strip("?")
    browser.search.setText(word)
    qtbot.waitUntil(lambda: browser.model.rowCount() == sum(word.lower() in r.question.lower()
                                                             or word.lower() in r.answer for r in wrong))


def test_compare_lists_the_questions_one_gets_right_and_the_other_wrong(qtbot, tab, vqa_folder, coco_real):
    later = write_vqa_evaluation(tab.root, real_vqa_entries(coco_real, wrong_every=2), dataset=coco_real,
                                 label="other vqa", created=datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    wait_listed(qtbot, tab, 2)
    open_row(qtbot, tab, vqa_folder)
    compare = tab.compare
    compare.choose(str(vqa_folder), str(later))
    compare.compare_button.click()
    qtbot.waitUntil(lambda: compare.diff is not None, timeout=10000)
    expected = diff_evaluations("vqa", tab.current[0].metrics, compare.opened["b"][0].metrics)
    assert set(expected.a_only) and compare.diff.a_only == expected.a_only
    assert f"({len(expected.a_only)})" in compare.a_only_button.text()
    browser = compare.browser
    assert {browser.model.row_at(i).question_id for i in range(browser.model.rowCount())} == set(expected.a_only)
    assert all(browser.model.row_at(i).accuracy < 100 for i in range(browser.model.rowCount()))  # B's answers
    compare.b_only_button.click()
    assert {browser.model.row_at(i).question_id for i in range(browser.model.rowCount())} == set(expected.b_only)
    assert compare.table.rowCount() == 1 + len(expected.per_answer_type) + len(expected.per_question_type)


def test_delete_asks_first(qtbot, tab, vqa_folder):
    wait_listed(qtbot, tab, 1)
    open_row(qtbot, tab, vqa_folder)
    asked = []
    tab.confirm = lambda title, text: asked.append(text) or False
    tab.delete_button.click()
    assert asked and vqa_folder.exists()
    tab.confirm = lambda title, text: True
    tab.delete_button.click()
    qtbot.waitUntil(lambda: tab.results.rowCount() == 0, timeout=10000)
    assert not vqa_folder.exists() and list_evaluations(tab.root) == []


def test_a_damaged_folder_is_listed_greyed_with_its_reason(qtbot, tab, vqa_folder):
    damaged = tab.root / "20261203-100000-broken-val"
    damaged.mkdir()
    (damaged / "evaluation.json").write_text("{not json")
    wait_listed(qtbot, tab, 2)
    row = next(r for r in range(2) if tab.results.item(r, 0).text() == damaged.name)
    assert "evaluation.json" in tab.results.item(row, 0).toolTip()
    assert "damaged" in tab.list_note.text()


def test_exports_write_the_report_and_the_csv_off_the_gui_thread(qtbot, tab, vqa_folder, tmp_path):
    wait_listed(qtbot, tab, 1)
    open_row(qtbot, tab, vqa_folder)
    report, table = tmp_path / "report.html", tmp_path / "rows.csv"
    tab.export("html", str(report))
    qtbot.waitUntil(lambda: tab.list_note.text() == f"Wrote {report}", timeout=30000)
    tab.export("csv", str(table))
    qtbot.waitUntil(lambda: tab.list_note.text() == f"Wrote {table}", timeout=10000)
    assert "<html" in report.read_text().lower() and "data:image/jpeg;base64" in report.read_text()
    assert len(table.read_text().splitlines()) == 1 + len(tab.current[0].rows)
    tab.export("csv", str(tmp_path / "no such folder" / "rows.csv"))
    qtbot.waitUntil(lambda: "no such folder" in tab.list_note.text(), timeout=10000)
    assert "\n" not in tab.list_note.text()


def test_the_window_makes_the_evaluate_tab_when_first_shown_with_its_dataset_and_models(qtbot, tmp_path, shapes):
    from PySide6.QtCore import QSettings

    from tests.support.gui_windows import started_window

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = started_window(qtbot, settings, shapes, RUN_MS)
    try:
        assert window.tabs.tabText(2) == "Evaluate" and window.evaluate_slot.tab is None
        window.show_evaluate_tab()
        tab = window.evaluate_slot.tab
        assert tab is window.tabs.widget(2) and window.tabs.currentIndex() == 2
        assert [tab.form.split_box.itemText(i) for i in range(tab.form.split_box.count())] == ["train", "val"]
        assert tab.form.dataset == str(shapes)
        keys = {tab.form.model_box.itemData(i) for i in range(tab.form.model_box.count())}
        assert keys == {key for _kind, _name, key in window.models_panel.entries()} and keys
    finally:
        window.close()

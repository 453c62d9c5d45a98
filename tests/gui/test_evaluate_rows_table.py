"""The Evaluate tab's Qt-free parts: the mistakes browser's numpy selection, and the run's progress and ETA."""

from __future__ import annotations

import pytest

from tests.support.evaluation_folders import real_vqa_entries, write_vqa_evaluation
from vqadesk.engine.torch_free.evaluations import open_evaluation
from vqadesk.gui.evaluate.loading import load_evaluation, rows_index_current
from vqadesk.gui.evaluate.rows_table import Filters, RowsTable
from vqadesk.gui.evaluate.run_process import Progress, format_duration, routine_arguments


@pytest.fixture
def opened(tmp_path, coco_real):
    folder = write_vqa_evaluation(tmp_path, real_vqa_entries(coco_real), dataset=coco_real)
    evaluation = open_evaluation(folder)
    return evaluation, RowsTable.build(evaluation.rows, "vqa"), list(evaluation.rows)


def ids(table: RowsTable, order) -> list[int]:
    return [int(table.ids[p]) for p in order]


def test_the_default_selection_is_the_wrong_answers_most_confident_first(opened):
    _evaluation, table, rows = opened
    order = table.select(Filters())
    wrong = sorted((r for r in rows if r.accuracy < 100), key=lambda r: -r.score)
    assert [table.rows[p].score for p in order] == [r.score for r in wrong]
    assert set(ids(table, order)) == {r.question_id for r in wrong}


def test_filters_combine(opened):
    _evaluation, table, rows = opened
    order = table.select(Filters(answer_type="number", min_confidence=0.5))
    assert set(ids(table, order)) == {r.question_id for r in rows
                                      if r.accuracy < 100 and r.answer_type == "number" and r.score >= 0.5}
    question_type = rows[0].question_type
    order = table.select(Filters(question_type=question_type, only_wrong=False, sort="id", descending=False))
    assert ids(table, order) == sorted(r.question_id for r in rows if r.question_type == question_type)
    assert table.select(Filters(answer="no such answer")).size == 0


def test_search_matches_every_word_in_the_question_or_answer(opened):
    _evaluation, table, rows = opened
    order = table.select(Filters(words="HOW many", only_wrong=False))
    assert set(ids(table, order)) == {r.question_id for r in rows if "how many" in r.question.lower()} != set()


def test_a_comparison_list_shows_right_answers_too(opened):
    _evaluation, table, rows = opened
    chosen = frozenset(r.question_id for r in rows[:6])
    assert set(ids(table, table.select(Filters(ids=chosen, only_wrong=False)))) == chosen


def test_sorting_by_a_category_sorts_by_its_name(opened):
    _evaluation, table, rows = opened
    order = table.select(Filters(only_wrong=False, sort="question_type", descending=False))
    names = [table.rows[p].question_type for p in order]
    assert names == sorted(names)


def test_counts_and_means_by_type(opened):
    _evaluation, table, rows = opened
    counts = table.counts_by("answer_type")
    assert counts == {t: sum(r.answer_type == t for r in rows) for t in {r.answer_type for r in rows}}
    means = table.mean_by("answer_type")
    assert means["number"] == pytest.approx(sum(r.accuracy for r in rows if r.answer_type == "number")
                                            / counts["number"])


def test_the_first_open_has_the_rows_index_made_and_later_ones_reuse_it(tmp_path, coco_real):
    folder = write_vqa_evaluation(tmp_path, real_vqa_entries(coco_real), dataset=coco_real)
    assert not rows_index_current(open_evaluation(folder))
    evaluation, table = load_evaluation(str(folder))
    assert rows_index_current(evaluation) and len(table) == evaluation.manifest.count


def test_progress_gives_an_eta_from_the_rate_after_loading():
    progress = Progress()
    assert progress.text(0.0) == "Loading the model and the split…"
    progress.add({"event": "start", "total": 1000}, now=10.0)
    progress.add({"event": "progress", "done": 100, "total": 1000}, now=20.0)  # loading took 10 s: not counted
    assert progress.eta_seconds(20.0) is None
    progress.add({"event": "progress", "done": 300, "total": 1000}, now=30.0)  # 20 per second
    assert progress.eta_seconds(30.0) == pytest.approx(35.0)
    assert progress.text(30.0) == "300 / 1,000 — about 35 s left"
    assert format_duration(3725) == "1 h 02 min" and format_duration(61) == "1 min 01 s"


def test_the_routine_arguments():
    assert routine_arguments("m.json", "/data", "val", None, 0) == [
        "-m", "training.evaluate_model", "--model", "m.json", "--data", "/data", "--split", "val", "--nice", "10"]
    assert routine_arguments("m", "/d", "val", 50, 7, "/out")[-6:] == ["--subset", "50", "--seed", "7",
                                                                      "--out-root", "/out"]

"""The analyses beyond the official numbers: calibration, confusion, correctness, histogram, diff."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vqadesk.errors import EvaluationError
from vqadesk.metrics.analysis import analyse_captions, analyse_vqa, calibration, diff_evaluations, majority_answer
from vqadesk.metrics.analysis.captions import histogram
from vqadesk.metrics.analysis.documents import vqa_analysis, vqa_document
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import evaluate_vqa


def annotation(answers, answer_type="other", question_type="what"):
    return SimpleNamespace(answers=tuple(answers), answer_type=answer_type, question_type=question_type)


def test_calibration_bins_counts_and_ece():
    scores = [0.05, 0.95, 1.0, 0.55, 0.50]
    accuracies = [0.0, 100.0, 100.0, 0.0, 100.0]
    result = calibration(scores, accuracies)
    assert [b.count for b in result.bins] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 2]  # 1.0 goes in the last bin
    assert result.bins[0].low == 0.0 and result.bins[9].high == 1.0
    assert result.bins[1].accuracy is None and result.bins[1].mean_score is None
    assert result.bins[5].accuracy == 50.0 and result.bins[5].mean_score == 0.525
    assert result.bins[9].accuracy == 100.0 and result.bins[9].mean_score == 0.975
    # ECE = 1/5 * |0 - .05| + 2/5 * |.5 - .525| + 2/5 * |1 - .975|
    assert result.ece == pytest.approx(0.01 + 0.01 + 0.01, abs=1e-4)


def test_a_perfectly_calibrated_model_has_zero_ece():
    result = calibration([0.25] * 4, [100.0, 0.0, 0.0, 0.0])
    assert result.ece == 0.0


def test_majority_answer_normalises_and_breaks_ties_by_first_given():
    assert majority_answer(["Two", "2", "three", "3 ", "2"]) == "2"
    assert majority_answer(["no", "yes", "yes", "no"]) == "no"
    assert majority_answer(["The dog", "dog"]) == "dog"


def test_confusion_matrices_and_correctness():
    annotations = {
        1: annotation(["yes"] * 10, "yes/no"),
        2: annotation(["no"] * 6 + ["yes"] * 4, "yes/no"),
        3: annotation(["two"] * 7 + ["3"] * 3, "number", "how many"),
        4: annotation(["12"] * 10, "number", "how many"),
        5: annotation(["red"] * 10),
    }
    answers = {1: "yes", 2: "Yes", 3: "2", 4: "12", 5: "maybe"}
    evaluation = evaluate_vqa(list(annotations), annotations, answers)
    analysis = analyse_vqa(list(annotations), annotations, answers, evaluation.per_question, None)
    assert analysis.calibration is None
    yes, no = 0, 1
    assert analysis.yes_no.matrix[yes][yes] == 1 and analysis.yes_no.matrix[no][yes] == 1
    assert analysis.yes_no.count == 2
    counts = analysis.counts
    assert counts.matrix[counts.labels.index("2")][counts.labels.index("2")] == 1  # "two" normalises to "2"
    assert counts.matrix[counts.labels.index("other")][counts.labels.index("other")] == 1  # 12 is past 10
    # q2: "Yes" against 4 yes of 10 -> 100; q1, q3, q4 right; q5 wrong.
    assert (analysis.right, analysis.partial, analysis.wrong) == (4, 0, 1)
    assert analysis.answer_type_counts == {"yes/no": 2, "number": 2, "other": 1}


def test_vqa_document_keeps_official_keys_and_adds_calibration_only_with_scores():
    annotations = {7: annotation(["cat"] * 10), 8: annotation(["dog"] * 10)}
    with_scores = [VqaResult(7, "cat", 0.9), VqaResult(8, "cat", 0.8)]
    evaluation = evaluate_vqa([7, 8], annotations, with_scores)
    analysis, note = vqa_analysis(evaluation, [7, 8], annotations, with_scores)
    document = vqa_document(evaluation, analysis)
    assert note is None
    assert list(document)[:4] == ["overall", "perAnswerType", "perQuestionType", "perQuestion"]
    assert [b["count"] for b in document["calibration"]["bins"]][7:] == [0, 1, 1]  # 0.9 opens the last bin
    partly = [VqaResult(7, "cat", 0.9), VqaResult(8, "cat")]
    analysis, note = vqa_analysis(evaluation, [7, 8], annotations, partly)
    assert analysis.calibration is None and "1 result of 2 has no" in note


def test_cider_histogram_range_and_edges():
    assert histogram([]).counts == (0,) * 20
    result = histogram([0.0, 0.49, 1.0, 2.3])
    assert result.edges[0] == 0.0 and result.edges[-1] == 2.5 and len(result.edges) == 21
    assert result.counts[0] == 1 and result.counts[3] == 1 and result.counts[8] == 1 and result.counts[18] == 1
    assert histogram([1.0]).counts[-1] == 1  # the top edge is in the last bin
    analysis = analyse_captions({3: 0.5, 4: 1.5})
    assert analysis.to_json()["perImageCIDEr"] == {"3": 0.5, "4": 1.5}


def metrics(per_question, overall=50.0, types=None):
    return {"overall": overall, "perAnswerType": types or {"other": overall}, "perQuestionType": {"what": overall},
            "perQuestion": {str(k): v for k, v in per_question.items()}, "answerTypeCounts": {"other": 3}}


def test_vqa_diff_lists_both_directions_and_the_table():
    a = metrics({1: 100.0, 2: 90.0, 3: 0.0, 4: 100.0}, 72.5)
    b = metrics({1: 60.0, 2: 100.0, 3: 0.0, 4: 100.0}, 65.0, {"other": 65.0, "number": 10.0})
    diff = diff_evaluations("vqa", a, b)
    assert diff.a_only == (1,) and diff.b_only == (2,)
    assert diff.overall[0].difference == -7.5
    assert [(r.name, r.a, r.b, r.difference) for r in diff.per_answer_type] == [
        ("other", 72.5, 65.0, -7.5), ("number", None, 10.0, None)]
    assert diff.to_json()["aRightBWrong"] == [1]


def test_vqa_diff_of_different_questions_is_one_error():
    with pytest.raises(EvaluationError, match=r"not evaluated on the same questions: 1 question only in A "
                                              r"\(question_id 3\); 2 questions only in B \(question_id 5, 6\)"):
        diff_evaluations("vqa", metrics({1: 0.0, 3: 0.0}), metrics({1: 0.0, 5: 0.0, 6: 1.0}))
    with pytest.raises(EvaluationError, match="lack 'perQuestion'"):
        diff_evaluations("vqa", {"overall": 1.0}, metrics({1: 0.0}))


def test_caption_diff_orders_by_gain():
    a = {"BLEU-1": 0.5, "BLEU-2": 0.4, "BLEU-3": 0.3, "BLEU-4": 0.2, "CIDEr": 1.0,
         "perImageCIDEr": {"1": 1.0, "2": 0.2, "3": 2.0, "4": 0.5}}
    b = dict(a, CIDEr=0.9, perImageCIDEr={"1": 0.5, "2": 0.9, "3": 1.9, "4": 0.5})
    diff = diff_evaluations("captioning", a, b)
    assert diff.a_only == (1, 3) and diff.b_only == (2,)
    assert diff.overall[-1].name == "CIDEr" and diff.overall[-1].difference == pytest.approx(-0.1)
    with pytest.raises(EvaluationError, match="same images: 1 image only in B"):
        diff_evaluations("captioning", a, dict(b, perImageCIDEr={**b["perImageCIDEr"], "9": 0.0}))

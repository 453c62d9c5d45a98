"""VQA accuracy: hand-computed cases for both rule sets, reports, rounding, id checks.

Human answers are built as ``humans("two", 3)``: three "two" and seven of a
filler answer, so the prediction matches exactly three of the ten (the
official normalisation is active because the humans disagree).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from vqadesk.errors import EvaluationError
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import answer_accuracy, evaluate_vqa


def humans(answer: str, count: int, filler: str = "zebra") -> list[str]:
    return [answer] * count + [filler] * (10 - count)


@dataclass(frozen=True)
class Annotation:
    answers: tuple[str, ...]
    question_type: str = "what is"
    answer_type: str = "other"


# -- leave-one-out scoring --------------------------------------------------------------


@pytest.mark.parametrize(
    ("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0), (10, 1.0)]
)
def test_matches_score_the_official_steps(matches, expected):
    # Worked by hand: m matches -> (m*min(1,(m-1)/3) + (10-m)*min(1,m/3)) / 10.
    accuracy = answer_accuracy("cat", humans("cat", matches, filler="dog"))
    assert accuracy == pytest.approx(expected, abs=1e-12)
    assert round(100 * accuracy, 2) == 100 * expected


def test_one_match_is_exactly_the_float_the_official_code_produces():
    # Nine scores of 1/3 and one 0, summed left to right, divided by 10.
    assert answer_accuracy("cat", humans("cat", 1, filler="dog")) == 0.3
    assert answer_accuracy("cat", humans("cat", 2, filler="dog")) == 0.6


def test_leave_one_out_works_for_other_numbers_of_answers():
    assert answer_accuracy("x", ["x", "y"]) == pytest.approx(1 / 6)
    assert answer_accuracy("x", ["x"]) == 0.0  # nobody left to agree with


def test_empty_answers_are_answers():
    assert answer_accuracy("", humans("", 4, filler="yes")) == 1.0
    assert answer_accuracy("", humans("yes", 10)) == 0.0
    assert answer_accuracy("  ", humans("", 4, filler="yes")) == 1.0  # stripped to ""


# -- normalisation inside accuracy (official rules) --------------------------------------


@pytest.mark.parametrize(
    ("prediction", "human"),
    [
        ("Two", "2"),                     # number word + case
        ("none", "0"),                    # none -> 0
        ("a dog", "dog"),                 # article
        ("the Dog.", "dog"),              # article, case, final period
        ("dont", "don't"),                # contraction
        ("fire-truck", "fire truck"),     # inner hyphen -> space
        ("1,000", "1000"),                # digit-comma-digit
        ("2.5", "2.5"),                   # decimal point kept
        ("  red\tcar\n", "red car"),      # whitespace, tab, newline
        ("yes!", "yes"),                  # '!' next to nothing -> space, stripped by split
        ("(left)", "left"),               # brackets
    ],
)
def test_official_rules_normalise_both_sides_when_humans_disagree(prediction, human):
    assert answer_accuracy(prediction, humans(human, 3), "official") == pytest.approx(0.9)


def test_official_rules_compare_raw_text_when_humans_agree():
    # Ten identical answers: nothing is normalised, only cleaned of whitespace.
    assert answer_accuracy("yes", humans("yes", 10)) == 1.0
    assert answer_accuracy(" yes\n", humans("yes", 10)) == 1.0
    assert answer_accuracy("Yes", humans("yes", 10)) == 0.0
    assert answer_accuracy("yes.", humans("yes", 10)) == 0.0
    assert answer_accuracy("2", humans("two", 10)) == 0.0
    assert answer_accuracy("two", humans("two", 10)) == 1.0


def test_official_rules_clean_human_answers_before_comparing_them():
    # "yes " and "yes" are one answer after stripping: the humans agree.
    answers = ["yes "] * 5 + ["yes"] * 5
    assert answer_accuracy("yes", answers, "official") == 1.0
    assert answer_accuracy("Yes", answers, "official") == 0.0


# -- the legacy rules and where they differ ------------------------------------------------


def test_legacy_always_normalises_the_prediction():
    assert answer_accuracy("Yes", humans("yes", 10), "legacy") == 1.0
    assert answer_accuracy("Yes", humans("yes", 10), "official") == 0.0


def test_legacy_number_word_quirk():
    # Prediction "two" -> "2", unanimous humans stay "two": no match.
    assert answer_accuracy("two", humans("two", 10), "legacy") == 0.0
    assert answer_accuracy("two", humans("two", 10), "official") == 1.0


def test_legacy_only_punctuation_normalises_disagreeing_humans():
    assert answer_accuracy("2", humans("two", 4), "legacy") == 0.0
    assert answer_accuracy("2", humans("two", 4), "official") == 1.0
    assert answer_accuracy("don't", humans("dont", 4), "legacy") == 0.0
    assert answer_accuracy("don't", humans("dont", 4), "official") == 1.0
    # Punctuation is shared by both.
    assert answer_accuracy("fire truck", humans("fire-truck", 4), "legacy") == 1.0


def test_legacy_does_not_strip_human_answers():
    assert answer_accuracy("yes", ["yes "] * 5 + ["no"] * 5, "legacy") == 0.0
    assert answer_accuracy("yes", ["yes "] * 5 + ["no"] * 5, "official") == 1.0


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="rules"):
        answer_accuracy("x", ["x"], "strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rules"):
        evaluate_vqa([1], {1: Annotation(("x",))}, {1: "x"}, "strict")  # type: ignore[arg-type]


# -- whole evaluations ---------------------------------------------------------------------


def _three_questions():
    annotations = {
        1: Annotation(tuple(humans("yes", 10)), "is the", "yes/no"),
        2: Annotation(tuple(humans("2", 1, filler="3")), "how many", "number"),
        3: Annotation(tuple(humans("red", 5, filler="blue")), "what color is the", "other"),
    }
    results = [VqaResult(1, "yes"), VqaResult(2, "two"), VqaResult(3, "green")]
    return [1, 2, 3], annotations, results


def test_reports_per_question_type_and_answer_type():
    questions, annotations, results = _three_questions()
    evaluation = evaluate_vqa(questions, annotations, results)
    assert evaluation.per_question == {1: 100.0, 2: 30.0, 3: 0.0}
    assert evaluation.overall == 43.33  # round(100 * 1.3 / 3, 2)
    assert evaluation.per_answer_type == {"yes/no": 100.0, "number": 30.0, "other": 0.0}
    assert evaluation.per_question_type == {"is the": 100.0, "how many": 30.0, "what color is the": 0.0}
    assert evaluation.question_type_counts == {"is the": 1, "how many": 1, "what color is the": 1}
    assert evaluation.num_questions == 3
    assert evaluation.to_official_json() == {
        "overall": 43.33,
        "perAnswerType": {"yes/no": 100.0, "number": 30.0, "other": 0.0},
        "perQuestionType": {"is the": 100.0, "how many": 30.0, "what color is the": 0.0},
        "perQuestion": {"1": 100.0, "2": 30.0, "3": 0.0},
    }


def test_overall_rounds_the_mean_of_unrounded_accuracies():
    # Question 1 scores 1/6 (16.67 rounded), question 2 scores 0. The official
    # overall is round(100 * (1/6) / 2, 2) = 8.33; averaging the rounded
    # per-question values would give 8.335 -> 8.34.
    annotations = {1: Annotation(("x", "y")), 2: Annotation(("x", "y"))}
    evaluation = evaluate_vqa([1, 2], annotations, {1: "x", 2: "z"})
    assert evaluation.per_question == {1: 16.67, 2: 0.0}
    assert evaluation.overall == 8.33


def test_rules_change_the_evaluation():
    questions, annotations, results = _three_questions()
    legacy = evaluate_vqa(questions, annotations, results, "legacy")
    # Legacy: "two" -> "2" matches the one "2"; same numbers here...
    assert legacy.per_question == {1: 100.0, 2: 30.0, 3: 0.0}
    results[0] = VqaResult(1, "Yes")
    assert evaluate_vqa(questions, annotations, results, "legacy").per_question[1] == 100.0
    assert evaluate_vqa(questions, annotations, results, "official").per_question[1] == 0.0


def test_questions_may_be_records_with_question_id():
    @dataclass
    class Question:
        question_id: int

    _, annotations, results = _three_questions()
    evaluation = evaluate_vqa([Question(3), Question(1), Question(2)], annotations, results)
    assert list(evaluation.per_question) == [3, 1, 2]


def test_extra_annotations_are_ignored():
    _, annotations, results = _three_questions()
    evaluation = evaluate_vqa([1], annotations, results[:1])
    assert evaluation.overall == 100.0


# -- ids that do not fit ---------------------------------------------------------------------


def test_missing_answers_are_named():
    questions, annotations, results = _three_questions()
    with pytest.raises(EvaluationError, match=r"1 evaluated question without an answer \(question_id 3\)"):
        evaluate_vqa(questions, annotations, results[:2], results_path="r.json")
    with pytest.raises(EvaluationError, match=r"^r\.json: results must answer exactly the 3"):
        evaluate_vqa(questions, annotations, results[:2], results_path="r.json")


def test_extra_and_duplicate_answers_are_named():
    questions, annotations, results = _three_questions()
    results = results + [VqaResult(2, "3"), VqaResult(99, "x"), VqaResult(98, "y")]
    with pytest.raises(EvaluationError) as caught:
        evaluate_vqa(questions, annotations, results)
    message = str(caught.value)
    assert "2 answers to questions that are not evaluated (question_id 99, 98)" in message
    assert "1 question answered more than once (question_id 2)" in message


def test_long_id_lists_show_the_first_few_and_a_count():
    annotations = {qid: Annotation(("x",)) for qid in range(20)}
    with pytest.raises(EvaluationError, match=r"20 evaluated questions without an answer "
                       r"\(question_id 0, 1, 2, 3, 4 and 15 more\)"):
        evaluate_vqa(range(20), annotations, {})


def test_missing_annotations_and_empty_question_lists_are_errors():
    _, annotations, results = _three_questions()
    with pytest.raises(EvaluationError, match=r"a\.json: the annotations lack 1 evaluated question: question_id 7"):
        evaluate_vqa([1, 7], annotations, results, annotations_path="a.json")
    with pytest.raises(EvaluationError, match="no questions"):
        evaluate_vqa([], annotations, [])
    with pytest.raises(EvaluationError, match="repeated question id"):
        evaluate_vqa([1, 1], annotations, results[:1])
    with pytest.raises(EvaluationError, match="no human answers"):
        evaluate_vqa([5], {5: Annotation(())}, {5: "x"})

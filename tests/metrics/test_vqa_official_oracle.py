"""VQA accuracy against an independent oracle: the official ``vqaEval.py``, transcribed.

``official_vqa_eval.py`` beside this file is the official evaluation code (GT-Vision-Lab/VQA)
with only file I/O stripped; vqadesk's ``"official"`` rules must reproduce its current revision
and ``"legacy"`` its earlier one (docs/metrics.md). Hypothesis builds answers that exercise every
normalisation rule (case, the punctuation list, digit-comma-digit, periods, articles, number
words, contractions, whitespace) and sets of ten human answers that agree or disagree and match
the prediction 0 to 10 times; both implementations must give the same floats and reports.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqadesk.data.vqa import VqaAnnotation
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import RULES, answer_accuracy, evaluate_vqa

from .official_vqa_eval import CURRENT, LEGACY, VQA, VQAEval

# The official revision each rule set reproduces (see official_vqa_eval's docstring).
REVISION = {"official": CURRENT, "legacy": LEGACY}

# -- building blocks of answers ------------------------------------------------------------

WORDS = ("yes", "no", "red", "dog", "cat", "tennis", "i", "x", "man's", "o'clock", "net")
NUMBER_WORDS = ("none", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
DIGITS = ("0", "1", "2", "3", "5", "10", "12", "1,000", "1,5", "3.5", "5.", ".5", "2.0")
ARTICLES = ("a", "an", "the")
# Table keys (one of each kind: plain, with apostrophes, capitalised, the reversed entry) and values.
CONTRACTIONS = (
    "dont", "isnt", "whats", "cant", "Im", "Ive", "Id've", "I'dve", "somebody'd", "let's",
    "yall'll", "y'allll", "'ows'at", "twas", "don't", "isn't", "what's", "i'm", "somebodyd",
)
# Every character of the official punctuation list, and some it leaves alone.
PUNCTUATION = tuple(';/[]"{}()=+\\_-><@`,?!') + (":", "'", "%", "&", "*", "#", "$", "~", ".", "...")
# Runs of periods around the official limit of 32 deleted periods.
PERIOD_RUNS = ("." * 31, "." * 32, "." * 33, "." * 40)
SEPARATORS = ("", " ", " ", " ", "  ", "\t", "\n", " \t ", "\r", ",", ", ")

token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(NUMBER_WORDS),
    st.sampled_from(DIGITS),
    st.sampled_from(ARTICLES),
    st.sampled_from(CONTRACTIONS),
    st.sampled_from(PUNCTUATION + PERIOD_RUNS),
)
CASES = (str, str.upper, str.title, str.capitalize, str.swapcase)


@st.composite
def answer_text(draw, min_tokens: int = 0) -> str:
    """A few tokens joined by assorted whitespace, commas or nothing, in some letter case."""
    tokens = draw(st.lists(token, min_size=min_tokens, max_size=5))
    text = tokens[0] if tokens else ""
    for piece in tokens[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + piece
    return draw(st.sampled_from(CASES))(text)


# Answers already in normalised form (as most human answers are): lower-case words and digits.
plain_answer = st.lists(st.sampled_from(WORDS + DIGITS[:6]), min_size=1, max_size=3).map(" ".join)

# Rewrites that the official normalisation may (or, by its quirks, may not) undo.
SWAPS = {
    **{word: str(number) for number, word in enumerate(NUMBER_WORDS[1:])},  # "zero" -> "0", ...
    "none": "0", "0": "none", "2": "two", "10": "ten",
    "dont": "don't", "don't": "dont", "isn't": "isnt", "whats": "what's", "im": "I'm",
    "and": "-", "1000": "1,000",
}
VARIATIONS = (
    str.upper, str.title, str.swapcase,
    lambda text: "the " + text, lambda text: "A " + text, lambda text: text + " an",
    lambda text: text + "!", lambda text: text + "?", lambda text: text + ".", lambda text: text + " .",
    lambda text: f"({text})", lambda text: f'"{text}"', lambda text: text + ",",
    lambda text: f"  {text}\t", lambda text: f"\n{text} ", lambda text: text.replace(" ", "  "),
    lambda text: text.replace(" ", "-"), lambda text: text.replace(" ", "/"),
    lambda text: text.replace(" ", ", "), lambda text: text.replace(" ", " - "),
    lambda text: " ".join(SWAPS.get(word, word) for word in text.split(" ")),
)


@st.composite
def variant_of(draw, base: str) -> str:
    """``base`` rewritten by 1-3 variations (case, articles, punctuation, spaces, swaps)."""
    for variation in draw(st.lists(st.sampled_from(VARIATIONS), min_size=1, max_size=3)):
        base = variation(base)
    return base


@st.composite
def scored_question(draw) -> tuple[str, list[str]]:
    """(prediction, ten human answers): k of them variants of the prediction's base, 0 <= k <= 10."""
    base = draw(st.one_of(plain_answer, answer_text(min_tokens=1)))
    variants = [base] + draw(st.lists(variant_of(base), min_size=1, max_size=3))
    prediction = draw(st.one_of(st.sampled_from(variants), variant_of(base), answer_text()))
    if draw(st.integers(0, 3)) == 2:  # ten identical answers (~25%): where the revisions differ most
        return prediction, [draw(st.sampled_from(variants))] * 10
    others = draw(st.lists(st.one_of(answer_text(min_tokens=1), variant_of(base)), min_size=2, max_size=3))
    matching = draw(st.integers(0, 10))
    # Cycle through the pools so that every variant is used (drawing each would mostly repeat one).
    humans = [variants[i % len(variants)] for i in range(matching)]
    humans += [others[i % len(others)] for i in range(10 - matching)]
    return prediction, draw(st.permutations(humans))


QUESTION_TYPES = ("what color is the", "how many", "is this a", "what is")
ANSWER_TYPES = ("yes/no", "number", "other")

# -- running both implementations ------------------------------------------------------------


def run_official(questions: list[tuple[int, str, str, list[str], str]], rules: str) -> VQAEval:
    """The transcribed official evaluation of (question_id, question_type, answer_type, humans, prediction).

    Built exactly as the official files are: annotations whose answers carry ``answer_id`` 1..10,
    results ``[{"question_id", "answer"}]``, then ``evaluate()`` over the annotations' questions.
    """
    annotations = [
        {
            "question_id": qid, "image_id": qid // 10, "question_type": qtype, "answer_type": atype,
            "answers": [
                {"answer": answer, "answer_confidence": "yes", "answer_id": number}
                for number, answer in enumerate(humans, start=1)
            ],
        }
        for qid, qtype, atype, humans, _ in questions
    ]
    question_list = [{"question_id": qid, "image_id": qid // 10, "question": "?"} for qid, *_ in questions]
    vqa = VQA(annotations, question_list)
    results = vqa.loadRes([{"question_id": qid, "answer": prediction} for qid, *_, prediction in questions])
    evaluation = VQAEval(vqa, results, n=2, version=REVISION[rules])
    evaluation.evaluate()
    return evaluation


def official_accuracy(prediction: str, humans: list[str], rules: str) -> float:
    """The official unrounded accuracy of one question."""
    return run_official([(1, "what is", "other", humans, prediction)], rules).unroundedQA[1]


# -- one question -----------------------------------------------------------------------------


@pytest.mark.parametrize("rules", RULES)
@settings(max_examples=300, deadline=None)
@given(case=scored_question())
def test_answer_accuracy_equals_the_official_code(rules, case):
    prediction, humans = case
    expected = official_accuracy(prediction, humans, rules)
    # Same float, bit for bit: the reports round it, so "close" is not enough.
    assert answer_accuracy(prediction, humans, rules) == expected


def humans_with(answer: str, count: int, filler: str = "zebra") -> list[str]:
    """``count`` times ``answer`` and filler for the rest of ten (so the humans disagree)."""
    return [answer] * count + [filler] * (10 - count)


# (prediction, human answers, accuracy under "official", accuracy under "legacy"); worked by hand
# from the official tables and code.
TABLE_CASES = [
    ("Two", humans_with("2", 3), 0.9, 0.9),  # number word -> digit
    ("none", humans_with("0", 4), 1.0, 1.0),  # "none" is a number
    ("ten", humans_with("10", 4), 1.0, 1.0),
    ("The dog", humans_with("dog", 4), 1.0, 1.0),  # articles dropped
    ("an apple", humans_with("apple", 2), 0.6, 0.6),
    ("dont", humans_with("don't", 4), 1.0, 1.0),  # contractions
    ("isnt", humans_with("isn't", 1), 0.3, 0.3),
    ("Im", humans_with("i'm", 4), 0.0, 0.0),  # capitalised key: never matches after lower()
    ("im", humans_with("im", 4), 1.0, 1.0),
    ("somebody'd", humans_with("somebodyd", 4), 1.0, 1.0),  # the reversed entry
    ("1,000", humans_with("1000", 4), 1.0, 1.0),  # digit-comma-digit: delete every listed char
    ("yes, no", humans_with("yes no", 4), 1.0, 1.0),  # ", " -> comma deleted
    ("yes,no", humans_with("yes no", 4), 1.0, 1.0),  # no space around it -> replaced by space
    ("black-and-white", humans_with("black and white", 4), 1.0, 1.0),
    # The delete-or-space decision reads the original text: ";" turning into a space next to "-"
    # does not make "-" deleted, so "black-white" still splits.
    ("yes;-no black-white", humans_with("yes no black white", 4), 1.0, 1.0),
    ("yes!", humans_with("yes", 4), 1.0, 1.0),
    ("5.", humans_with("5", 4), 1.0, 1.0),  # period not before a digit: deleted
    ("3.5", humans_with("3.5", 4), 1.0, 1.0),  # period before a digit: kept
    ("3.5", humans_with("35", 4), 0.0, 0.0),
    ("." * 32 + "yes", humans_with("yes", 4), 1.0, 1.0),  # re.UNICODE as count: 32 periods go...
    ("." * 33 + "yes", humans_with("yes", 4), 0.0, 0.0),  # ...and the 33rd stays
    ("  Yes\t", humans_with("yes", 4), 1.0, 1.0),  # cleaned, lower-cased
    # Where the two revisions differ:
    ("Yes", ["yes"] * 10, 0.0, 1.0),  # unanimous humans: current code normalises nothing
    ("two", ["two"] * 10, 1.0, 0.0),  # legacy normalises only the prediction -> "2"
    ("2", humans_with("two", 4, filler="three"), 1.0, 0.0),  # legacy never maps human number words
    ("dog", humans_with("the dog", 4), 1.0, 0.0),  # ... nor drops their articles
    ("yes", humans_with(" yes", 4, filler="no"), 1.0, 0.0),  # ... nor strips them
]


@pytest.mark.parametrize(("prediction", "humans", "official", "legacy"), TABLE_CASES)
def test_hand_worked_cases(prediction, humans, official, legacy):
    for rules, expected in (("official", official), ("legacy", legacy)):
        oracle = official_accuracy(prediction, humans, rules)
        assert oracle == pytest.approx(expected, abs=1e-12), f"oracle, {rules}"
        assert answer_accuracy(prediction, humans, rules) == oracle, rules


# -- whole evaluations ----------------------------------------------------------------------


@st.composite
def evaluation_set(draw) -> list[tuple[int, str, str, list[str], str]]:
    """1-20 questions with distinct ids and types from small pools (so the types repeat)."""
    ids = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=20, unique=True))
    questions = []
    for qid in ids:
        prediction, humans = draw(scored_question())
        qtype = draw(st.sampled_from(QUESTION_TYPES))
        atype = draw(st.sampled_from(ANSWER_TYPES))
        questions.append((qid, qtype, atype, humans, prediction))
    return questions


@pytest.mark.parametrize("rules", RULES)
@settings(max_examples=100, deadline=None)
@given(questions=evaluation_set())
def test_evaluate_vqa_equals_the_official_reports(rules, questions):
    official = run_official(questions, rules)
    annotations = {
        qid: VqaAnnotation(
            question_id=qid, image_id=qid // 10, question_type=qtype, answer_type=atype,
            multiple_choice_answer=humans[0], answers=tuple(humans),
            answer_confidences=("yes",) * len(humans),
        )
        for qid, qtype, atype, humans, _ in questions
    }
    results = [VqaResult(question_id=qid, answer=prediction) for qid, *_, prediction in questions]
    ours = evaluate_vqa([qid for qid, *_ in questions], annotations, results, rules)

    assert ours.overall == official.accuracy["overall"]
    # Same values and the same (first-appearance) order of the types.
    assert list(ours.per_answer_type.items()) == list(official.accuracy["perAnswerType"].items())
    assert list(ours.per_question_type.items()) == list(official.accuracy["perQuestionType"].items())
    assert ours.per_question == official.evalQA
    assert ours.answer_type_counts == {name: len(qa) for name, qa in official.evalAnsType.items()}
    assert ours.question_type_counts == {name: len(qa) for name, qa in official.evalQuesType.items()}

"""VQA accuracy exactly as the official evaluation (GT-Vision-Lab/VQA) computes it.

For one question: clean and normalise the prediction and the ten human answers
(``rules`` below), then for each human answer leave it out, count how many of
the other nine equal the prediction, score ``min(count / 3, 1)``, and average
the ten scores: 0 matches -> 0, 1 -> 0.3, 2 -> 0.6, 3 -> 0.9, 4+ -> 1.0.
Reports are 100 x the mean over questions, rounded to 2 decimals, overall, per
answer type, per question type and per question. The arithmetic is done in the
official order (sum of the ten scores / 10; 100 * sum / count; ``round(x, 2)``)
so the floats, and therefore the rounded reports, come out identical.

Two rule sets:

``"official"`` -- the current official code (revision of 2021-03-11): newlines,
    tabs and outer spaces are cleaned from prediction and human answers; then,
    only when the human answers are not all identical, the human answers and
    the prediction both get the full normalisation (punctuation, numbers,
    articles, contractions). When all ten agree nothing is normalised, so the
    prediction must equal them character for character ("Yes" != "yes").
``"legacy"`` -- the 2015-2020 official code, still used by several libraries:
    the prediction is always fully normalised; the human answers only get the
    punctuation step, and only when they disagree (they are not even stripped).
    A quirk of that version: "two" scores 0 against ten "two"s, because the
    prediction becomes "2" while the unanimous humans stay "two".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from vqadesk.errors import EvaluationError, list_ids
from vqadesk.metrics.results_io import by_id
from vqadesk.text.answers import clean_whitespace, normalize_answer, process_punctuation

__all__ = ["RULES", "VqaEvaluation", "answer_accuracy", "evaluate_vqa"]

Rules = Literal["official", "legacy"]
RULES: tuple[str, ...] = ("official", "legacy")

# The official reports round to this many decimals (VQAEval's n=2).
_DECIMALS = 2


class AnnotatedQuestion(Protocol):
    """What accuracy needs from a ground-truth annotation (e.g. ``VqaAnnotation``)."""

    answers: Sequence[str]
    question_type: str
    answer_type: str


class AnsweredQuestion(Protocol):
    """One result entry (e.g. ``vqadesk.metrics.results_io.VqaResult``)."""

    question_id: int
    answer: str


@dataclass(frozen=True)
class VqaEvaluation:
    """Accuracies in percent, rounded to 2 decimals as the official tool reports them.

    ``per_answer_type`` / ``per_question_type`` keep the order in which types
    first appear among the evaluated questions; the ``*_counts`` say how many
    questions each type holds.
    """

    overall: float
    per_answer_type: dict[str, float]
    per_question_type: dict[str, float]
    per_question: dict[int, float]
    answer_type_counts: dict[str, int]
    question_type_counts: dict[str, int]
    rules: str

    @property
    def num_questions(self) -> int:
        return len(self.per_question)

    def to_official_json(self) -> dict:
        """The official key names; question ids become strings as in a JSON dump."""
        return {
            "overall": self.overall,
            "perAnswerType": dict(self.per_answer_type),
            "perQuestionType": dict(self.per_question_type),
            "perQuestion": {str(qid): acc for qid, acc in self.per_question.items()},
        }


@lru_cache(maxsize=1 << 17)
def _fully_normalized(text: str) -> str:
    # Human answers repeat a lot ("yes", "2", "white"): cache the normalisation.
    return normalize_answer(text)


@lru_cache(maxsize=1 << 17)
def _punctuation_normalized(text: str) -> str:
    return process_punctuation(text)


def _leave_one_out(prediction: str, humans: Sequence[str]) -> float:
    """Mean over humans of min(1, matches among the *other* answers / 3).

    Written to perform the official float operations in the official order:
    ``min(1, k / 3)`` for each left-out answer, ``sum(...) / len(...)``.
    """
    matches = [human == prediction for human in humans]
    total = sum(matches)
    scores = [min(1, (total - left_out) / 3) for left_out in matches]
    return sum(scores) / len(scores)


def answer_accuracy(prediction: str, human_answers: Sequence[str], rules: Rules = "official") -> float:
    """Accuracy of one predicted answer against the human answers, in [0, 1], unrounded.

    >>> answer_accuracy("Two", ["2"] * 3 + ["3"] * 7)
    0.9
    """
    if not human_answers:
        raise ValueError("answer_accuracy needs at least one human answer")
    if rules == "official":
        humans = [clean_whitespace(answer) for answer in human_answers]
        prediction = clean_whitespace(prediction)
        if len(set(humans)) > 1:
            humans = [_fully_normalized(answer) for answer in humans]
            prediction = _fully_normalized(prediction)
    elif rules == "legacy":
        prediction = _fully_normalized(prediction)
        humans = list(human_answers)
        if len(set(humans)) > 1:
            humans = [_punctuation_normalized(answer) for answer in humans]
    else:
        raise ValueError(f"unknown VQA accuracy rules {rules!r}; expected one of {RULES}")
    return _leave_one_out(prediction, humans)


def _percent(values: list[float]) -> float:
    # Official: round(100*float(sum(acc))/len(acc), n) -- multiply, then divide.
    return round(100 * sum(values) / len(values), _DECIMALS)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _collect_answers(
    results: Iterable[AnsweredQuestion] | Mapping[int, str],
) -> tuple[dict[int, str], list[int]]:
    """Map question id -> answer, and the ids answered more than once (in order)."""
    if isinstance(results, Mapping):
        return dict(results), []
    return by_id(results, lambda result: result.question_id, lambda result: result.answer)


def _check_coverage(
    question_ids: list[int],
    annotations: Mapping[int, AnnotatedQuestion],
    answers: dict[int, str],
    duplicated: list[int],
    results_path: str | os.PathLike[str] | None,
    annotations_path: str | os.PathLike[str] | None,
) -> None:
    """Raise one EvaluationError listing every way results and questions disagree."""
    if not question_ids:
        raise EvaluationError("no questions to evaluate: the questions list is empty")
    seen: set[int] = set()
    repeated_questions = []
    for qid in question_ids:
        if qid in seen:
            repeated_questions.append(qid)
        seen.add(qid)
    if repeated_questions:
        raise EvaluationError(
            f"the questions list has {_plural(len(repeated_questions), 'repeated question id')}: "
            f"{list_ids(repeated_questions)}"
        )
    unannotated = [qid for qid in question_ids if qid not in annotations]
    if unannotated:
        where = f"{annotations_path}: " if annotations_path is not None else ""
        raise EvaluationError(
            f"{where}the annotations lack {_plural(len(unannotated), 'evaluated question')}: "
            f"question_id {list_ids(unannotated)}"
        )
    problems = []
    missing = [qid for qid in question_ids if qid not in answers]
    if missing:
        problems.append(
            f"{_plural(len(missing), 'evaluated question')} without an answer "
            f"(question_id {list_ids(missing)})"
        )
    extra = [qid for qid in answers if qid not in seen]
    if extra:
        problems.append(
            f"{_plural(len(extra), 'answer')} to questions that are not evaluated "
            f"(question_id {list_ids(extra)})"
        )
    if duplicated:
        problems.append(
            f"{_plural(len(duplicated), 'question')} answered more than once "
            f"(question_id {list_ids(duplicated)})"
        )
    if problems:
        where = f"{results_path}: " if results_path is not None else ""
        raise EvaluationError(
            f"{where}results must answer exactly the {len(question_ids)} evaluated questions: "
            + "; ".join(problems)
        )


def evaluate_vqa(
    questions: Iterable[int] | Iterable[object],
    annotations: Mapping[int, AnnotatedQuestion],
    results: Iterable[AnsweredQuestion] | Mapping[int, str],
    rules: Rules = "official",
    *,
    results_path: str | os.PathLike[str] | None = None,
    annotations_path: str | os.PathLike[str] | None = None,
) -> VqaEvaluation:
    """Evaluate answers to exactly the given questions, as the official tool does.

    ``questions``: the evaluated questions, as ids or records with a
    ``question_id`` (e.g. ``VqaQuestionsFile.questions``); they fix the set
    and the order. ``annotations``: question id -> annotation with
    ``answers``, ``question_type`` and ``answer_type`` (extra entries are
    ignored). ``results``: entries with ``question_id`` and ``answer``, or a
    mapping id -> answer. Missing, extra or repeated ids raise
    ``EvaluationError`` naming them (``results_path`` / ``annotations_path``
    prefix the messages about each file).
    """
    if rules not in RULES:
        raise ValueError(f"unknown VQA accuracy rules {rules!r}; expected one of {RULES}")
    question_ids = [getattr(question, "question_id", question) for question in questions]
    answers, duplicated = _collect_answers(results)
    _check_coverage(question_ids, annotations, answers, duplicated, results_path, annotations_path)

    accuracies: list[float] = []
    by_answer_type: dict[str, list[float]] = {}
    by_question_type: dict[str, list[float]] = {}
    per_question: dict[int, float] = {}
    for qid in question_ids:
        annotation = annotations[qid]
        if not annotation.answers:
            where = f"{annotations_path}: " if annotations_path is not None else ""
            raise EvaluationError(f"{where}question {qid} has no human answers")
        accuracy = answer_accuracy(answers[qid], annotation.answers, rules)
        accuracies.append(accuracy)
        by_answer_type.setdefault(annotation.answer_type, []).append(accuracy)
        by_question_type.setdefault(annotation.question_type, []).append(accuracy)
        per_question[qid] = round(100 * accuracy, _DECIMALS)

    return VqaEvaluation(
        overall=_percent(accuracies),
        per_answer_type={name: _percent(accs) for name, accs in by_answer_type.items()},
        per_question_type={name: _percent(accs) for name, accs in by_question_type.items()},
        per_question=per_question,
        answer_type_counts={name: len(accs) for name, accs in by_answer_type.items()},
        question_type_counts={name: len(accs) for name, accs in by_question_type.items()},
        rules=rules,
    )

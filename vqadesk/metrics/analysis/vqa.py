"""What a VQA evaluation says beyond the official numbers: calibration, confusion, correctness.

- **Calibration**: the questions binned by the model's probability of its
  answer (10 equal-width bins over [0, 1], 1.0 in the last), each bin's mean
  official accuracy and mean probability, and the expected calibration error
  ``sum_b n_b / N * |accuracy_b / 100 - probability_b|``.
- **Confusion matrices** of the yes/no questions (answer type ``yes/no``:
  yes / no / other) and of the counting ones (answer type ``number``: 0..10 /
  other): rows are the humans' majority answer, columns the prediction, both
  after the official normalisation (``normalize_answer`` of the cleaned text;
  a tie between answers goes to the one given first).
- **Correctness**: how many questions are right (accuracy 100: at least four
  of the ten humans gave the answer), partly right, or wrong (0).

``VqaAnalysis.to_json()`` gives the keys ``vqadesk evaluate vqa --json`` adds
to the official ones (docs/evaluate.md lists them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from vqadesk.text.answers import clean_whitespace, normalize_answer

CALIBRATION_BINS = 10
RIGHT = 100.0  # the accuracy a question needs to count as right (the mistakes browser shows the others)
YES_NO_LABELS = ("yes", "no", "other")
COUNT_LABELS = (*(str(n) for n in range(11)), "other")
YES_NO_TYPE, NUMBER_TYPE = "yes/no", "number"


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    accuracy: float | None  # mean official accuracy (0-100) of the bin's questions; None when empty
    mean_score: float | None  # mean probability of the answers in the bin

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "count": self.count, "accuracy": self.accuracy,
                "meanScore": self.mean_score}


@dataclass(frozen=True)
class Calibration:
    bins: tuple[CalibrationBin, ...]
    ece: float  # expected calibration error, a fraction in [0, 1]

    def to_json(self) -> dict[str, Any]:
        return {"bins": [b.to_json() for b in self.bins], "ece": self.ece}


@dataclass(frozen=True)
class Confusion:
    """``matrix[i][j]``: questions whose human majority is ``labels[i]`` and prediction ``labels[j]``."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return sum(map(sum, self.matrix))

    def to_json(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "matrix": [list(row) for row in self.matrix], "count": self.count}


@dataclass(frozen=True)
class VqaAnalysis:
    calibration: Calibration | None  # None when the results carry no scores
    yes_no: Confusion
    counts: Confusion
    right: int
    partial: int
    wrong: int
    answer_type_counts: dict[str, int]
    question_type_counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The keys added to the official ``--json`` document (``calibration`` only with scores)."""
        extra: dict[str, Any] = {
            "numQuestions": self.right + self.partial + self.wrong,
            "answerTypeCounts": dict(self.answer_type_counts),
            "questionTypeCounts": dict(self.question_type_counts),
            "correctness": {"rightAccuracy": RIGHT, "right": self.right, "partial": self.partial, "wrong": self.wrong},
            "yesNoConfusion": self.yes_no.to_json(),
            "countConfusion": self.counts.to_json(),
        }
        if self.calibration is not None:
            extra["calibration"] = self.calibration.to_json()
        return extra


def calibration(scores: Sequence[float], accuracies: Sequence[float], bins: int = CALIBRATION_BINS) -> Calibration:
    """Bin ``scores`` (probabilities in [0, 1]) with the matching ``accuracies`` (0-100)."""
    if len(scores) != len(accuracies):
        raise ValueError("calibration needs one accuracy per score")
    members: list[list[tuple[float, float]]] = [[] for _ in range(bins)]
    for score, accuracy in zip(scores, accuracies):
        members[min(int(score * bins), bins - 1)].append((score, accuracy))
    total = len(scores)
    result, ece = [], 0.0
    for index, inside in enumerate(members):
        low, high = round(index / bins, 6), round((index + 1) / bins, 6)
        if not inside:
            result.append(CalibrationBin(low, high, 0, None, None))
            continue
        mean_score = sum(s for s, _ in inside) / len(inside)
        mean_accuracy = sum(a for _, a in inside) / len(inside)
        ece += len(inside) / total * abs(mean_accuracy / 100 - mean_score)
        result.append(CalibrationBin(low, high, len(inside), round(mean_accuracy, 2), round(mean_score, 4)))
    return Calibration(tuple(result), round(ece, 4))


@lru_cache(maxsize=1 << 17)
def normalized(text: str) -> str:
    """The official full normalisation of an answer (as used when the humans disagree); cached: human
    answers repeat a lot ("yes", "2"), and a split has hundreds of thousands of them."""
    return normalize_answer(clean_whitespace(text))


def majority_answer(human_answers: Sequence[str]) -> str:
    """The most frequent normalised human answer; a tie goes to the one given first."""
    counts = Counter(normalized(answer) for answer in human_answers)
    best = max(counts.values())
    return next(answer for answer in counts if counts[answer] == best)


def _confusion(labels: tuple[str, ...], pairs: list[tuple[str, str]]) -> Confusion:
    position = {label: index for index, label in enumerate(labels)}
    other = position["other"]
    matrix = [[0] * len(labels) for _ in labels]
    for human, predicted in pairs:
        matrix[position.get(human, other)][position.get(predicted, other)] += 1
    return Confusion(labels, tuple(tuple(row) for row in matrix))


def analyse_vqa(
    question_ids: Sequence[int],
    annotations: Mapping[int, Any],
    answers: Mapping[int, str],
    accuracies: Mapping[int, float],
    scores: Mapping[int, float] | None,
) -> VqaAnalysis:
    """The analysis of evaluated questions (the ids ``evaluate_vqa`` checked).

    ``annotations[qid]`` has ``answers``, ``answer_type`` and ``question_type``;
    ``accuracies`` are the per-question accuracies (0-100); ``scores``, the
    model's probabilities, give the calibration (None: no calibration).
    """
    yes_no: list[tuple[str, str]] = []
    counting: list[tuple[str, str]] = []
    answer_types: Counter[str] = Counter()
    question_types: Counter[str] = Counter()
    right = partial = wrong = 0
    for qid in question_ids:
        annotation = annotations[qid]
        answer_types[annotation.answer_type] += 1
        question_types[annotation.question_type] += 1
        accuracy = accuracies[qid]
        if accuracy >= RIGHT:
            right += 1
        elif accuracy > 0:
            partial += 1
        else:
            wrong += 1
        if annotation.answer_type in (YES_NO_TYPE, NUMBER_TYPE):
            pair = (majority_answer(annotation.answers), normalized(answers[qid]))
            (yes_no if annotation.answer_type == YES_NO_TYPE else counting).append(pair)
    return VqaAnalysis(
        calibration=None if scores is None else calibration(
            [scores[qid] for qid in question_ids], [accuracies[qid] for qid in question_ids]),
        yes_no=_confusion(YES_NO_LABELS, yes_no),
        counts=_confusion(COUNT_LABELS, counting),
        right=right, partial=partial, wrong=wrong,
        answer_type_counts=dict(answer_types),
        question_type_counts=dict(question_types),
    )

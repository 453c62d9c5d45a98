"""The answer vocabulary: the output classes of a VQA classifier.

``AnswerVocabulary.build(annotations, k)`` keeps the ``k`` most frequent
``multiple_choice_answer``s of the VQA annotations (``vqa.read_vqa_annotations``)
after the official answer normalisation, most frequent first, ties in
alphabetical order, so building twice from the same data gives the same class
indices. It records how many questions it was built from and the fraction of
them whose answer made the list (``coverage``, also per ``answer_type``).

On disk (``to_json`` / ``from_json``) it is one JSON object::

    {"format": "vqadesk.answer_vocabulary", "version": 1, "normalization": "vqa-official",
     "question_count": 443757, "coverage": 0.87, "coverage_by_answer_type": {"other": 0.7, ...},
     "answers": ["yes", "no", "2", ...], "counts": [84978, 82516, 12346, ...]}

``from_dict`` checks such an object field by field, so a damaged file ends in
one ``DataFormatError`` naming the field (``counts[3]: cannot be negative``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import MappingProxyType
from typing import Any, Protocol

from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import JsonBacked, check_format, expect, field


class VqaAnnotation(Protocol):
    """What the vocabulary reads of an annotation (``vqadesk.data.vqa.VqaAnnotation`` has it)."""

    multiple_choice_answer: str


PathLike = str | os.PathLike[str]

ANSWER_VOCABULARY_FORMAT = "vqadesk.answer_vocabulary"
ANSWER_VOCABULARY_VERSION = 1


@dataclass(frozen=True)
class AnswerVocabulary(JsonBacked):
    """The K most frequent answers, most frequent first (ties: alphabetical).

    Answers are ``multiple_choice_answer`` after the official normalisation
    (``vqadesk.text.answers.normalize_answer``). ``coverage`` is the fraction
    of the questions it was built from whose answer made the list (the VQA
    paper reports 82.67% for the top 1,000 on VQA v1 train), also per
    ``answer_type``.
    """

    answers: tuple[str, ...]
    counts: tuple[int, ...]
    question_count: int
    coverage: float
    coverage_by_answer_type: Mapping[str, float] = dataclass_field(default_factory=dict)
    _index: dict[str, int] = dataclass_field(init=False, repr=False, compare=False)

    JSON_INDENT = 1

    def __post_init__(self) -> None:
        if len(self.answers) != len(self.counts):
            raise ValueError("answers and counts must have the same length")
        index = {answer: position for position, answer in enumerate(self.answers)}
        if len(index) != len(self.answers):
            raise ValueError("answers must be unique")
        object.__setattr__(self, "_index", index)
        object.__setattr__(
            self, "coverage_by_answer_type", MappingProxyType(dict(self.coverage_by_answer_type))
        )

    @classmethod
    def build(
        cls, annotations: Mapping[int, VqaAnnotation] | Iterable[VqaAnnotation], k: int = 1000
    ) -> AnswerVocabulary:
        """Count normalised ``multiple_choice_answer``s and keep the ``k`` most frequent."""
        from vqadesk.text.answers import normalize_answer

        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        records = list(annotations.values() if isinstance(annotations, Mapping) else annotations)
        if not records:
            raise VqadeskError("cannot build an answer vocabulary: there are no annotations")
        normalized: dict[str, str] = {}  # answers repeat a lot ("yes" ...): normalise each once
        answer_of_question = []
        for record in records:
            text = normalized.get(record.multiple_choice_answer)
            if text is None:
                text = normalized[record.multiple_choice_answer] = normalize_answer(
                    record.multiple_choice_answer
                )
            answer_of_question.append((text, record.answer_type))
        counts = Counter(text for text, _ in answer_of_question)
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
        kept = {text for text, _ in top}
        per_type_total: Counter[str] = Counter()
        per_type_kept: Counter[str] = Counter()
        for text, answer_type in answer_of_question:
            per_type_total[answer_type] += 1
            per_type_kept[answer_type] += text in kept
        return cls(
            answers=tuple(text for text, _ in top),
            counts=tuple(count for _, count in top),
            question_count=len(records),
            coverage=sum(count for _, count in top) / len(records),
            coverage_by_answer_type={t: per_type_kept[t] / per_type_total[t] for t in sorted(per_type_total)},
        )

    def __len__(self) -> int:
        return len(self.answers)

    def __contains__(self, answer: object) -> bool:
        return answer in self._index

    def index_of(self, answer: str) -> int | None:
        """Class index of ``answer`` (looked up as given, then normalised); ``None`` if absent."""
        position = self._index.get(answer)
        if position is None:
            from vqadesk.text.answers import normalize_answer

            position = self._index.get(normalize_answer(answer))
        return position

    def answer_of(self, index: int) -> str:
        if not 0 <= index < len(self.answers):
            raise IndexError(f"answer index {index} outside the vocabulary of {len(self.answers)} answers")
        return self.answers[index]

    # -- files (to_json, from_json and pickling come with JsonBacked) ------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ANSWER_VOCABULARY_FORMAT,
            "version": ANSWER_VOCABULARY_VERSION,
            "normalization": "vqa-official",
            "question_count": self.question_count,
            "coverage": self.coverage,
            "coverage_by_answer_type": dict(self.coverage_by_answer_type),
            "answers": list(self.answers),
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, source: PathLike = "<answer vocabulary>", where: str = ""
    ) -> AnswerVocabulary:
        """Check ``to_dict()`` output field by field; ``where`` locates it inside a larger file."""
        prefix = f"{where}." if where else ""
        check_format(data, name=ANSWER_VOCABULARY_FORMAT, version=ANSWER_VOCABULARY_VERSION, source=source,
                     where=where, what="an answer vocabulary")
        answers = field(data, "answers", list, source, where)
        counts = field(data, "counts", list, source, where)
        if not answers:
            raise DataFormatError(source, "empty: a vocabulary needs at least one answer", f"{prefix}answers")
        if len(counts) != len(answers):
            raise DataFormatError(
                source,
                f"has {len(counts)} entries but 'answers' has {len(answers)}; they must match",
                f"{prefix}counts",
            )
        seen: dict[str, int] = {}
        for index, (answer, count) in enumerate(zip(answers, counts, strict=True)):
            expect(answer, str, source, f"{prefix}answers[{index}]")
            if answer in seen:
                raise DataFormatError(
                    source,
                    f"duplicate answer {answer!r} (also answers[{seen[answer]}])",
                    f"{prefix}answers[{index}]",
                )
            seen[answer] = index
            if expect(count, int, source, f"{prefix}counts[{index}]") < 0:
                raise DataFormatError(source, f"cannot be negative, got {count}", f"{prefix}counts[{index}]")
        question_count = field(data, "question_count", int, source, where)
        coverage = _fraction(field(data, "coverage", float, source, where), source, f"{prefix}coverage")
        by_type = field(data, "coverage_by_answer_type", dict, source, where)
        for answer_type, value in by_type.items():
            _fraction(
                expect(value, float, source, f"{prefix}coverage_by_answer_type.{answer_type}"),
                source,
                f"{prefix}coverage_by_answer_type.{answer_type}",
            )
        return cls(
            answers=tuple(answers),
            counts=tuple(counts),
            question_count=question_count,
            coverage=float(coverage),
            coverage_by_answer_type={k: float(v) for k, v in by_type.items()},
        )


def _fraction(value: float, source: PathLike, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise DataFormatError(source, f"must be a fraction between 0 and 1, got {value}", name)
    return value

"""VQA v2 questions and annotations: strict readers, joining, the answer list.

* ``read_vqa_questions(path)`` -> ``VqaQuestionsFile`` (``.questions`` in file order);
* ``read_vqa_annotations(path)`` -> ``{question_id: VqaAnnotation}``;
* ``VqaDataset.load`` / ``join_questions``: each question with its annotation
  and, given a ``CocoIndex``, its image file;
* ``AnswerVocabulary``: the K most frequent (normalised) answers, the output
  classes of a VQA classifier.

The readers are strict about the records and lenient about the header: every
field of every question and annotation that the official files have (except
``answer_id``, which nothing uses) must be present with its JSON type, or a
``DataFormatError`` names it (``annotations[0].image_id: missing``); the header
keys (``info``, ``task_type``, ``data_type``, ``data_subtype``, ``license``)
may be absent but are type-checked when present. Hence the trimmed annotations
sample of allennlp (question ids and answers only) is refused, not half-read.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from vqadesk.data.jsonio import describe_type, expect, field, read_json, write_json_atomic
from vqadesk.errors import DataFormatError, ImageLoadError, VqadeskError

if TYPE_CHECKING:
    from vqadesk.data.coco import CocoIndex

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class VqaQuestion:
    question_id: int
    image_id: int
    question: str


@dataclass(frozen=True, slots=True)
class VqaAnnotation:
    """The human answers to one question (usually ten)."""

    question_id: int
    image_id: int
    question_type: str
    answer_type: str  # 'yes/no', 'number' or 'other' in the official data
    multiple_choice_answer: str
    answers: tuple[str, ...]
    answer_confidences: tuple[str, ...]  # 'yes' | 'maybe' | 'no', one per answer


@dataclass(frozen=True, kw_only=True)
class VqaQuestionsFile:
    """A questions file: its questions in file order and its header."""

    questions: list[VqaQuestion]
    path: Path | None = None
    data_subtype: str | None = None
    task_type: str | None = None
    data_type: str | None = None
    info: dict[str, Any] = dataclass_field(default_factory=dict)
    license: dict[str, Any] | None = None


# -- questions --------------------------------------------------------------------------------


def read_vqa_questions(path: PathLike) -> VqaQuestionsFile:
    """Read ``v2_OpenEnded_mscoco_<subtype>_questions.json`` (or a file like it)."""
    path = Path(path)
    data = _top_level_object(path, "questions")
    if "questions" not in data and "annotations" in data:
        raise DataFormatError(path, "this is an annotations file; expected a VQA questions file")
    raw_questions = field(data, "questions", list, path)
    questions: list[VqaQuestion] = []
    append = questions.append
    for position, raw in enumerate(raw_questions):
        try:
            question_id, image_id, text = raw["question_id"], raw["image_id"], raw["question"]
        except (KeyError, TypeError, IndexError):
            _raise_question_problem(path, position, raw)
        if type(question_id) is not int or type(image_id) is not int or type(text) is not str:
            _raise_question_problem(path, position, raw)
        append(VqaQuestion(question_id, image_id, text))
    _check_unique_ids(path, "questions", [q.question_id for q in questions])
    return VqaQuestionsFile(
        path=path,
        questions=questions,
        data_subtype=_header(data, "data_subtype", str, path),
        task_type=_header(data, "task_type", str, path),
        data_type=_header(data, "data_type", str, path),
        info=_header(data, "info", dict, path) or {},
        license=_header(data, "license", dict, path),
    )


def _raise_question_problem(path: Path, position: int, raw: Any) -> NoReturn:
    where = f"questions[{position}]"
    for key, types in (("question_id", int), ("image_id", int), ("question", str)):
        field(raw, key, types, path, where)
    raise DataFormatError(path, "not a valid question", where)  # not reached


# -- annotations ------------------------------------------------------------------------------------


def read_vqa_annotations(path: PathLike) -> dict[int, VqaAnnotation]:
    """Read ``v2_mscoco_<subtype>_annotations.json`` into ``{question_id: annotation}``."""
    path = Path(path)
    data = _top_level_object(path, "annotations")
    if "annotations" not in data and "questions" in data:
        raise DataFormatError(path, "this is a questions file; expected a VQA annotations file")
    raw_annotations = field(data, "annotations", list, path)
    for key, types in (("data_subtype", str), ("data_type", str), ("info", dict), ("license", dict)):
        _header(data, key, types, path)
    annotations: dict[int, VqaAnnotation] = {}
    for position, raw in enumerate(raw_annotations):
        try:
            question_id, image_id = raw["question_id"], raw["image_id"]
            question_type, answer_type = raw["question_type"], raw["answer_type"]
            best, raw_answers = raw["multiple_choice_answer"], raw["answers"]
            answers = tuple([answer["answer"] for answer in raw_answers])
            confidences = tuple([answer["answer_confidence"] for answer in raw_answers])
            ok = (
                type(question_id) is int
                and type(image_id) is int
                and type(question_type) is str
                and type(answer_type) is str
                and type(best) is str
                and type(raw_answers) is list
                and answers
                and all(type(text) is str for text in answers)
                and all(type(text) is str for text in confidences)
            )
        except (KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            _raise_annotation_problem(path, position, raw)
        if question_id in annotations:
            raise DataFormatError(
                path, f"duplicate question id {question_id}", f"annotations[{position}].question_id"
            )
        annotations[question_id] = VqaAnnotation(
            question_id, image_id, question_type, answer_type, best, answers, confidences
        )
    return annotations


def _raise_annotation_problem(path: Path, position: int, raw: Any) -> NoReturn:
    where = f"annotations[{position}]"
    for key, types in (
        ("question_id", int),
        ("image_id", int),
        ("question_type", str),
        ("answer_type", str),
        ("multiple_choice_answer", str),
    ):
        field(raw, key, types, path, where)
    answers = field(raw, "answers", list, path, where)
    if not answers:
        raise DataFormatError(path, "no answers", f"{where}.answers")
    for index, answer in enumerate(answers):
        field(answer, "answer", str, path, f"{where}.answers[{index}]")
        field(answer, "answer_confidence", str, path, f"{where}.answers[{index}]")
    raise DataFormatError(path, "not a valid annotation", where)  # not reached


# -- shared checks ----------------------------------------------------------------------------------


def _top_level_object(path: Path, what: str) -> dict[str, Any]:
    data = read_json(path)
    if isinstance(data, list):
        raise DataFormatError(
            path, f"expected a VQA {what} object, got a list (a results file, or COCO annotations?)"
        )
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected a VQA {what} object, got {describe_type(data)}")
    return data


def _header(data: dict[str, Any], key: str, types: type, path: Path) -> Any:
    value = data.get(key)
    return None if value is None else expect(value, types, path, key)


def _check_unique_ids(path: Path, list_name: str, ids: list[int]) -> None:
    if len(set(ids)) == len(ids):
        return
    seen: set[int] = set()
    for position, question_id in enumerate(ids):
        if question_id in seen:
            raise DataFormatError(
                path, f"duplicate question id {question_id}", f"{list_name}[{position}].question_id"
            )
        seen.add(question_id)


# -- joining questions, annotations and images --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VqaSample:
    """One question with its human answers (if known) and its image file (if found)."""

    question: VqaQuestion
    annotation: VqaAnnotation | None = None
    image_path: Path | None = None


def join_questions(
    questions: Sequence[VqaQuestion],
    annotations: Mapping[int, VqaAnnotation] | None = None,
    *,
    coco: CocoIndex | None = None,
    require_images: bool = False,
    questions_path: PathLike = "questions",
    annotations_path: PathLike = "annotations",
) -> list[VqaSample]:
    """Pair each question with its annotation and image file, in question order.

    When ``annotations`` is given every question must have one, about the same
    image; annotations of other questions are ignored (a questions file may
    be a subset of the split). With ``require_images`` (needs ``coco``), a
    question whose image file is missing is an ``ImageLoadError``. The paths
    only serve the error messages.
    """
    if require_images and coco is None:
        raise ValueError("require_images needs a CocoIndex to find the image files")
    samples: list[VqaSample] = []
    missing: list[int] = []
    for position, question in enumerate(questions):
        annotation = None
        if annotations is not None:
            annotation = annotations.get(question.question_id)
            if annotation is None:
                missing.append(position)
                continue
            if annotation.image_id != question.image_id:
                raise DataFormatError(
                    annotations_path,
                    f"question {question.question_id} is about image {annotation.image_id} here "
                    f"but about image {question.image_id} in {questions_path}",
                )
        image_path = coco.find_image_path(question.image_id) if coco is not None else None
        if require_images and image_path is None:
            raise ImageLoadError(
                coco.image_dir or "images",
                f"no image file for image {question.image_id} (asked about by question {question.question_id})",
            )
        samples.append(VqaSample(question, annotation, image_path))
    if missing:
        first = questions[missing[0]]
        raise DataFormatError(
            annotations_path,
            f"no annotation for question {first.question_id} (questions[{missing[0]}] in {questions_path}); "
            f"{len(missing)} of {len(questions)} questions have none",
        )
    return samples


@dataclass(frozen=True)
class VqaDataset:
    """Questions of one split joined with their annotations and image files."""

    samples: list[VqaSample]
    data_subtype: str | None = None
    questions_path: Path | None = None
    annotations_path: Path | None = None

    @classmethod
    def load(
        cls,
        questions_path: PathLike,
        annotations_path: PathLike | None = None,
        *,
        coco: CocoIndex | None = None,
        require_images: bool = False,
    ) -> VqaDataset:
        """Read the files and join them (annotations required when a file is given)."""
        questions_file = read_vqa_questions(questions_path)
        annotations = read_vqa_annotations(annotations_path) if annotations_path is not None else None
        samples = join_questions(
            questions_file.questions,
            annotations,
            coco=coco,
            require_images=require_images,
            questions_path=questions_file.path,
            annotations_path=annotations_path or "annotations",
        )
        return cls(
            samples=samples,
            data_subtype=questions_file.data_subtype,
            questions_path=questions_file.path,
            annotations_path=Path(annotations_path) if annotations_path is not None else None,
        )

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[VqaSample]:
        return iter(self.samples)

    def __getitem__(self, index: int) -> VqaSample:
        return self.samples[index]

    @property
    def annotations(self) -> dict[int, VqaAnnotation]:
        return {s.question.question_id: s.annotation for s in self.samples if s.annotation is not None}


# -- the answer vocabulary ----------------------------------------------------------------------------------

ANSWER_VOCABULARY_FORMAT = "vqadesk.answer_vocabulary"
ANSWER_VOCABULARY_VERSION = 1


@dataclass(frozen=True)
class AnswerVocabulary:
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

    # -- files ------------------------------------------------------------------------------------

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

    def to_json(self, path: PathLike) -> None:
        """Write ``to_dict()`` atomically (temporary file, then rename)."""
        write_json_atomic(path, self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, path: PathLike) -> AnswerVocabulary:
        return cls.from_dict(read_json(path), source=path)

    @classmethod
    def from_dict(
        cls, data: Any, *, source: PathLike = "<answer vocabulary>", where: str = ""
    ) -> AnswerVocabulary:
        """Check ``to_dict()`` output field by field; ``where`` locates it inside a larger file."""
        prefix = f"{where}." if where else ""
        name = field(data, "format", str, source, where)
        if name != ANSWER_VOCABULARY_FORMAT:
            raise DataFormatError(
                source,
                f"expected {ANSWER_VOCABULARY_FORMAT!r}, got {name!r} (not an answer vocabulary)",
                f"{prefix}format",
            )
        version = field(data, "version", int, source, where)
        if version != ANSWER_VOCABULARY_VERSION:
            raise DataFormatError(
                source,
                f"unsupported version {version} (this vqadesk reads {ANSWER_VOCABULARY_VERSION})",
                f"{prefix}version",
            )
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

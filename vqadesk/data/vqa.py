"""VQA v2 questions and annotations: strict readers and joining them to images.

* ``read_vqa_questions(path)`` -> ``VqaQuestionsFile`` (``.questions`` in file order);
* ``read_vqa_annotations(path)`` -> ``{question_id: VqaAnnotation}``;
* ``VqaDataset.load`` / ``join_questions``: each question with its annotation
  and, given a ``CocoIndex``, its image file;
* ``questions_by_image(questions, annotations)``: ``{image id: [QuestionRecord]}``,
  what the app's dataset splits list.

The answer list built from the annotations (the output classes of a VQA
classifier) is ``vqadesk.text.answer_vocabulary.AnswerVocabulary``.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import starmap
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from vqadesk.errors import DataFormatError, ImageLoadError
from vqadesk.jsonio import describe_type, expect, field, int64, read_json, two_ids_and_text

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


@dataclass(frozen=True)
class QuestionRecord:
    """A question about one image, with its human answers when known (what a dataset split lists)."""

    question: VqaQuestion
    annotation: VqaAnnotation | None

    @property
    def text(self) -> str:
        return self.question.question


# -- questions --------------------------------------------------------------------------------


# Human answers one question may have (VQA v2 and VizWiz give ten). Training's soft
# targets are padded to the most answer classes one question has, so this bounds them.
MAX_ANSWERS = 100


def read_vqa_questions(path: PathLike) -> VqaQuestionsFile:
    """Read ``v2_OpenEnded_mscoco_<subtype>_questions.json`` (or a file like it)."""
    path = Path(path)
    data = _top_level_object(path, "questions")
    if "questions" not in data and "annotations" in data:
        raise DataFormatError(path, "this is an annotations file; expected a VQA questions file")
    raw_questions = field(data, "questions", list, path)
    rows = two_ids_and_text(raw_questions, ("question_id", "image_id", "question"), path, "questions", "question")
    questions = list(starmap(VqaQuestion, rows))
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
                int64(question_id)
                and int64(image_id)
                and type(question_type) is str
                and type(answer_type) is str
                and type(best) is str
                and type(raw_answers) is list
                and answers
                and len(answers) <= MAX_ANSWERS
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
    if len(answers) > MAX_ANSWERS:
        raise DataFormatError(path, f"{len(answers):,} answers, more than the {MAX_ANSWERS} a question may have",
                              f"{where}.answers")
    for index, answer in enumerate(answers):
        field(answer, "answer", str, path, f"{where}.answers[{index}]")
        field(answer, "answer_confidence", str, path, f"{where}.answers[{index}]")
    raise DataFormatError(path, "not a valid annotation", where)  # not reached


def questions_by_image(
    questions_path: PathLike, annotations_path: PathLike | None = None
) -> dict[int, list[QuestionRecord]]:
    """Each image's questions in file order, each with its annotation when the file has one.

    Lenient where ``join_questions`` is strict: a dataset may be browsed with
    annotations for only some of its questions (those without show no answers).
    """
    questions = read_vqa_questions(questions_path).questions
    annotations = read_vqa_annotations(annotations_path) if annotations_path is not None else {}
    by_image: dict[int, list[QuestionRecord]] = {}
    for question in questions:
        record = QuestionRecord(question, annotations.get(question.question_id))
        by_image.setdefault(question.image_id, []).append(record)
    return by_image


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

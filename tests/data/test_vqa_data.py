"""VQA v2 readers, joining questions to annotations and images, and the answer vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.json_files import write
from vqadesk.data.coco import CocoIndex
from vqadesk.data.vqa import (
    VqaAnnotation,
    VqaDataset,
    VqaQuestion,
    join_questions,
    read_vqa_annotations,
    read_vqa_questions,
)
from vqadesk.errors import DataFormatError, ImageLoadError, VqadeskError
from vqadesk.text.answer_vocabulary import AnswerVocabulary

HEADER = {
    "info": {"version": "2.0"},
    "data_type": "mscoco",
    "data_subtype": "val2014",
    "license": {"name": "CC BY 4.0"},
}



def question(question_id=1, image_id=10, text="What color is the cat?") -> dict:
    return {"image_id": image_id, "question": text, "question_id": question_id}


def annotation(
    question_id=1, image_id=10, best="white", answers=("white",) * 10, answer_type="other"
) -> dict:
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": "what color is the",
        "answer_type": answer_type,
        "multiple_choice_answer": best,
        "answers": [
            {"answer": text, "answer_confidence": "yes", "answer_id": i + 1} for i, text in enumerate(answers)
        ],
    }


def questions_file(tmp_path: Path, questions) -> Path:
    return write(tmp_path / "questions.json", {**HEADER, "task_type": "Open-Ended", "questions": questions})


def annotations_file(tmp_path: Path, annotations) -> Path:
    return write(tmp_path / "annotations.json", {**HEADER, "annotations": annotations})


# -- the real sample ------------------------------------------------------------------------------


def test_real_questions_file_loads(vqa_v2_sample: Path) -> None:
    questions = read_vqa_questions(vqa_v2_sample / "questions_train2014_sample.json")
    assert questions.data_subtype == "train2014" and questions.task_type == "Open-Ended"
    assert questions.data_type == "mscoco" and questions.info["version"] == "2.0"
    assert questions.license["name"].startswith("Creative Commons")
    assert questions.questions == [
        VqaQuestion(458752000, 458752, "What is this photo taken looking through?"),
        VqaQuestion(458752001, 458752, "What position is this man playing?"),
        VqaQuestion(458752002, 458752, "What color is the players shirt?"),
    ]


def test_trimmed_real_annotations_are_refused_naming_the_field(vqa_v2_sample: Path) -> None:
    path = vqa_v2_sample / "annotations_train2014_sample_trimmed.json"
    with pytest.raises(DataFormatError) as caught:
        read_vqa_annotations(path)
    assert caught.value.field == "annotations[0].image_id" and caught.value.problem == "missing"
    assert str(caught.value) == f"{path}: field 'annotations[0].image_id': missing"


def test_completed_real_annotations_load(vqa_v2_sample: Path, tmp_path: Path) -> None:
    """The trimmed sample with its missing fields put back reads as official data."""
    data = json.loads((vqa_v2_sample / "annotations_train2014_sample_trimmed.json").read_text())
    for record, (question_type, answer_type, best) in zip(
        data["annotations"],
        [("what is", "other", "net"), ("what", "other", "pitcher"), ("what color is the", "other", "orange")],
        strict=True,
    ):
        record.update(
            image_id=458752, question_type=question_type, answer_type=answer_type, multiple_choice_answer=best
        )
    annotations = read_vqa_annotations(write(tmp_path / "full.json", data))
    first = annotations[458752000]
    assert first.answers.count("net") == 6 and set(first.answers) == {
        "net",
        "netting",
        "mesh",
        "pitcher",
        "orange",
    }
    assert len(first.answer_confidences) == 10 and set(first.answer_confidences) <= {"yes", "maybe", "no"}
    assert annotations[458752002].answers == ("orange",) * 10
    samples = join_questions(
        read_vqa_questions(vqa_v2_sample / "questions_train2014_sample.json").questions, annotations
    )
    assert [s.annotation.multiple_choice_answer for s in samples] == ["net", "pitcher", "orange"]


# -- strict records, lenient header ---------------------------------------------------------------------


def test_header_may_be_absent(tmp_path: Path) -> None:
    read = read_vqa_questions(write(tmp_path / "q.json", {"questions": [question()]}))
    assert read.data_subtype is None and read.info == {} and len(read.questions) == 1


@pytest.mark.parametrize(
    ("questions", "field", "problem"),
    [
        ([question(), {"image_id": 1, "question_id": 2}], "questions[1].question", "missing"),
        ([question(question_id="1")], "questions[0].question_id", "expected an integer, got a string"),
        ([question(image_id=1.0)], "questions[0].image_id", "expected an integer, got a number"),
        ([7], "questions[0]", "expected an object, got an integer"),
        ([question(), question()], "questions[1].question_id", "duplicate question id 1"),
    ],
)
def test_question_field_errors(tmp_path: Path, questions, field: str, problem: str) -> None:
    with pytest.raises(DataFormatError) as caught:
        read_vqa_questions(questions_file(tmp_path, questions))
    assert (caught.value.field, caught.value.problem) == (field, problem)


@pytest.mark.parametrize(
    ("document", "field", "problem"),
    [
        (
            [question()],
            None,
            "expected a VQA questions object, got a list (a results file, or COCO annotations?)",
        ),
        ({"annotations": []}, None, "this is an annotations file; expected a VQA questions file"),
        ({"questions": {}}, "questions", "expected a list, got an object"),
        ({"questions": [], "data_subtype": 2014}, "data_subtype", "expected a string, got an integer"),
        ({"info": {}}, "questions", "missing"),
    ],
)
def test_questions_file_errors(tmp_path: Path, document, field, problem: str) -> None:
    with pytest.raises(DataFormatError) as caught:
        read_vqa_questions(write(tmp_path / "q.json", document))
    assert (caught.value.field, caught.value.problem) == (field, problem)


@pytest.mark.parametrize(
    ("record", "field", "problem"),
    [
        ({**annotation(), "answers": []}, "annotations[1].answers", "no answers"),
        ({**annotation(), "answers": "yes"}, "annotations[1].answers", "expected a list, got a string"),
        (
            annotation(answers=("a", 3)),
            "annotations[1].answers[1].answer",
            "expected a string, got an integer",
        ),
        (
            {**annotation(), "answers": [{"answer": "a"}]},
            "annotations[1].answers[0].answer_confidence",
            "missing",
        ),
        ({**annotation(), "answer_type": None}, "annotations[1].answer_type", "expected a string, got null"),
        (
            {k: v for k, v in annotation().items() if k != "multiple_choice_answer"},
            "annotations[1].multiple_choice_answer",
            "missing",
        ),
        (annotation(question_id=5), "annotations[1].question_id", "duplicate question id 5"),
    ],
)
def test_annotation_field_errors(tmp_path: Path, record, field: str, problem: str) -> None:
    with pytest.raises(DataFormatError) as caught:
        read_vqa_annotations(annotations_file(tmp_path, [annotation(question_id=5), record]))
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_annotations_reader_refuses_a_questions_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="this is a questions file"):
        read_vqa_annotations(questions_file(tmp_path, [question()]))


def test_annotations_are_keyed_by_question_id(tmp_path: Path) -> None:
    annotations = read_vqa_annotations(
        annotations_file(tmp_path, [annotation(3, best="2", answers=("2", "two", "3"), answer_type="number")])
    )
    assert annotations == {
        3: VqaAnnotation(3, 10, "what color is the", "number", "2", ("2", "two", "3"), ("yes", "yes", "yes"))
    }


# -- joining --------------------------------------------------------------------------------------------------


def test_join_needs_an_annotation_for_every_question(tmp_path: Path) -> None:
    questions = [VqaQuestion(1, 10, "a?"), VqaQuestion(2, 10, "b?"), VqaQuestion(3, 11, "c?")]
    annotations = read_vqa_annotations(annotations_file(tmp_path, [annotation(1), annotation(4)]))
    with pytest.raises(DataFormatError) as caught:
        join_questions(questions, annotations, questions_path="q.json", annotations_path="a.json")
    assert (
        str(caught.value)
        == "a.json: no annotation for question 2 (questions[1] in q.json); 2 of 3 questions have none"
    )
    without = join_questions(questions)
    assert [s.annotation for s in without] == [None, None, None]


def test_join_refuses_an_annotation_about_another_image(tmp_path: Path) -> None:
    annotations = read_vqa_annotations(annotations_file(tmp_path, [annotation(1, image_id=99)]))
    with pytest.raises(DataFormatError, match="question 1 is about image 99 here but about image 10"):
        join_questions([VqaQuestion(1, 10, "a?")], annotations)


def test_dataset_finds_image_files_through_a_coco_index(coco_real: Path, vqa_v2_sample: Path) -> None:
    coco = CocoIndex.from_folder(coco_real)
    dataset = VqaDataset.load(
        vqa_v2_sample / "questions_train2014_sample.json", coco=coco, require_images=True
    )
    assert len(dataset) == 3 and dataset.data_subtype == "train2014"
    assert {s.image_path for s in dataset} == {coco_real / "COCO_train2014_000000458752.jpg"}
    assert dataset[0].annotation is None and dataset.annotations == {}


def test_dataset_with_annotations_and_a_missing_image(tmp_path: Path) -> None:
    questions = questions_file(tmp_path, [question(1, 10), question(2, 12)])
    annotations = annotations_file(tmp_path, [annotation(1, 10), annotation(2, 12)])
    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "000000000010.jpg")
    coco = CocoIndex.from_folder(tmp_path / "images")
    dataset = VqaDataset.load(questions, annotations, coco=coco)
    assert dataset[0].image_path == tmp_path / "images" / "000000000010.jpg" and dataset[1].image_path is None
    assert sorted(dataset.annotations) == [1, 2]
    with pytest.raises(ImageLoadError, match="no image file for image 12"):
        VqaDataset.load(questions, annotations, coco=coco, require_images=True)


# -- the answer vocabulary -------------------------------------------------------------------------------------


def vocabulary_annotations() -> list[VqaAnnotation]:
    answers = (
        [("yes", "yes/no")] * 4
        + [("Yes", "yes/no"), ("no", "yes/no")] * 1
        + [("two", "number"), ("2", "number"), ("3", "number")]
    )
    answers += [("red", "other"), ("blue", "other"), ("a dog", "other"), ("dog", "other")]
    return [VqaAnnotation(i, 1, "q", kind, text, (text,), ("yes",)) for i, (text, kind) in enumerate(answers)]


def test_build_counts_normalised_answers_and_breaks_ties_alphabetically() -> None:
    vocabulary = AnswerVocabulary.build(vocabulary_annotations(), k=4)
    # yes x5 ("Yes" normalises to "yes"), 2 x2 ("two" -> "2"), dog x2 ("a dog" -> "dog"), then the 1s.
    assert vocabulary.answers == ("yes", "2", "dog", "3")
    assert vocabulary.counts == (5, 2, 2, 1)
    assert vocabulary.question_count == 13
    assert vocabulary.coverage == pytest.approx(10 / 13)
    assert dict(vocabulary.coverage_by_answer_type) == pytest.approx(
        {"number": 1.0, "other": 2 / 4, "yes/no": 5 / 6}
    )


def test_build_accepts_the_reader_mapping_and_small_k(tmp_path: Path) -> None:
    annotations = read_vqa_annotations(
        annotations_file(tmp_path, [annotation(1, best="white"), annotation(2, best="black")])
    )
    vocabulary = AnswerVocabulary.build(annotations, k=1)
    assert vocabulary.answers == ("black",) and vocabulary.coverage == 0.5
    assert len(AnswerVocabulary.build(annotations)) == 2  # fewer answers than k
    with pytest.raises(ValueError):
        AnswerVocabulary.build(annotations, k=0)
    with pytest.raises(VqadeskError, match="no annotations"):
        AnswerVocabulary.build({})


def test_index_of_and_answer_of() -> None:
    vocabulary = AnswerVocabulary.build(vocabulary_annotations())
    assert vocabulary.index_of("yes") == 0
    assert vocabulary.index_of("Two") == vocabulary.index_of("2") == 1  # normalised when not found as given
    assert vocabulary.index_of("giraffe") is None
    assert vocabulary.answer_of(2) == "dog" and "dog" in vocabulary
    with pytest.raises(IndexError):
        vocabulary.answer_of(len(vocabulary))


def test_json_round_trip(tmp_path: Path) -> None:
    vocabulary = AnswerVocabulary.build(vocabulary_annotations(), k=3)
    path = tmp_path / "answers.json"
    vocabulary.to_json(path)
    assert AnswerVocabulary.from_json(path) == vocabulary
    assert [p.name for p in tmp_path.iterdir()] == ["answers.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (
            {"format": "vqadesk.vocabulary"},
            "format",
            "expected 'vqadesk.answer_vocabulary', got 'vqadesk.vocabulary' (not an answer vocabulary)",
        ),
        ({"version": 2}, "version", "unsupported version 2 (this vqadesk reads 1)"),
        ({"counts": [5, 2]}, "counts", "has 2 entries but 'answers' has 3; they must match"),
        ({"answers": ["yes", "2", "yes"]}, "answers[2]", "duplicate answer 'yes' (also answers[0])"),
        ({"answers": ["yes", None, "dog"]}, "answers[1]", "expected a string, got null"),
        ({"counts": [5, -2, 2]}, "counts[1]", "cannot be negative, got -2"),
        ({"coverage": 1.5}, "coverage", "must be a fraction between 0 and 1, got 1.5"),
        (
            {"coverage_by_answer_type": {"other": "most"}},
            "coverage_by_answer_type.other",
            "expected a number, got a string",
        ),
        ({"answers": [], "counts": []}, "answers", "empty: a vocabulary needs at least one answer"),
    ],
)
def test_bad_vocabulary_files(tmp_path: Path, change: dict, field: str, problem: str) -> None:
    document = {**AnswerVocabulary.build(vocabulary_annotations(), k=3).to_dict(), **change}
    with pytest.raises(DataFormatError) as caught:
        AnswerVocabulary.from_json(write(tmp_path / "answers.json", document))
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_vocabulary_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text("yes\nno\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="malformed JSON"):
        AnswerVocabulary.from_json(path)

"""Property: whatever a file holds, the readers fail only with VqadeskError subclasses.

Arbitrary bytes, arbitrary JSON, and JSON shaped almost like COCO / VQA files
(right keys, random types and values, ids that may or may not match) go
through ``read_json``, ``CocoIndex`` (and its lookups), the VQA readers and
``AnswerVocabulary.from_json``. A ``KeyError``/``TypeError`` escaping any of
them would be a traceback for the user, so it fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vqadesk.data.coco import CocoIndex
from vqadesk.data.vqa import read_vqa_annotations, read_vqa_questions
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json
from vqadesk.text.answer_vocabulary import AnswerVocabulary

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)

# -- JSON shaped almost like the real files ---------------------------------------------------------------

ids = st.integers(min_value=0, max_value=4)  # few ids: references hit and miss
names = st.sampled_from(
    [
        "COCO_val2014_000000000001.jpg",
        "000000000002.jpg",
        "x.png",
        "../up.jpg",
        "a\x00b.jpg",
        "\ud800.jpg",
        "",
    ]
)
loose_values = (
    json_scalars
    | ids
    | names
    | st.lists(st.integers(0, 9) | st.floats(0, 9) | st.text(max_size=3), max_size=5)
)
KEYS = [
    "id",
    "image_id",
    "file_name",
    "width",
    "height",
    "license",
    "caption",
    "category_id",
    "bbox",
    "area",
    "iscrowd",
    "segmentation",
    "keypoints",
    "name",
    "question_id",
    "question",
    "question_type",
    "answer_type",
    "multiple_choice_answer",
    "answers",
    "answer",
    "answer_confidence",
]
loose_records = st.dictionaries(st.sampled_from(KEYS), loose_values, max_size=8) | json_values

image_records = st.fixed_dictionaries(
    {"id": ids, "file_name": names},
    optional={
        "width": st.integers(-1, 640) | st.none(),
        "height": st.integers(1, 480),
        "coco_url": json_scalars,
    },
)
caption_records = st.fixed_dictionaries(
    {"id": ids, "image_id": ids, "caption": st.text(max_size=20) | json_scalars}
)
object_records = st.fixed_dictionaries(
    {
        "id": ids,
        "image_id": ids,
        "category_id": st.sampled_from([1, 17, 999]),
        "bbox": st.lists(st.floats(0, 100) | st.integers(0, 100), min_size=3, max_size=5),
    },
    optional={
        "area": json_scalars,
        "iscrowd": st.integers(0, 1) | st.booleans() | json_scalars,
        "segmentation": json_values,
        "keypoints": json_values,
    },
)
category_records = st.fixed_dictionaries(
    {"id": st.sampled_from([1, 17, 18]), "name": st.text(max_size=6) | json_scalars}
)
question_records = st.fixed_dictionaries(
    {"question_id": ids, "image_id": ids, "question": st.text(max_size=20) | json_scalars}
)
answer_records = (
    st.fixed_dictionaries(
        {
            "answer": st.text(max_size=8) | json_scalars,
            "answer_confidence": st.sampled_from(["yes", "maybe", "no", 3]),
        },
        optional={"answer_id": json_scalars},
    )
    | json_values
)
annotation_records = st.fixed_dictionaries(
    {
        "question_id": ids,
        "image_id": ids,
        "question_type": st.text(max_size=8),
        "answer_type": st.sampled_from(["yes/no", "number", "other"]),
        "multiple_choice_answer": st.text(max_size=8) | json_scalars,
        "answers": st.lists(answer_records, max_size=4) | json_scalars,
    },
)


def some(records) -> st.SearchStrategy:
    return st.lists(records | loose_records, max_size=5)


coco_documents = st.fixed_dictionaries(
    {},
    optional={
        "images": some(image_records) | json_values,
        "annotations": some(caption_records | object_records) | json_values,
        "categories": some(category_records) | json_values,
        "info": json_values,
    },
) | some(object_records | caption_records)
vqa_documents = st.fixed_dictionaries(
    {},
    optional={
        "questions": some(question_records) | json_values,
        "annotations": some(annotation_records) | json_values,
        "data_subtype": json_scalars,
        "task_type": json_scalars,
        "info": json_values,
        "license": json_values,
    },
)
vocabulary_documents = st.fixed_dictionaries(
    {
        "format": st.sampled_from(["vqadesk.answer_vocabulary", "other"]),
        "version": st.sampled_from([1, 2, "1"]),
    },
    optional={
        "answers": st.lists(st.sampled_from(["yes", "no", "2"]) | json_scalars, max_size=4) | json_values,
        "counts": st.lists(st.integers(-1, 5) | json_scalars, max_size=4) | json_values,
        "question_count": st.integers(0, 5) | json_scalars,
        "coverage": st.floats(-1, 2) | json_scalars,
        "coverage_by_answer_type": st.dictionaries(
            st.text(max_size=4), st.floats(0, 2) | json_scalars, max_size=2
        )
        | json_values,
    },
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("properties")
    (folder / "images").mkdir()
    Image.new("RGB", (4, 3)).save(folder / "images" / "000000000002.jpg")
    (folder / "images" / "COCO_val2014_000000000001.jpg").write_bytes(b"not really a jpeg")
    return folder


def only_vqadesk_errors(call) -> object | None:
    try:
        return call()
    except VqadeskError:
        return None


def exercise_coco(path: Path, image_dir: Path | None) -> None:
    index = only_vqadesk_errors(lambda: CocoIndex(path, image_dir=image_dir))
    if index is None:
        return
    for image in index.images:
        index.captions(image.id)
        index.objects(image.id)
        index.find_image_path(image.id)
        only_vqadesk_errors(lambda image_id=image.id: index.image_size(image_id))
    index.search("a", category="cat")
    index.search("", category=1)


def exercise_all_readers(path: Path, workdir: Path) -> None:
    only_vqadesk_errors(lambda: read_json(path))
    exercise_coco(path, workdir / "images")
    exercise_coco(path, None)
    only_vqadesk_errors(lambda: read_vqa_questions(path))
    only_vqadesk_errors(lambda: read_vqa_annotations(path))
    only_vqadesk_errors(lambda: AnswerVocabulary.from_json(path))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(workdir: Path, data: bytes) -> None:
    path = workdir / "input.json"
    path.write_bytes(data)
    exercise_all_readers(path, workdir)


@SETTINGS
@given(value=json_values)
def test_arbitrary_json(workdir: Path, value) -> None:
    path = workdir / "input.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    exercise_all_readers(path, workdir)


@SETTINGS
@given(document=coco_documents)
def test_almost_coco_files(workdir: Path, document) -> None:
    path = workdir / "coco.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    exercise_coco(path, workdir / "images")
    exercise_coco(path, None)


@SETTINGS
@given(document=vqa_documents)
def test_almost_vqa_files(workdir: Path, document) -> None:
    path = workdir / "vqa.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    only_vqadesk_errors(lambda: read_vqa_questions(path))
    annotations = only_vqadesk_errors(lambda: read_vqa_annotations(path))
    if annotations:
        vocabulary = AnswerVocabulary.build(annotations, k=2)
        assert 0.0 <= vocabulary.coverage <= 1.0


@SETTINGS
@given(document=vocabulary_documents)
def test_almost_vocabulary_files(workdir: Path, document) -> None:
    path = workdir / "answers.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    vocabulary = only_vqadesk_errors(lambda: AnswerVocabulary.from_json(path))
    if vocabulary is not None:
        assert len(vocabulary.answers) == len(vocabulary.counts)

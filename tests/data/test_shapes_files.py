"""The Shapes world on disk: real COCO / VQA v2 files, byte-identical for a seed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

import pytest
from PIL import Image

from vqadesk.data.shapes import (
    COLORS,
    SHAPES,
    SIZES,
    ShapesConfigError,
    ShapesWriteError,
    split_files,
    write_shapes_dataset,
)
from vqadesk.jsonio import read_json

REPO_ROOT = Path(__file__).resolve().parents[2]
SPLITS = ("train", "val")
N_IMAGES = 20
SEED = 7


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes") / "world"
    summary = write_shapes_dataset(out, splits=SPLITS, n_images=N_IMAGES, seed=SEED)
    return out, summary


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def load(path: Path):
    with open(path, encoding="utf-8") as handle:  # the plain json module reads them
        return json.load(handle)


# --- layout and determinism ---------------------------------------------------


def test_files_have_the_documented_names(world):
    out, summary = world
    names = set(all_files(out))
    expected = set()
    for split in SPLITS:
        expected |= {
            f"annotations/captions_{split}.json",
            f"annotations/instances_{split}.json",
            f"vqa/v2_OpenEnded_shapes_{split}_questions.json",
            f"vqa/v2_shapes_{split}_annotations.json",
            f"vqa/shapes_{split}_grounding.json",
        }
        images = load(out / "annotations" / f"instances_{split}.json")["images"]
        expected |= {f"{split}/{image['file_name']}" for image in images}
        for image in images:
            assert re.fullmatch(rf"shapes_{split}_\d{{12}}\.png", image["file_name"])
            assert int(image["file_name"][-16:-4]) == image["id"]
    assert names == expected
    assert [s.name for s in summary.splits] == list(SPLITS)
    for split in summary.splits:
        assert split.images == N_IMAGES and split.captions == 5 * N_IMAGES
        assert split.files == split_files(out, split.name)


def test_same_settings_give_byte_identical_files(world, tmp_path):
    out, _ = world
    again = tmp_path / "again"
    write_shapes_dataset(again, splits=SPLITS, n_images=N_IMAGES, seed=SEED)
    assert all_files(again) == all_files(out)


def test_another_process_with_another_hash_seed_writes_the_same_bytes(world, tmp_path):
    out, _ = world
    other = tmp_path / "other"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    command = [sys.executable, "-m", "vqadesk", "shapes", "--out", str(other)]
    command += ["--images", str(N_IMAGES), "--seed", str(SEED)]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert all_files(other) == all_files(out)


def test_rewriting_a_split_with_fewer_images_removes_the_extra_images(tmp_path):
    write_shapes_dataset(tmp_path, splits=("val",), n_images=6, seed=0)
    unrelated = tmp_path / "val" / "notes.txt"
    unrelated.write_text("mine")
    write_shapes_dataset(tmp_path, splits=("val",), n_images=3, seed=0)
    images = sorted(p.name for p in (tmp_path / "val").glob("*.png"))
    assert images == sorted(i["file_name"] for i in load(tmp_path / "annotations" / "instances_val.json")["images"])
    assert len(images) == 3 and unrelated.read_text() == "mine"
    assert not [p for p in (tmp_path / "val").iterdir() if p.name.endswith(".tmp")]


def test_bad_output_folders_are_reported(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ShapesWriteError, match="not a folder"):
        write_shapes_dataset(a_file, n_images=1)
    with pytest.raises(ShapesWriteError, match="cannot create"):
        write_shapes_dataset(a_file / "below", n_images=1)
    with pytest.raises(ShapesConfigError):
        write_shapes_dataset(tmp_path / "w", splits=(), n_images=1)
    with pytest.raises(ShapesConfigError):
        write_shapes_dataset(tmp_path / "w", splits=("train", "a_b"), n_images=1)
    assert not (tmp_path / "w").exists()  # settings are checked before anything is written


# --- schemas --------------------------------------------------------------------

INFO_FIELDS = {"description": str, "url": str, "version": str, "year": int, "contributor": str, "date_created": str}


def check_fields(obj: dict, fields: dict[str, type], where: str) -> None:
    assert isinstance(obj, dict), where
    for name, kind in fields.items():
        assert name in obj, f"{where}.{name} missing"
        assert isinstance(obj[name], kind) and not isinstance(obj[name], bool), f"{where}.{name}: {obj[name]!r}"


def check_coco_header(data: dict, where: str) -> None:
    check_fields(data, {"info": dict, "licenses": list, "images": list, "annotations": list}, where)
    check_fields(data["info"], INFO_FIELDS, f"{where}.info")
    for k, license_ in enumerate(data["licenses"]):
        check_fields(license_, {"url": str, "id": int, "name": str}, f"{where}.licenses[{k}]")
    license_ids = {license_["id"] for license_ in data["licenses"]}
    for k, image in enumerate(data["images"]):
        check_fields(
            image,
            {"id": int, "width": int, "height": int, "file_name": str, "license": int, "date_captured": str},
            f"{where}.images[{k}]",
        )
        assert image["license"] in license_ids
    assert len({image["id"] for image in data["images"]}) == len(data["images"]) == N_IMAGES


@pytest.mark.parametrize("split", SPLITS)
def test_instances_schema_and_geometry(world, split):
    out, _ = world
    data = load(out / "annotations" / f"instances_{split}.json")
    check_coco_header(data, "instances")
    assert [c["name"] for c in data["categories"]] == list(SHAPES)
    for k, category in enumerate(data["categories"]):
        check_fields(category, {"supercategory": str, "id": int, "name": str}, f"categories[{k}]")
        assert category["supercategory"] == "shape"
    category_ids = {c["id"] for c in data["categories"]}
    images = {image["id"]: image for image in data["images"]}
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])
    per_image = Counter(a["image_id"] for a in data["annotations"])
    assert set(per_image) == set(images) and set(per_image.values()) <= set(range(2, 7))
    for k, ann in enumerate(data["annotations"]):
        check_fields(
            ann,
            {
                "id": int,
                "image_id": int,
                "category_id": int,
                "bbox": list,
                "area": float,
                "iscrowd": int,
                "segmentation": list,
            },
            f"annotations[{k}]",
        )
        assert ann["category_id"] in category_ids and ann["iscrowd"] == 0
        assert ann["attributes"]["color"] in COLORS and ann["attributes"]["size"] in SIZES
        image = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        assert 0 <= x and 0 <= y and w > 0 and h > 0
        assert x + w <= image["width"] and y + h <= image["height"]
        (polygon,) = ann["segmentation"]  # a list of polygons: here exactly one
        assert len(polygon) >= 6 and len(polygon) % 2 == 0
        xs, ys = polygon[0::2], polygon[1::2]
        assert min(xs) == pytest.approx(x, abs=0.011) and max(xs) == pytest.approx(x + w, abs=0.02)
        assert min(ys) == pytest.approx(y, abs=0.011) and max(ys) == pytest.approx(y + h, abs=0.02)
        shoelace = abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))) / 2
        assert ann["area"] == pytest.approx(shoelace, rel=1e-3)


@pytest.mark.parametrize("split", SPLITS)
def test_images_match_their_entries(world, split):
    out, _ = world
    for image in load(out / "annotations" / f"instances_{split}.json")["images"]:
        with Image.open(out / split / image["file_name"]) as png:
            assert png.format == "PNG" and png.mode == "RGB"
            assert png.size == (image["width"], image["height"]) == (128, 128)


@pytest.mark.parametrize("split", SPLITS)
def test_captions_schema(world, split):
    out, _ = world
    data = load(out / "annotations" / f"captions_{split}.json")
    check_coco_header(data, "captions")
    for k, ann in enumerate(data["annotations"]):
        check_fields(ann, {"image_id": int, "id": int, "caption": str}, f"annotations[{k}]")
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])
    per_image = Counter(a["image_id"] for a in data["annotations"])
    assert set(per_image) == {i["id"] for i in data["images"]} and min(per_image.values()) >= 5


@pytest.mark.parametrize("split", SPLITS)
def test_vqa_questions_and_annotations_schema(world, split):
    out, _ = world
    questions = load(out / "vqa" / f"v2_OpenEnded_shapes_{split}_questions.json")
    check_fields(
        questions,
        {"info": dict, "task_type": str, "data_type": str, "data_subtype": str, "license": dict, "questions": list},
        "questions",
    )
    check_fields(questions["info"], INFO_FIELDS, "questions.info")
    check_fields(questions["license"], {"url": str, "name": str}, "questions.license")
    kind = (questions["task_type"], questions["data_type"], questions["data_subtype"])
    assert kind == ("Open-Ended", "shapes", split)
    for k, q in enumerate(questions["questions"]):
        check_fields(q, {"image_id": int, "question": str, "question_id": int}, f"questions[{k}]")
        assert q["question_id"] // 1000 == q["image_id"]

    annotations = load(out / "vqa" / f"v2_shapes_{split}_annotations.json")
    check_fields(
        annotations,
        {"info": dict, "license": dict, "data_type": str, "data_subtype": str, "annotations": list},
        "annotations",
    )
    check_fields(annotations["license"], {"url": str, "name": str}, "annotations.license")
    assert (annotations["data_type"], annotations["data_subtype"]) == ("shapes", split)
    for k, ann in enumerate(annotations["annotations"]):
        where = f"annotations[{k}]"
        check_fields(
            ann,
            {
                "question_id": int,
                "image_id": int,
                "question_type": str,
                "answer_type": str,
                "multiple_choice_answer": str,
                "answers": list,
            },
            where,
        )
        assert ann["answer_type"] in {"yes/no", "number", "other"}
        assert [a["answer_id"] for a in ann["answers"]] == list(range(1, 11))
        for j, answer in enumerate(ann["answers"]):
            check_fields(answer, {"answer": str, "answer_confidence": str, "answer_id": int}, f"{where}.answers[{j}]")
            assert answer == {"answer": ann["multiple_choice_answer"], "answer_confidence": "yes", "answer_id": j + 1}
    image_ids = {i["id"] for i in load(out / "annotations" / f"instances_{split}.json")["images"]}
    asked = [(q["question_id"], q["image_id"]) for q in questions["questions"]]
    answered = [(a["question_id"], a["image_id"]) for a in annotations["annotations"]]
    assert asked == answered and len(set(asked)) == len(asked)
    assert {image_id for _, image_id in asked} == image_ids


def test_project_readers_open_every_file(world):
    out, _ = world
    for path in sorted(out.rglob("*.json")):
        assert read_json(path) == load(path)


def test_image_ids_do_not_collide_between_splits(world):
    out, _ = world
    ids = [i["id"] for s in SPLITS for i in load(out / "annotations" / f"instances_{s}.json")["images"]]
    assert len(ids) == len(set(ids))


# --- answers agree with the objects in the instances file ------------------------


class Obj(NamedTuple):
    shape: str
    color: str
    size: str
    cx: float
    cy: float


def objects_from_instances(data: dict) -> dict[int, list[Obj]]:
    names = {c["id"]: c["name"] for c in data["categories"]}
    objects = defaultdict(list)
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        attributes = ann["attributes"]
        shape = names[ann["category_id"]]
        objects[ann["image_id"]].append(Obj(shape, attributes["color"], attributes["size"], x + w / 2, y + h / 2))
    return objects


def select(objects: list[Obj], phrase: str) -> list[Obj]:
    """The objects a phrase such as 'large red circle' or 'red objects' fits."""
    *modifiers, noun = phrase.split()
    noun = noun[:-1] if noun.endswith("s") else noun
    wanted = {"color" if w in COLORS else "size": w for w in modifiers}
    assert all(w in COLORS or w in SIZES for w in modifiers), phrase
    if noun != "object":
        assert noun in SHAPES, phrase
        wanted["shape"] = noun
    return [o for o in objects if all(getattr(o, k) == v for k, v in wanted.items())]


def the(objects: list[Obj], phrase: str) -> Obj:
    found = select(objects, phrase)
    assert len(found) == 1, f"'the {phrase}' is ambiguous or empty"
    return found[0]


def yes_no(truth: bool) -> str:
    return "yes" if truth else "no"


def recompute_answer(question: str, objects: list[Obj]) -> str:
    if m := re.fullmatch(r"What (color|shape|size) is the (.+)\?", question):
        return getattr(the(objects, m.group(2)), m.group(1))
    if m := re.fullmatch(r"How many (.+) are there\?", question):
        return str(len(select(objects, m.group(1))))
    if m := re.fullmatch(r"Is there an? (.+)\?", question):
        return yes_no(bool(select(objects, m.group(1))))
    if m := re.fullmatch(r"Is the (.+?) (to the left of|to the right of|above|below) the (.+)\?", question):
        a, b = the(objects, m.group(1)), the(objects, m.group(3))
        truths = {
            "to the left of": a.cx < b.cx,
            "to the right of": a.cx > b.cx,
            "above": a.cy < b.cy,
            "below": a.cy > b.cy,
        }
        return yes_no(truths[m.group(2)])
    if m := re.fullmatch(r"Are there (more|fewer) (.+) than (.+)\?", question):
        first, second = len(select(objects, m.group(2))), len(select(objects, m.group(3)))
        return yes_no(first > second if m.group(1) == "more" else first < second)
    if m := re.fullmatch(r"Are there as many (.+) as (.+)\?", question):
        return yes_no(len(select(objects, m.group(1))) == len(select(objects, m.group(2))))
    raise AssertionError(f"unexpected question {question!r}")


@pytest.mark.parametrize("split", SPLITS)
def test_answers_follow_from_the_instances(world, split):
    out, _ = world
    objects = objects_from_instances(load(out / "annotations" / f"instances_{split}.json"))
    questions = load(out / "vqa" / f"v2_OpenEnded_shapes_{split}_questions.json")["questions"]
    answers = {a["question_id"]: a for a in load(out / "vqa" / f"v2_shapes_{split}_annotations.json")["annotations"]}
    types = Counter()
    for q in questions:
        ann = answers[q["question_id"]]
        assert recompute_answer(q["question"], objects[q["image_id"]]) == ann["multiple_choice_answer"], q
        types[ann["question_type"]] += 1
    every_family = {"what color is the", "what shape is the", "what size is the", "how many", "is there a", "is the"}
    assert every_family <= set(types)
    assert {"are there more", "are there fewer", "are there as many"} & set(types)


def test_progress_is_reported_per_image_and_split(tmp_path):
    calls = []
    write_shapes_dataset(tmp_path, splits=("a", "b"), n_images=3, progress=lambda *call: calls.append(call))
    assert calls == [("a", 1, 3), ("a", 2, 3), ("a", 3, 3), ("b", 1, 3), ("b", 2, 3), ("b", 3, 3)]

"""The index cache of COCO splits (``split_cache``) and lazily opened splits (``dataset.LazySplits``).

Small generated COCO roots in the official layout (no image files: the index
needs none); ``CACHE_MIN_BYTES`` is lowered so that they are cached at all.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from vqadesk.data import split_cache
from vqadesk.data.dataset import LazySplits, coco_split_files, open_coco_files, open_dataset, preferred_split
from vqadesk.errors import DataFormatError


def write_root(root: Path, split: str, n_images: int = 6) -> None:
    """captions/instances/VQA v2 files for ``split``, with the optional fields the formats allow."""
    ids = [100 + 7 * k for k in range(n_images)]
    images = [{"id": i, "file_name": f"COCO_{split}_{i:012d}.jpg", "width": 640, "height": 480, "license": 3,
               "coco_url": f"http://images/{i}.jpg", "date_captured": "2013-11-14 11:18:45"} for i in ids]
    images[1] = {"id": ids[1], "file_name": "no_size.jpg"}  # every optional field absent
    captions = [{"id": 1000 + k, "image_id": ids[k % n_images], "caption": f"A café with {k} chairs — ünïcode."}
                for k in range(3 * n_images - 1)]
    categories = [{"id": 1, "name": "person", "supercategory": "person"}, {"id": 18, "name": "dog"},
                  {"id": 62, "name": "chair"}]
    objects = [{"id": 5000 + k, "image_id": ids[k % (n_images - 1)], "category_id": (1, 18, 62)[k % 3],
                "bbox": [k, 2.5, 10, 20.25], "area": 120.5 + k, "iscrowd": 0,
                "segmentation": [[k, 2.5, k + 10, 2.5, k + 10, 22.75]]} for k in range(2 * n_images)]
    objects[0] = {"id": 4999, "image_id": ids[0], "category_id": 18, "bbox": [1, 2, 3, 4], "iscrowd": 1,
                  "segmentation": {"counts": [1, 2, 3], "size": [480, 640]}}  # no area, crowd RLE
    annotations = root / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    info = {"description": "test COCO"}
    (annotations / f"captions_{split}.json").write_text(
        json.dumps({"info": info, "images": images, "annotations": captions}), encoding="utf-8")
    (annotations / f"instances_{split}.json").write_text(
        json.dumps({"info": info, "images": images, "annotations": objects, "categories": categories}))
    questions = [{"question_id": i * 10 + q, "image_id": i, "question": f"What is in image {i}, question {q}?"}
                 for i in reversed(ids) for q in range(2)]
    answered = questions[:-1]  # the last question has no annotation: browsed without answers
    vqa_annotations = [
        {"question_id": q["question_id"], "image_id": q["image_id"], "question_type": "what is",
         "answer_type": "other" if k % 2 else "yes/no", "multiple_choice_answer": ("yes", "dog")[k % 2],
         "answers": [{"answer": ("yes", "dog", "a dog")[(k + j) % 3], "answer_confidence": ("yes", "maybe")[j % 2],
                      "answer_id": j + 1} for j in range(10 if k else 3)]}
        for k, q in enumerate(answered)
    ]
    vqa = root / "vqa"
    vqa.mkdir(exist_ok=True)
    (vqa / f"v2_OpenEnded_mscoco_{split}_questions.json").write_text(json.dumps({"questions": questions}))
    (vqa / f"v2_mscoco_{split}_annotations.json").write_text(json.dumps({"annotations": vqa_annotations}))


@pytest.fixture
def cached(monkeypatch):
    """Cache every split, however small."""
    monkeypatch.setattr(split_cache, "CACHE_MIN_BYTES", 0)


def no_parsing(monkeypatch) -> None:
    """From here on, a split must come from the cache: parsing its JSON fails the test."""

    def fail(files):
        raise AssertionError(f"parsed {files.coco_files} instead of reading the cache")

    monkeypatch.setattr(split_cache, "_parse", fail)


def entries(root: Path) -> list[Path]:
    return sorted((root / "annotations" / ".vqadesk-cache").glob("coco-split-*"))


def assert_same_split(got, want) -> None:
    a, b = got.coco, want.coco
    assert a.images == b.images and a.image_ids == b.image_ids
    assert dict(a.categories) == dict(b.categories) and a.category_names() == b.category_names()
    assert (a.caption_count, a.object_count) == (b.caption_count, b.object_count)
    for image_id in b.image_ids:
        assert a.captions(image_id) == b.captions(image_id)
        assert a.objects(image_id) == b.objects(image_id)  # all but segmentation/keypoints
        assert got.questions(image_id) == want.questions(image_id)
    for query in ("café", "dog", "4 chairs", "no_size", "chair person", "nothing"):
        assert got.filter_image_ids(query) == want.filter_image_ids(query)
    for category in ("dog", "CHAIR", 1, "cat"):
        assert a.image_ids_with_category(category) == b.image_ids_with_category(category)
    assert a.search("a", category="dog", image_id=107) == b.search("a", category="dog", image_id=107)
    assert got.question_count == want.question_count
    assert got.question_texts() == want.question_texts()
    assert list(got.questions_by_image) == list(want.questions_by_image)
    assert a.image_dir == b.image_dir and a.annotation_files == b.annotation_files


def test_a_cached_split_is_the_parsed_split(tmp_path, monkeypatch, cached):
    write_root(tmp_path, "val2014")
    first = open_dataset(tmp_path).split("val2014")
    assert len(entries(tmp_path)) == 1
    no_parsing(monkeypatch)
    second = open_dataset(tmp_path).split("val2014")
    monkeypatch.undo()
    monkeypatch.setattr(split_cache, "CACHE_MIN_BYTES", 1 << 60)
    parsed = open_dataset(tmp_path).split("val2014")
    assert isinstance(parsed.questions_by_image, dict)  # really the uncached reader
    for split in (first, second):
        assert_same_split(split, parsed)
    annotation = second.questions(135)[0].annotation
    assert annotation.answers == ("yes", "dog", "a dog") and annotation.answer_confidences == ("yes", "maybe", "yes")
    assert second.questions(100)[-1].annotation is None and second.questions(100)[-1].text.endswith("question 1?")
    crowd = second.coco.objects(100)[0]
    assert crowd.iscrowd and crowd.area is None and crowd.segmentation is None  # polygons are not cached


def test_open_coco_files_uses_the_cache_too(tmp_path, monkeypatch, cached):
    write_root(tmp_path, "val2014")
    captions = tmp_path / "annotations" / "captions_val2014.json"
    first = open_coco_files(captions, tmp_path)
    no_parsing(monkeypatch)
    second = open_coco_files(captions, tmp_path)
    assert_same_split(second.split("val2014"), first.split("val2014"))


def test_a_changed_input_is_read_again_and_a_touched_one_is_not(tmp_path, monkeypatch, cached):
    write_root(tmp_path, "val")
    captions = tmp_path / "annotations" / "captions_val.json"
    open_dataset(tmp_path)
    size = captions.stat().st_size
    captions.write_text(captions.read_text(encoding="utf-8").replace("with 0 chairs", "with 9 chairs", 1))
    stat = captions.stat()
    assert stat.st_size == size  # same size: only the time and the SHA-256 tell
    os.utime(captions, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # file systems with coarse clocks
    changed = "A café with 9 chairs — ünïcode."
    assert open_dataset(tmp_path).split("val").coco.captions(100)[0].caption == changed

    # Same bytes with a new time (a copy, a touch): the entry's SHA-256 still matches.
    os.utime(captions, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))
    no_parsing(monkeypatch)
    assert open_dataset(tmp_path).split("val").coco.captions(100)[0].caption == changed


def test_a_new_questions_file_is_a_new_entry(tmp_path, monkeypatch, cached):
    write_root(tmp_path, "val")
    questions = tmp_path / "vqa" / "v2_OpenEnded_mscoco_val_questions.json"
    open_dataset(tmp_path)
    data = json.loads(questions.read_text())
    data["questions"] = data["questions"][:3]
    questions.write_text(json.dumps(data))
    assert open_dataset(tmp_path).split("val").question_count == 3


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite_arrays(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _bad_offsets(arrays):
    arrays["caption_offsets"] = arrays["caption_offsets"][::-1].copy()


def _pickled(arrays):
    arrays["caption_id"] = np.array([{"evil": 1}] * len(arrays["caption_id"]), dtype=object)


def _answer_id_out_of_range(arrays):
    arrays["answer_ids"] = arrays["answer_ids"] + 1000


DAMAGE = {
    "truncated archive": lambda entry: _truncate(entry / "arrays.npz"),
    "flipped byte": lambda entry: _flip_a_byte(entry / "arrays.npz"),
    "not a zip": lambda entry: (entry / "arrays.npz").write_bytes(b"\x80\x04 pickle? no thanks"),
    "missing archive": lambda entry: (entry / "arrays.npz").unlink(),
    "missing array": lambda entry: _rewrite_arrays(entry / "arrays.npz", lambda a: a.pop("object_bbox")),
    "bad offsets": lambda entry: _rewrite_arrays(entry / "arrays.npz", _bad_offsets),
    "object array": lambda entry: _rewrite_arrays(entry / "arrays.npz", _pickled),
    "ids out of range": lambda entry: _rewrite_arrays(entry / "arrays.npz", _answer_id_out_of_range),
    "entry not JSON": lambda entry: (entry / "entry.json").write_text("{not json"),
    "foreign entry": lambda entry: (entry / "entry.json").write_text(json.dumps({"format": "something else"})),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, monkeypatch, cached, damage):
    write_root(tmp_path, "val")
    want = open_dataset(tmp_path).split("val")
    [entry] = entries(tmp_path)
    DAMAGE[damage](entry)
    assert_same_split(open_dataset(tmp_path).split("val"), want)
    no_parsing(monkeypatch)  # ... and written again: the next open reads it
    assert_same_split(open_dataset(tmp_path).split("val"), want)


def test_a_bad_file_is_named_by_its_reader_with_the_cache_on(tmp_path, cached):
    write_root(tmp_path, "val")
    (tmp_path / "vqa" / "v2_mscoco_val_annotations.json").write_text('{"annotations": [')
    with pytest.raises(DataFormatError, match=r"v2_mscoco_val_annotations\.json.*malformed JSON"):
        open_dataset(tmp_path)
    assert entries(tmp_path) == []


def test_small_splits_are_not_cached(tmp_path):
    write_root(tmp_path, "val")
    assert open_dataset(tmp_path).split("val").coco.caption_count == 17
    assert not (tmp_path / "annotations" / ".vqadesk-cache").exists()


def test_images_listed_by_the_folder_are_never_cached(tmp_path, cached):
    """A bare list of objects has no 'images': the folder's photos are the images, so the index
    depends on the folder too and is parsed every time."""
    from PIL import Image

    (tmp_path / "annotations").mkdir()
    (tmp_path / "val").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "val" / "000000000007.png")
    objects = [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [0, 0, 4, 4]}]
    (tmp_path / "annotations" / "instances_val.json").write_text(json.dumps(objects))
    split = open_dataset(tmp_path).split("val")
    assert [o.category_name for o in split.coco.objects(7)] == ["dog"]
    assert entries(tmp_path) == []


# -- lazy splits ------------------------------------------------------------------------------------


def test_only_the_shown_split_is_read_when_a_root_opens(tmp_path, cached):
    write_root(tmp_path, "train2014")
    write_root(tmp_path, "val2014")
    (tmp_path / "annotations" / "instances_train2014.json").write_text('{"images": [')  # malformed
    dataset = open_dataset(tmp_path)  # would raise if train2014 were read
    assert dataset.split_names == ["train2014", "val2014"]
    assert dataset.first_split == "val2014"  # a validation split is shown first
    assert dataset.is_open("val2014") and not dataset.is_open("train2014")
    assert list(dataset.open_splits) == ["val2014"]
    assert "train2014" in dataset.splits and len(dataset.splits) == 2 and not dataset.is_open("train2014")
    with pytest.raises(DataFormatError, match=r"instances_train2014\.json.*malformed JSON"):
        dataset.split("train2014")
    with pytest.raises(DataFormatError, match=r"instances_train2014\.json"):
        dataset.splits.get("train2014")  # tried again, the same one message
    assert not dataset.is_open("train2014")
    with pytest.raises(DataFormatError, match=r"instances_train2014\.json"):
        open_dataset(tmp_path, "train2014")  # asked to show it first: its problem is the open's
    write_root(tmp_path, "train2014")  # repaired: opens now
    assert dataset.split("train2014").coco.caption_count == 17 and dataset.is_open("train2014")
    shown = open_dataset(tmp_path, "train2014")
    assert shown.first_split == "train2014" and not shown.is_open("val2014")
    assert open_dataset(tmp_path, "test2015").first_split == "val2014"  # no such split: the default
    (tmp_path / "train2014").mkdir(exist_ok=True)
    from_folder = open_dataset(tmp_path / "train2014")  # a split folder opens its root, on itself
    assert from_folder.root == tmp_path and from_folder.first_split == "train2014"


def test_the_split_shown_first_is_the_asked_one_else_validation_else_the_first():
    assert preferred_split(["train2014", "val2014"]) == "val2014"
    assert preferred_split(["train2014", "val2014"], "train2014") == "train2014"
    assert preferred_split(["train2014", "val2014"], "gone") == "val2014"
    assert preferred_split(["train", "test"]) == "train"
    assert preferred_split(["train2017", "val2017", "valminusminival2014"]) == "val2017"


def test_a_split_asked_for_by_two_threads_is_opened_once():
    started, release, calls = threading.Event(), threading.Event(), []

    def open_split(name):
        calls.append(name)
        started.set()
        assert release.wait(60)  # a bound on a hang
        return f"split {name}"

    splits = LazySplits(["train", "val"], open_split)
    results = []
    threads = [threading.Thread(target=lambda: results.append(splits["val"])) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert started.wait(60)  # one thread is inside open_split
    release.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert calls == ["val"] and results == ["split val", "split val"]
    assert splits.opened() == {"val": "split val"}
    with pytest.raises(KeyError):
        splits["test"]


def test_a_captions_only_split_round_trips(tmp_path, monkeypatch, cached):
    write_root(tmp_path, "val")
    (tmp_path / "annotations" / "instances_val.json").unlink()
    for path in (tmp_path / "vqa").iterdir():
        path.unlink()
    first = open_dataset(tmp_path).split("val")
    no_parsing(monkeypatch)
    second = open_dataset(tmp_path).split("val")
    assert_same_split(second, first)
    assert second.coco.object_count == 0 and second.question_count == 0 and second.question_texts() == []


def test_the_quick_look_at_an_entry_agrees_with_load_split(tmp_path, cached):
    write_root(tmp_path, "val")
    captions = tmp_path / "annotations" / "captions_val.json"
    _root, _split, files = coco_split_files(captions, tmp_path)
    assert not split_cache.split_cache_looks_current(files)  # nothing cached yet
    split_cache.load_split(files)
    assert split_cache.split_cache_looks_current(files)

    stat = captions.stat()
    os.utime(captions, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not split_cache.split_cache_looks_current(files)  # a new time: only load_split's hash can tell
    split_cache.load_split(files)  # same bytes: the entry is kept, with the new time
    assert split_cache.split_cache_looks_current(files)

    entry = entries(tmp_path)[0]
    (entry / "arrays.npz").unlink()
    assert not split_cache.split_cache_looks_current(files)
    split_cache.load_split(files)
    (entry / "entry.json").write_text("{not json", encoding="utf-8")
    assert not split_cache.split_cache_looks_current(files)
    (entry / "entry.json").write_text(json.dumps({"format": "vqadesk.array_cache", "inputs": 3}), encoding="utf-8")
    assert not split_cache.split_cache_looks_current(files)

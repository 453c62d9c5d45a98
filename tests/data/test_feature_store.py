"""The feature store on disk (``vqadesk.data.feature_store``) and the compact-array cache
(``vqadesk.data.array_cache``, ``vqa_arrays``): written, committed, resumed, read, refused.

No network runs here: stores are written directly with ``FeatureStoreWriter``
(``test_extract_features.py`` runs the real extraction).
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from vqadesk.data.feature_store import (
    FEATURES,
    MANIFEST,
    PROGRESS,
    FeatureStore,
    FeatureStoreError,
    FeatureStoreWriter,
    SkippedImage,
    StoreManifest,
)
from vqadesk.data.vqa_arrays import load_vqa_arrays
from vqadesk.engine.features.store_features import StoreImages
from vqadesk.engine.image_tensors import gather_images
from vqadesk.errors import DataFormatError

IDS = (785, 14439, 39769, 40083, 87038)


def manifest(**changes) -> StoreManifest:
    fields = dict(backbone="resnet50", layer="grid", image_size=64,
                  weights={"kind": "none", "file": None, "seed": 0, "sha256": "ab" * 32},
                  preprocessing={"resize": "fit_square"}, dtype="float16", feature_shape=(3, 2, 2),
                  image_ids=IDS, source={"images": "/photos"})
    return StoreManifest(**{**fields, **changes})


def rows(first: int, count: int) -> np.ndarray:
    """Rows whose every value names the row: easy to check after a round trip."""
    return np.stack([np.full((3, 2, 2), first + i + 0.5, dtype=np.float32) for i in range(count)])


def write_store(path, *, commit_to: int = len(IDS), skipped: tuple[int, ...] = ()) -> FeatureStore:
    writer = FeatureStoreWriter.open(path, manifest())
    block = rows(0, commit_to)
    for row in skipped:
        block[row] = 0
    writer.write(0, block)
    writer.commit(commit_to, [SkippedImage(row, IDS[row], f"{IDS[row]}.jpg", "truncated JPEG") for row in skipped])
    writer.close()
    return FeatureStore(path)


def test_rows_are_read_by_image_id_in_the_order_asked(tmp_path):
    store = write_store(tmp_path / "store")
    assert store.complete and len(store) == 5 and store.dtype == np.float16
    features = store.features([87038, 785, 39769])
    assert features.shape == (3, 3, 2, 2) and features.dtype == np.float16
    assert features[:, 0, 0, 0].tolist() == [4.5, 0.5, 2.5]
    assert all(i in store for i in IDS) and 1 not in store
    # The files: a plain .npy (no pickle) and two JSON documents.
    assert np.load(tmp_path / "store" / FEATURES, allow_pickle=False).shape == (5, 3, 2, 2)
    on_disk = json.loads((tmp_path / "store" / MANIFEST).read_text())
    assert on_disk["image_ids"] == list(IDS) and on_disk["feature_shape"] == [3, 2, 2]
    assert json.loads((tmp_path / "store" / PROGRESS).read_text())["complete"] is True


def test_missing_skipped_and_unextracted_images_are_named_with_the_reason(tmp_path):
    store = write_store(tmp_path / "store", commit_to=4, skipped=(1,))
    assert not store.complete and store.available_count == 3
    assert store.available_image_ids() == [785, 39769, 40083]
    assert store.why_missing(14439) == "skipped (truncated JPEG)"
    assert store.why_missing(87038) == "not extracted yet" and store.why_missing(5) == "not in the store"
    with pytest.raises(FeatureStoreError) as caught:
        store.features([785, 14439, 87038, 5])
    message = str(caught.value)
    assert str(tmp_path / "store") in message and "no features for 3 of" in message
    assert "image_id 14439" in message and "image_id 87038" in message and "image_id 5" in message
    assert "run the same extract_features command again" in message


def test_resuming_keeps_committed_rows_and_rewrites_the_rest(tmp_path):
    path = tmp_path / "store"
    writer = FeatureStoreWriter.open(path, manifest())
    writer.write(0, rows(0, 2))
    writer.commit(2, [])
    writer.write(2, np.full((2, 3, 2, 2), 99.0))  # written, never committed: a kill came here
    writer.close()

    resumed = FeatureStoreWriter.open(path, manifest())
    assert resumed.progress.committed == 2
    with pytest.raises(ValueError, match="already committed"):
        resumed.write(1, rows(1, 1))
    resumed.write(2, rows(2, 3))
    resumed.commit(5, [])
    resumed.close()
    store = FeatureStore(path)
    assert store.complete and store.features(IDS)[:, 0, 0, 0].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]


def test_a_store_made_differently_or_for_other_images_is_never_overwritten(tmp_path):
    path = tmp_path / "store"
    write_store(path, commit_to=2)
    with pytest.raises(FeatureStoreError, match="made with image_size 64, not 128"):
        FeatureStoreWriter.open(path, manifest(image_size=128))
    with pytest.raises(FeatureStoreError, match="weights"):
        FeatureStoreWriter.open(path, manifest(weights={"kind": "none", "file": None, "seed": 1, "sha256": "cd"}))
    with pytest.raises(FeatureStoreError, match="started for other images"):
        FeatureStoreWriter.open(path, manifest(image_ids=IDS[:4]))
    assert FeatureStore(path).progress.committed == 2  # untouched

    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(FeatureStoreError, match="not empty and not a feature store"):
        FeatureStoreWriter.open(other, manifest())


def test_damaged_files_are_named_field_by_field(tmp_path):
    path = tmp_path / "store"
    write_store(path)
    with pytest.raises(FeatureStoreError, match="not a feature store"):
        FeatureStore(tmp_path)
    document = json.loads((path / MANIFEST).read_text())
    document["image_ids"][2] = "39769"
    (path / MANIFEST).write_text(json.dumps(document))
    with pytest.raises(DataFormatError, match=r"field 'image_ids\[2\]': expected an integer"):
        FeatureStore(path)
    write_store(tmp_path / "again")
    (tmp_path / "again" / FEATURES).write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(FeatureStoreError, match="features.npy: not a readable .npy"):
        FeatureStore(tmp_path / "again")


def test_free_space_is_checked_before_extracting(tmp_path, monkeypatch):
    writer = FeatureStoreWriter.open(tmp_path / "store", manifest())
    from vqadesk.data import feature_store

    monkeypatch.setattr(feature_store.shutil, "disk_usage", lambda _: _Usage(free=10))
    with pytest.raises(FeatureStoreError, match="need .* GB and the disk has"):
        writer.check_free_space()
    writer.close()


class _Usage:
    def __init__(self, free: int):
        self.free = free


def test_store_images_stand_in_for_an_image_tensor(tmp_path):
    store = write_store(tmp_path / "store")
    images = StoreImages(store, [40083, 785])
    assert images.shape == (2, 3, 2, 2) and len(images) == 2
    assert images[1][0, 0, 0].item() == 0.5
    batch = gather_images(images, torch.tensor([1, 0, 1]))
    assert batch.dtype == torch.float16 and batch[:, 0, 0, 0].tolist() == [0.5, 3.5, 0.5]
    copy = pickle.loads(pickle.dumps(images))  # spawned DataLoader workers reopen the files
    assert torch.equal(gather_images(copy, torch.tensor([0])), gather_images(images, torch.tensor([0])))
    with pytest.raises(FeatureStoreError, match="no features for 1 of the images asked about"):
        StoreImages(store, [785, 12])


# -- the compact-array cache ----------------------------------------------------------------------


def _vqa_files(folder, answer="net"):
    folder.mkdir(exist_ok=True)
    questions = {"questions": [{"question_id": 1, "image_id": 9, "question": "What is it?"},
                               {"question_id": 2, "image_id": 9, "question": "Is it red?"}]}
    humans = [{"answer": answer, "answer_confidence": "yes", "answer_id": i + 1} for i in range(10)]
    annotations = {"annotations": [
        {"question_id": q, "image_id": 9, "question_type": "what", "answer_type": "other",
         "multiple_choice_answer": answer, "answers": humans} for q in (1, 2)]}
    (folder / "q.json").write_text(json.dumps(questions))
    (folder / "a.json").write_text(json.dumps(annotations))
    return folder / "q.json", folder / "a.json"


def test_vqa_json_is_read_once_then_from_the_cache_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    questions, annotations = _vqa_files(tmp_path / "vqa")
    first = load_vqa_arrays(questions, annotations)
    assert first.cache.built and first.cache.path.parent == tmp_path / "vqa" / ".vqadesk-cache"
    again = load_vqa_arrays(questions, annotations)
    assert not again.cache.built and again.annotation(1) == first.annotation(1)
    assert again.question_texts == ("What is it?", "Is it red?")
    assert [again.tokens[i] for i in again.token_ids[again.token_offsets[1]:]] == ["is", "it", "red"]

    os.utime(annotations, ns=(1, 1))  # touched, same bytes: still current (checked by SHA-256)
    assert not load_vqa_arrays(questions, annotations).cache.built
    _vqa_files(tmp_path / "vqa", answer="mesh")  # changed: rebuilt
    changed = load_vqa_arrays(questions, annotations)
    assert changed.cache.built and changed.annotation(0).multiple_choice_answer == "mesh"

    (changed.cache.path / "arrays.npz").write_bytes(b"damaged")  # a damaged entry is rebuilt, not an error
    assert load_vqa_arrays(questions, annotations).cache.built


def test_the_cache_goes_to_the_user_folder_when_the_dataset_folder_is_not_writable(tmp_path, monkeypatch):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    questions, annotations = _vqa_files(tmp_path / "vqa")
    (tmp_path / "vqa" / ".vqadesk-cache").write_text("a file where the cache folder would go")
    arrays = load_vqa_arrays(questions, annotations)
    assert arrays.cache.built and arrays.cache.path.parent == tmp_path / "user" / "cache"
    assert not load_vqa_arrays(questions, annotations).cache.built


def test_bad_json_is_named_as_the_readers_name_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    questions, annotations = _vqa_files(tmp_path / "vqa")
    document = json.loads(annotations.read_text())
    del document["annotations"][1]["answer_type"]
    annotations.write_text(json.dumps(document))
    with pytest.raises(DataFormatError, match=r"a.json: field 'annotations\[1\].answer_type': missing"):
        load_vqa_arrays(questions, annotations)

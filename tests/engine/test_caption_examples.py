"""Captioning training data (``vqadesk.engine.training.caption_examples``) over a tiny Shapes world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vqadesk.data.dataset import DatasetError
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.training.caption_examples import CaptionExamples
from vqadesk.errors import DataFormatError, ImageLoadError
from vqadesk.text.tokenizer import tokenize_caption
from vqadesk.text.vocabulary import END_ID, PAD_ID, START_ID, UNK_ID, Vocabulary

SHAPES_IMAGES = 6
CAPTIONS_PER_IMAGE = 5  # one per Shapes caption style
LONG_ENOUGH = 40  # Shapes captions have at most 34 words


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, ("train", "val"), SHAPES_IMAGES, seed=5)
    return root


@pytest.fixture(scope="module")
def train(shapes_root) -> CaptionExamples:
    return CaptionExamples.from_dataset(shapes_root, "train", max_len=LONG_ENOUGH)


def raw_captions(root: Path, split: str) -> dict[int, list[str]]:
    data = json.loads((root / "annotations" / f"captions_{split}.json").read_text())
    by_image: dict[int, list[str]] = {}
    for annotation in data["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation["caption"])
    return by_image


def test_every_image_caption_pair_is_one_example(train):
    count = SHAPES_IMAGES * CAPTIONS_PER_IMAGE
    assert len(train) == count
    assert train.images.shape == (SHAPES_IMAGES, 3, 128, 128) and train.images.dtype == torch.uint8
    assert train.captions.shape == (count, LONG_ENOUGH) and train.captions.dtype == torch.long
    assert train.lengths.shape == (count,) and train.lengths.dtype == torch.long
    assert sorted(train.image_rows.bincount().tolist()) == [CAPTIONS_PER_IMAGE] * SHAPES_IMAGES

    item = train[7]
    assert set(item) == {"image", "caption", "length", "index"}
    assert item["image"].shape == (3, 128, 128) and item["image"].dtype == torch.uint8
    assert item["caption"].shape == (LONG_ENOUGH,)
    assert int(item["index"]) == 7
    assert torch.equal(item["image"], train.images[int(train.image_rows[7])])


def test_captions_are_start_words_end_then_padding(train):
    for index in range(len(train)):
        ids = train.captions[index].tolist()
        length = int(train.lengths[index])
        assert ids[0] == START_ID and ids[length - 1] == END_ID
        assert ids[length:] == [PAD_ID] * (LONG_ENOUGH - length)
        words = train.vocab.decode(ids)
        assert words == tokenize_caption(train.caption_texts[index])
        assert length == len(words) + 2
    assert train.summary()["truncated_captions"] == 0


def test_long_captions_are_cut_but_keep_their_end(shapes_root):
    short = CaptionExamples.from_dataset(shapes_root, "train", max_len=6)
    assert short.captions.shape[1] == 6
    assert torch.all(short.lengths == 6)  # every Shapes caption has 4 or more words
    assert torch.all(short.captions[:, 0] == START_ID) and torch.all(short.captions[:, 5] == END_ID)
    words = short.vocab.decode(short.captions[0])
    assert words == tokenize_caption(short.caption_texts[0])[:4]
    assert short.summary()["truncated_captions"] == len(short)
    with pytest.raises(ValueError, match="max_len"):
        CaptionExamples.from_dataset(shapes_root, "train", max_len=1)


def test_references_are_the_raw_captions_of_the_split(shapes_root, train):
    expected = raw_captions(shapes_root, "train")
    assert set(train.image_ids) == set(expected)
    for image_id, captions in expected.items():
        assert train.references(image_id) == captions
    assert train.references_by_image() == expected
    one = train.first(1)
    # A subset still scores its image against every reference.
    assert one.references(one.image_id_of(0)) == expected[one.image_id_of(0)]
    assert one.references_by_image() == {one.image_id_of(0): expected[one.image_id_of(0)]}
    with pytest.raises(KeyError, match="no captions"):
        train.references(-5)


def test_unique_images_gives_each_image_once(train):
    images = train.unique_images()
    assert len(images) == SHAPES_IMAGES
    assert list(images.image_ids) == list(train.image_ids)
    item = images[2]
    assert set(item) == {"image", "image_id", "index"}
    assert int(item["image_id"]) == train.image_ids[2]
    assert torch.equal(item["image"], train.images[2])
    batch = next(iter(DataLoader(images, batch_size=4)))
    assert batch["image"].shape == (4, 3, 128, 128) and batch["image_id"].shape == (4,)
    assert len(train.first(CAPTIONS_PER_IMAGE + 1).unique_images()) == 2


def test_validation_reuses_the_vocabulary_and_unknown_words_become_unk(shapes_root, train):
    val = CaptionExamples.from_dataset(shapes_root, "val", vocab=train.vocab, max_len=LONG_ENOUGH)
    assert val.vocab is train.vocab
    assert int(val.captions.max()) < len(train.vocab)
    assert set(val.image_ids).isdisjoint(train.image_ids)

    tiny = Vocabulary(["a", "and"])
    restricted = CaptionExamples.from_dataset(shapes_root, "val", vocab=tiny, max_len=LONG_ENOUGH)
    tokens = tokenize_caption(restricted.caption_texts[0])
    expected = [t if t in ("a", "and") else "<unk>" for t in tokens]
    assert restricted.vocab.decode(restricted.captions[0]) == expected
    assert UNK_ID in restricted.captions[0].tolist()
    assert restricted.summary()["unknown_word_rate"] > 0.5


def test_overfit_subset_and_default_collate(train):
    small = train.first(4)
    assert len(small) == 4 and small.images.data_ptr() == train.images.data_ptr()
    batch = next(iter(DataLoader(small, batch_size=4)))
    assert batch["caption"].shape == (4, LONG_ENOUGH) and batch["image"].shape == (4, 3, 128, 128)
    fast = train.batch([0, 1, 2, 3])
    for key in batch:
        assert torch.equal(batch[key], fast[key]), key
    picked = train.subset([9, 0])
    assert picked.caption_texts == (train.caption_texts[9], train.caption_texts[0])
    with pytest.raises(IndexError):
        train.subset([len(train)])


def test_examples_survive_pickling_for_spawned_loader_workers(train):
    import pickle

    copy = pickle.loads(pickle.dumps(train.subset([3, 4])))
    assert copy.vocab == train.vocab
    assert torch.equal(copy[1]["caption"], train[4]["caption"])
    assert copy.references(copy.image_id_of(0)) == train.references(train.image_id_of(3))


def test_summary_is_json_ready(train):
    summary = train.summary()
    assert summary["captions"] == len(train) and summary["images"] == SHAPES_IMAGES
    assert summary["vocab_size"] == len(train.vocab) and summary["max_len"] == LONG_ENOUGH
    json.dumps(summary)


# -- errors --------------------------------------------------------------------------------------


def _copy_root(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_a_root_without_captions_is_refused(shapes_root, tmp_path):
    root = _copy_root(shapes_root, tmp_path / "no-captions")
    (root / "annotations" / "captions_train.json").unlink()  # instances remain: no captions at all
    with pytest.raises(DatasetError, match=r"captions_train\.json.*no captions for split 'train'"):
        CaptionExamples.from_dataset(root, "train")
    with pytest.raises(DataFormatError, match="captions_test.json"):
        CaptionExamples.from_dataset(root, "test")


def test_an_unreadable_image_is_named(shapes_root, tmp_path):
    root = _copy_root(shapes_root, tmp_path / "bad-image")
    bad = sorted((root / "val").glob("*.png"))[3]
    bad.write_bytes(bad.read_bytes()[:60])  # truncated PNG
    with pytest.raises(ImageLoadError) as caught:
        CaptionExamples.from_dataset(root, "val")
    assert caught.value.path == str(bad)


def test_photos_of_any_size_become_squares(tmp_path):
    root = tmp_path / "photos"
    (root / "train").mkdir(parents=True)
    (root / "annotations").mkdir()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(root / "train" / "000000000007.jpg")
    document = {
        "images": [{"id": 7, "file_name": "000000000007.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 7, "caption": "A green field."}],
    }
    (root / "annotations" / "captions_train.json").write_text(json.dumps(document))
    examples = CaptionExamples.from_dataset(root, "train", image_size=32)
    assert examples.images.shape == (1, 3, 32, 32)
    assert examples.vocab.decode(examples[0]["caption"]) == ["a", "green", "field"]

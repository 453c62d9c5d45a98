"""VQA training data (``vqadesk.engine.training.vqa_examples``) and image tensors (``image_tensors``).

Two worlds: a tiny Shapes dataset written by ``write_shapes_dataset``, and a
hand-written COCO/VQA v2 root whose human answers disagree, so the soft
targets, the answer normalisation and the out-of-vocabulary handling can be
checked by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vqadesk.data.dataset import DatasetError
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.image_tensors import fit_square, load_image_tensors
from vqadesk.engine.training.vqa_examples import VqaExamples
from vqadesk.errors import DataFormatError, ImageLoadError
from vqadesk.text.vocabulary import PAD_ID, UNK_ID, Vocabulary

SHAPES_IMAGES = 8


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, ("train", "val"), SHAPES_IMAGES, seed=3)
    return root


@pytest.fixture(scope="module")
def shapes_train(shapes_root) -> VqaExamples:
    return VqaExamples.from_dataset(shapes_root, "train")


# -- a hand-written VQA v2 root ------------------------------------------------------------------


def _answers(*texts: str) -> list[dict]:
    return [{"answer": t, "answer_confidence": "yes", "answer_id": i + 1} for i, t in enumerate(texts)]


# (question id, image id, question, multiple_choice_answer, ten human answers, answer type)
HAND_QUESTIONS = [
    # Disagreeing humans; "Net", "the net", "net." and "NET" normalise to "net":
    # 6 x net, 2 x netting, mesh, orange (only two are literally "net").
    (1, 1, "What is the goal made of?", "net",
     ["net", "net", "Net", "the net", "net.", "NET", "netting", "netting", "mesh", "orange"], "other"),
    (2, 1, "What covers the goal?", "Netting.", ["netting"] * 9 + ["net"], "other"),
    (3, 2, "Which material is that?", "mesh", ["mesh"] * 10, "other"),
    # Its answer ("zebra") is the 4th most frequent; with top_k=3 it is out of the vocabulary,
    # and no human answer is in it either. Only punctuation: no question token.
    (4, 2, "?!", "zebra", ["zebra"] * 8 + ["horse"] * 2, "other"),
]


def write_hand_root(root: Path, split: str = "train") -> Path:
    """A COCO-style root: two photos (one not square), captions, VQA v2 files."""
    (root / split).mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "vqa").mkdir()
    images = []
    for image_id, size in ((1, (40, 20)), (2, (16, 16))):
        name = f"hand_{split}_{image_id:012d}.png"
        Image.new("RGB", size, (200, 10, 10)).save(root / split / name)
        images.append({"id": image_id, "file_name": name, "width": size[0], "height": size[1]})
    captions = [
        {"id": i + 1, "image_id": image["id"], "caption": "A goal."} for i, image in enumerate(images)
    ]
    header = {"info": {"version": "2.0"}, "data_subtype": split, "license": {"name": "test"}}
    (root / "annotations" / f"captions_{split}.json").write_text(
        json.dumps({"images": images, "annotations": captions})
    )
    questions = [{"question_id": q, "image_id": i, "question": text} for q, i, text, *_ in HAND_QUESTIONS]
    annotations = [
        {
            "question_id": q,
            "image_id": i,
            "question_type": "what",
            "answer_type": answer_type,
            "multiple_choice_answer": best,
            "answers": _answers(*humans),
        }
        for q, i, _, best, humans, answer_type in HAND_QUESTIONS
    ]
    (root / "vqa" / f"v2_OpenEnded_hand_{split}_questions.json").write_text(
        json.dumps({**header, "task_type": "Open-Ended", "questions": questions})
    )
    (root / "vqa" / f"v2_hand_{split}_annotations.json").write_text(
        json.dumps({**header, "annotations": annotations})
    )
    return root


@pytest.fixture()
def hand_root(tmp_path) -> Path:
    return write_hand_root(tmp_path / "hand")


# -- building from a Shapes world ----------------------------------------------------------------


def test_shapes_examples_have_the_documented_shapes_and_dtypes(shapes_train):
    examples = shapes_train
    count = len(examples)
    assert count == SHAPES_IMAGES * 10  # ten questions per Shapes image
    assert examples.images.shape == (SHAPES_IMAGES, 3, 128, 128)
    assert examples.images.dtype == torch.uint8
    assert examples.questions.shape == (count, 20) and examples.questions.dtype == torch.long
    assert examples.lengths.dtype == torch.long and int(examples.lengths.min()) >= 1
    assert examples.answers.shape == (count,)
    assert len(set(examples.question_ids)) == count
    assert set(examples.image_rows.tolist()) == set(range(SHAPES_IMAGES))
    # Past its length, every question is padding; before it, no padding.
    positions = torch.arange(examples.questions.shape[1])
    padding = positions[None, :] >= examples.lengths[:, None]
    assert torch.equal(examples.questions == PAD_ID, padding)

    item = examples[3]
    assert set(item) == {"image", "question", "length", "answer", "soft_target", "index"}
    assert item["image"].shape == (3, 128, 128) and item["image"].dtype == torch.uint8
    assert item["question"].shape == (20,)
    assert item["soft_target"].shape == (len(examples.answer_vocab),)
    assert item["soft_target"].dtype == torch.float32
    assert int(item["index"]) == 3
    # Shapes answers are unanimous: the soft target is one-hot on the answer.
    assert float(item["soft_target"][int(item["answer"])]) == 1.0
    assert float(item["soft_target"].sum()) == 1.0


def test_a_question_decodes_back_to_its_text(shapes_train):
    examples = shapes_train
    for index in (0, 17, len(examples) - 1):
        words = examples.question_vocab.decode(examples.questions[index])
        text = examples.question_texts[index].lower().rstrip("?")
        assert " ".join(words) == text.replace("'s", " 's")
        answer = examples.answer_vocab.answer_of(int(examples.answers[index]))
        assert answer == examples.annotations_list[index].multiple_choice_answer


def test_image_rows_point_at_the_image_each_question_is_about(shapes_root, shapes_train):
    examples = shapes_train
    for index in (0, 25, 79):
        image_id = examples.question_image_ids[index]
        assert examples.image_ids[int(examples.image_rows[index])] == image_id
    path = shapes_root / "train" / f"shapes_train_{examples.image_ids[0]:012d}.png"
    pixels = torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy())
    assert torch.equal(examples.images[0], pixels.permute(2, 0, 1))  # 128 px: untouched


def test_summary_reports_sizes_and_coverage(shapes_train):
    summary = shapes_train.summary()
    assert summary["questions"] == SHAPES_IMAGES * 10
    assert summary["images"] == SHAPES_IMAGES
    assert summary["question_vocab_size"] == len(shapes_train.question_vocab)
    assert summary["answer_vocab_size"] == len(shapes_train.answer_vocab)
    assert summary["answer_vocab_coverage"] == 1.0 == summary["answer_coverage"]
    assert set(summary["answer_coverage_by_type"]) == {"yes/no", "number", "other"}
    assert summary["unanswerable_questions"] == 0
    json.dumps(summary)  # goes into a JSON event as is


def test_validation_split_reuses_the_training_vocabularies(shapes_root, shapes_train):
    val = VqaExamples.from_dataset(
        shapes_root,
        "val",
        question_vocab=shapes_train.question_vocab,
        answer_vocab=shapes_train.answer_vocab,
    )
    assert val.question_vocab is shapes_train.question_vocab
    assert val.answer_vocab is shapes_train.answer_vocab
    assert int(val.questions.max()) < len(shapes_train.question_vocab)
    assert set(val.question_ids).isdisjoint(shapes_train.question_ids)


def test_words_missing_from_a_given_vocabulary_become_unk(shapes_root):
    vocab = Vocabulary(["what", "color", "is"])
    examples = VqaExamples.from_dataset(shapes_root, "train", question_vocab=vocab)
    assert examples.question_vocab is vocab
    index = next(i for i, t in enumerate(examples.question_texts) if t.startswith("What color is the"))
    words = examples.question_vocab.decode(examples.questions[index])
    assert words[:3] == ["what", "color", "is"]
    assert words[3:] == ["<unk>"] * (len(words) - 3) and len(words) > 3
    assert examples.summary()["unknown_word_rate"] > 0


def test_long_questions_are_cut_to_max_question_len(shapes_root):
    examples = VqaExamples.from_dataset(shapes_root, "train", max_question_len=3)
    assert examples.questions.shape[1] == 3
    assert int(examples.lengths.max()) == 3
    assert examples.summary()["truncated_questions"] == int((examples.token_counts > 3).sum()) > 0


# -- soft targets, normalisation, out-of-vocabulary answers ------------------------------------


def test_soft_targets_count_normalised_human_answers(hand_root):
    examples = VqaExamples.from_dataset(hand_root, "train", top_k=3)
    vocab = examples.answer_vocab
    # Four answers seen once each; ties alphabetical; "Netting." normalises to "netting".
    assert vocab.answers == ("mesh", "net", "netting")
    net, netting, mesh = vocab.index_of("net"), vocab.index_of("netting"), vocab.index_of("mesh")

    target = examples[0]["soft_target"]
    assert int(examples[0]["answer"]) == net
    expected = torch.zeros(3)
    expected[net], expected[netting], expected[mesh] = 1.0, 2 / 3, 1 / 3  # "orange" is no class
    assert torch.allclose(target, expected)
    assert int(examples[1]["answer"]) == netting
    assert torch.allclose(examples[1]["soft_target"][[netting, net]], torch.tensor([1.0, 1 / 3]))


def test_official_soft_scores_equal_the_accuracy_of_each_answer(hand_root):
    from vqadesk.metrics.vqa_accuracy import answer_accuracy

    examples = VqaExamples.from_dataset(hand_root, "train", top_k=3, soft_score="official")
    vocab = examples.answer_vocab
    target = examples[0]["soft_target"]
    humans = examples.human_answers[0]
    for answer in vocab.answers:
        assert float(target[vocab.index_of(answer)]) == pytest.approx(answer_accuracy(answer, humans))
    assert torch.allclose(target, torch.tensor([0.3, 1.0, 0.6]))  # mesh, net, netting


def test_out_of_vocabulary_answers_are_kept_with_minus_one_and_zero_target(hand_root):
    examples = VqaExamples.from_dataset(hand_root, "train", top_k=3)
    assert len(examples) == 4  # all questions kept
    item = examples[3]
    assert int(item["answer"]) == -1
    assert float(item["soft_target"].abs().sum()) == 0.0
    assert examples.trainable_mask().tolist() == [True, True, True, False]
    summary = examples.summary()
    assert summary["unanswerable_questions"] == 1
    assert summary["answer_coverage"] == 0.75 == summary["answer_vocab_coverage"]
    trainable = examples.subset(examples.trainable_mask().nonzero().flatten())
    assert trainable.question_ids == (1, 2, 3)


def test_a_question_without_words_is_one_unknown_token(hand_root):
    examples = VqaExamples.from_dataset(hand_root, "train")
    assert int(examples.lengths[3]) == 1
    assert examples.questions[3].tolist()[:2] == [UNK_ID, PAD_ID]
    assert int(examples.token_counts[3]) == 0


def test_human_answers_and_annotations_serve_the_official_metric(hand_root):
    from vqadesk.metrics.vqa_accuracy import evaluate_vqa

    examples = VqaExamples.from_dataset(hand_root, "train")
    assert examples.human_answers[0] == tuple(HAND_QUESTIONS[0][4])  # raw, not normalised
    assert examples.answer_types == ("other",) * 4
    predictions = {qid: "net" for qid in examples.question_ids}
    result = evaluate_vqa(examples.question_ids, examples.annotations, predictions)
    assert result.per_question[1] == 100.0 and result.per_question[3] == 0.0


def test_photos_are_resized_on_the_shorter_side_and_centre_cropped(hand_root):
    examples = VqaExamples.from_dataset(hand_root, "train", image_size=8)
    assert examples.images.shape == (2, 3, 8, 8)
    assert examples.summary()["image_size"] == 8
    assert torch.all(examples.images[:, 0] > 150)  # the red survived the resize


# -- views and batching --------------------------------------------------------------------------


def test_overfit_subset_shares_images_and_keeps_items(shapes_train):
    small = shapes_train.first(5)
    assert len(small) == 5
    assert small.images.data_ptr() == shapes_train.images.data_ptr()  # no copy
    for index in range(5):
        for key in ("question", "answer", "soft_target", "image"):
            assert torch.equal(small[index][key], shapes_train[index][key])
    picked = shapes_train.subset([7, 2])
    assert picked.question_ids == (shapes_train.question_ids[7], shapes_train.question_ids[2])
    assert torch.equal(picked[0]["question"], shapes_train[7]["question"])
    assert len(shapes_train.first(10_000)) == len(shapes_train)
    with pytest.raises(IndexError):
        shapes_train.subset([len(shapes_train)])
    with pytest.raises(ValueError):
        shapes_train.first(0)


def test_default_collate_stacks_items_like_batch(shapes_train):
    loader = DataLoader(shapes_train, batch_size=6, shuffle=False)
    batch = next(iter(loader))
    assert batch["image"].shape == (6, 3, 128, 128)
    assert batch["question"].shape == (6, 20)
    assert batch["soft_target"].shape == (6, len(shapes_train.answer_vocab))
    fast = shapes_train.batch(range(6))
    assert set(fast) == set(batch)
    for key in batch:
        assert torch.equal(batch[key], fast[key]), key


# -- errors --------------------------------------------------------------------------------------


def test_a_root_without_vqa_files_names_what_is_missing(tmp_path):
    root = write_hand_root(tmp_path / "no-vqa")
    for path in (root / "vqa").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match=r"no VQA questions for split 'train'.*v2_OpenEnded_"):
        VqaExamples.from_dataset(root, "train")


def test_questions_without_annotations_are_refused(tmp_path):
    root = write_hand_root(tmp_path / "no-answers")
    (root / "vqa" / "v2_hand_train_annotations.json").unlink()
    expected = r"no VQA annotations .*split 'train'.*v2_<source>_train_annotations"
    with pytest.raises(DatasetError, match=expected):
        VqaExamples.from_dataset(root, "train")


def test_an_unknown_split_or_folder_names_the_annotations_folder(hand_root, tmp_path):
    with pytest.raises(DataFormatError, match="captions_test.json"):
        VqaExamples.from_dataset(hand_root, "test")
    with pytest.raises(DataFormatError, match="annotations"):
        VqaExamples.from_dataset(tmp_path / "nowhere", "train")


def test_an_unreadable_image_is_named(hand_root):
    bad = hand_root / "train" / "hand_train_000000000002.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(ImageLoadError) as caught:
        VqaExamples.from_dataset(hand_root, "train")
    assert caught.value.path == str(bad)


def test_a_missing_image_is_named(hand_root):
    (hand_root / "train" / "hand_train_000000000001.png").unlink()
    with pytest.raises(ImageLoadError, match="hand_train_000000000001.png|image 1"):
        VqaExamples.from_dataset(hand_root, "train")


# -- image tensors -----------------------------------------------------------------------------


def _three_bands(width: int, height: int) -> Image.Image:
    """Left third red, middle third green, right third blue."""
    image = Image.new("RGB", (width, height), (0, 255, 0))
    image.paste((255, 0, 0), (0, 0, width // 3, height))
    image.paste((0, 0, 255), (width - width // 3, 0, width, height))
    return image


def test_fit_square_keeps_the_aspect_ratio_and_the_centre():
    wide = fit_square(_three_bands(90, 30), 10)  # -> 30 x 10, centre 10 x 10: the green band
    assert wide.size == (10, 10)
    assert wide.getpixel((5, 5)) == (0, 255, 0)
    tall = fit_square(_three_bands(90, 30).transpose(Image.Transpose.ROTATE_90), 12)  # 30 x 90
    assert tall.size == (12, 12)
    assert tall.getpixel((6, 6)) == (0, 255, 0)
    same = Image.new("RGB", (16, 16))
    assert fit_square(same, 16) is same


def test_load_image_tensors_stacks_in_order_and_names_the_first_bad_file(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    paths = []
    for index, colour in enumerate(colours):
        paths.append(tmp_path / f"{index}.png")
        Image.new("RGB", (20, 14), colour).save(paths[-1])
    tensor = load_image_tensors(paths, 6, workers=2)
    assert tensor.shape == (3, 3, 6, 6) and tensor.dtype == torch.uint8
    assert [tensor[i, :, 3, 3].tolist() for i in range(3)] == [list(c) for c in colours]
    assert load_image_tensors([], 6).shape == (0, 3, 6, 6)

    for name in ("bad1.png", "bad2.png"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ImageLoadError) as caught:
        load_image_tensors([paths[0], tmp_path / "bad1.png", tmp_path / "bad2.png"], 6, workers=3)
    assert caught.value.path == str(tmp_path / "bad1.png")


def test_real_coco_photos_load_as_square_tensors(coco_real):
    photos = sorted(coco_real.glob("*.jpg"))[:2] + sorted(coco_real.glob("*.png"))[:1]
    tensor = load_image_tensors(photos, 64)
    assert tensor.shape == (3, 3, 64, 64)
    assert 0 < float(tensor.float().mean()) < 255


def test_examples_survive_pickling_for_spawned_loader_workers(hand_root):
    import pickle

    examples = VqaExamples.from_dataset(hand_root, "train", top_k=3)
    copy = pickle.loads(pickle.dumps(examples.first(3)))
    assert copy.question_vocab == examples.question_vocab
    assert copy.answer_vocab == examples.answer_vocab
    for key, value in examples[2].items():
        assert torch.equal(copy[2][key], value), key


def test_image_sets_too_large_for_memory_are_refused_before_loading(monkeypatch, tmp_path):
    from vqadesk.engine import image_tensors

    monkeypatch.setattr(image_tensors, "_physical_memory_bytes", lambda: 2 * 3 * 64 * 64 * 10)
    paths = [tmp_path / f"never-read-{i}.png" for i in range(11)]
    with pytest.raises(image_tensors.ImageMemoryError, match="11 images at 64 x 64 px"):
        load_image_tensors(paths, 64)

"""Question grounding: the Shapes world's grounding file, the boxes, the attention loss and a run that uses it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from vqadesk.data.grounding import find_grounding_file, grounding_document, read_grounding
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint, load_model_state
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.grounding import MAX_NAMED, box_attention_targets, glimpse_targets, grounding_loss
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_examples import VqaExamples
from vqadesk.engine.training.vqa_task import VqaTask
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import write_json_atomic

SPATIAL = re.compile(r"Is the (.+) (to the left of|to the right of|above|below) the (.+)\?")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=24, seed=5, size=64)
    return root


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_shapes_world_names_each_questions_objects_in_order(shapes):
    questions = {q["question_id"]: q
                 for q in _read(shapes / "vqa/v2_OpenEnded_shapes_train_questions.json")["questions"]}
    answers = {a["question_id"]: a for a in _read(shapes / "vqa/v2_shapes_train_annotations.json")["annotations"]}
    instances = {a["id"]: a for a in _read(shapes / "annotations/instances_train.json")["annotations"]}
    grounding = read_grounding(find_grounding_file(shapes / "vqa/v2_OpenEnded_shapes_train_questions.json", "train"))
    spatial = 0
    for question_id, (image_id, instance_ids) in grounding.items():
        question, truth = questions[question_id], answers[question_id]
        assert question["image_id"] == image_id
        assert all(instances[i]["image_id"] == image_id for i in instance_ids)
        match = SPATIAL.match(question["question"])
        if match is None:
            assert len(instance_ids) == 1 and truth["question_type"].startswith("what ")
            continue
        # "Is the A left of the B?" lists A, then B: their boxes decide the answer.
        spatial += 1
        (xa, ya, wa, ha), (xb, yb, wb, hb) = (instances[i]["bbox"] for i in instance_ids)
        dx, dy = (xb + wb / 2) - (xa + wa / 2), (yb + hb / 2) - (ya + ha / 2)
        holds = {"to the left of": dx > 0, "to the right of": dx < 0, "above": dy > 0, "below": dy < 0}
        assert truth["multiple_choice_answer"] == ("yes" if holds[match.group(2)] else "no")
    assert spatial >= 10
    # Counting, existence and comparisons name groups: never listed.
    listed_types = {answers[q]["question_type"] for q in grounding}
    assert not listed_types & {"how many", "is there a", "are there more", "are there fewer", "are there as many"}


def test_grounding_files_round_trip(tmp_path):
    path = tmp_path / "x_train_grounding.json"
    write_json_atomic(path, grounding_document("train", [(7, 1, (10, 11)), (8, 1, (12,))]))
    assert read_grounding(path) == {7: (1, (10, 11)), 8: (1, (12,))}
    assert find_grounding_file(tmp_path / "v2_OpenEnded_x_train_questions.json", "train") == path
    assert find_grounding_file(tmp_path / "v2_OpenEnded_x_val_questions.json", "val") is None


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"format": "vqa", "version": 1, "grounding": []}, "format"),
        ({"format": "vqadesk-grounding", "version": 9, "grounding": []}, "version"),
        ({"format": "vqadesk-grounding", "version": 1}, "grounding"),
        ({"format": "vqadesk-grounding", "version": 1, "grounding": [{"question_id": 1, "image_id": 2}]},
         "grounding[0].instance_ids"),
        ({"format": "vqadesk-grounding", "version": 1,
          "grounding": [{"question_id": 1, "image_id": 2, "instance_ids": ["a"]}]}, "grounding[0].instance_ids[0]"),
        ({"format": "vqadesk-grounding", "version": 1,
          "grounding": [{"question_id": 1, "image_id": 2, "instance_ids": []}] * 2}, "grounding[1]"),
    ],
)
def test_a_malformed_grounding_file_names_the_file_and_field(tmp_path, content, field):
    path = tmp_path / "bad_train_grounding.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(DataFormatError) as caught:
        read_grounding(path)
    assert caught.value.field == field and str(path) in str(caught.value)


def test_a_grounding_file_naming_another_images_instance_is_refused(shapes, tmp_path):
    root = tmp_path / "copy"
    write_shapes_dataset(root, splits=("train",), n_images=4, seed=5, size=64)
    path = root / "vqa/shapes_train_grounding.json"
    data = _read(path)
    data["grounding"][0]["instance_ids"] = [999_999_999]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFormatError, match="instance 999999999"):
        VqaExamples.from_dataset(root, "train", image_size=64, read_grounding_file=True)


def test_box_targets_spread_a_box_over_the_cells_it_covers():
    boxes = torch.tensor([[[0.0, 0.0, 0.5, 0.25], [math.nan] * 4]])  # (1, 2, 4): top-left quarter-row
    maps = box_attention_targets(boxes, 4, 4)  # (1, 2, 4, 4)
    expected = torch.zeros(4, 4)
    expected[0, :2] = 0.5
    assert torch.allclose(maps[0, 0], expected)
    assert maps[0, 1].sum() == 0  # no box, no target
    small = box_attention_targets(torch.tensor([[[0.30, 0.30, 0.45, 0.45]]]), 4, 4)[0, 0]
    assert torch.isclose(small.sum(), torch.tensor(1.0)) and small[1, 1] > small[0, 0]


def test_one_object_guides_every_glimpse_and_two_guide_one_each():
    a, b = [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]
    boxes = torch.tensor([[a, b], [a, [math.nan] * 4], [[math.nan] * 4] * 2])
    targets, supervised = glimpse_targets(boxes, glimpses=3, height=2, width=2)
    assert supervised.tolist() == [[True, True, False], [True, True, True], [False, False, False]]
    assert targets[0, 0, 0, 0] == 1 and targets[0, 1, 1, 1] == 1  # glimpse 0 on A, glimpse 1 on B
    assert all(targets[1, g, 0, 0] == 1 for g in range(3))


def test_the_loss_is_lowest_where_the_objects_are_and_drives_the_attention():
    boxes = torch.tensor([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]])
    on_target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]]])
    uniform = torch.full((1, 2, 2, 2), 0.25)
    swapped = on_target.flip(1)
    assert grounding_loss(on_target, boxes) < grounding_loss(uniform, boxes) < grounding_loss(swapped, boxes)
    scores = torch.zeros(1, 2, 4, requires_grad=True)
    grounding_loss(torch.softmax(scores, dim=2).view(1, 2, 2, 2), boxes).backward()
    assert scores.grad[0, 0, 0] < 0 and scores.grad[0, 1, 3] < 0  # gradient descent raises the targets
    nothing = torch.full((1, MAX_NAMED, 4), math.nan)
    zero = grounding_loss(torch.softmax(scores, dim=2).view(1, 2, 2, 2), nothing)
    assert zero.item() == 0 and zero.requires_grad


def test_examples_carry_the_boxes_through_views_and_batches(shapes):
    examples = VqaExamples.from_dataset(shapes, "train", image_size=64, read_grounding_file=True)
    grounding = read_grounding(shapes / "vqa/shapes_train_grounding.json")
    assert examples.grounding.shape == (len(examples), MAX_NAMED, 4)
    assert examples.summary()["grounded_questions"] == len(grounding)
    named = ~examples.grounding[:, 0].isnan().any(dim=1)
    assert [q in grounding for q in examples.question_ids] == named.tolist()
    boxes = examples.grounding[named]
    assert (boxes[..., 0][~boxes[..., 0].isnan()] < boxes[..., 2][~boxes[..., 2].isnan()]).all()
    view = examples.subset([5, 2])
    assert torch.equal(view.grounding.nan_to_num(-1), examples.grounding[[5, 2]].nan_to_num(-1))
    assert examples.batch([1, 3])["grounding"].shape == (2, MAX_NAMED, 4)
    assert VqaExamples.from_dataset(shapes, "train", image_size=64).grounding is None  # not asked for


def _config(shapes: Path, out: Path, **overrides) -> TrainingConfig:
    return TrainingConfig(task="vqa", data=str(shapes), out=str(out), embed_dim=32, hidden_dim=64, image_size=64,
                          log_interval_s=0.0, device="cpu", batch_size=4, **overrides)


def _attention_loss_after_training(shapes: Path, out: Path, weight: float) -> tuple[float, list[dict]]:
    """Overfit a few images' questions; the grounding loss of their attention afterwards."""
    task = VqaTask()
    config = _config(shapes, out, overfit=24, epochs=60, lr=3e-3, lr_schedule="none", dropout=0.0,
                     patience=100, grounding_weight=weight)
    events = list(train(config, task))
    model = task.build_model()
    load_model_state(model, load_checkpoint(out / "last.json"))
    model.eval()
    grounded = VqaExamples.from_dataset(shapes, "train", image_size=64, read_grounding_file=True,
                                        question_vocab=task.train_examples.question_vocab,
                                        answer_vocab=task.train_examples.answer_vocab).first(24)
    batch = grounded.batch(list(range(len(grounded))))
    with torch.no_grad():
        features = model.encode_images(batch["image"])
        attention = model.answer(features, batch["question"], batch["length"]).attention
    return grounding_loss(attention, batch["grounding"]).item(), events


def test_training_points_the_glimpses_at_the_named_objects(shapes, tmp_path):
    """The same overfitting run with and without the grounding loss: with it, the attention is on the boxes."""
    grounded, events = _attention_loss_after_training(shapes, tmp_path / "on", 1.0)
    assert events[0]["dataset"]["train"]["grounded_questions"] > 0
    free, _ = _attention_loss_after_training(shapes, tmp_path / "off", 0.0)
    assert grounded < 0.7 * free


def test_grounding_weight_zero_and_models_without_glimpses_read_no_grounding(shapes, tmp_path):
    off = list(train(_config(shapes, tmp_path / "off", max_steps=1, grounding_weight=0.0), VqaTask()))
    assert off[0]["dataset"]["train"]["grounded_questions"] == 0
    bow = list(train(_config(shapes, tmp_path / "bow", model="bow", max_steps=1), VqaTask()))
    assert bow[0]["dataset"]["train"]["grounded_questions"] == 0 and bow[-1]["event"] == "done"

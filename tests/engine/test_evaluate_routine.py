"""``python -m training.evaluate``: results files the official scorer accepts, the same
numbers, the JSON document, test-dev style splits, one-line errors.

Two tiny checkpoints (a VQA ``lstm`` and an attention LSTM captioner) are trained
for one two-step epoch on a small Shapes world, so their ``best`` checkpoint
carries the validation metrics the training loop measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from training import evaluate as routine
from vqadesk.cli import main as cli_main
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from vqadesk.engine.precision import resolve_precision
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.caption_task import CaptionTask
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask
from vqadesk.jsonio import read_json
from vqadesk.models import ImageEncoderConfig, VqaModelConfig, build_vqa_model

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"embed_dim": 32, "hidden_dim": 64, "image_size": 64, "device": "cpu", "log_interval_s": 0.0}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """train / val with ground truth, and "test" stripped of answers and captions (test-dev style)."""
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val", "test"), n_images=12, seed=5, size=64)
    (root / "vqa" / "v2_shapes_test_annotations.json").unlink()
    (root / "annotations" / "captions_test.json").unlink()  # instances_test.json still lists the images
    return root


def _train(world: Path, out: Path, task: str, model: str, **options) -> tuple[Path, dict]:
    # 12 training images in batches of 6: one epoch of two steps, validated, `best` saved.
    config = TrainingConfig(task=task, data=str(world), out=str(out), model=model, batch_size=6,
                            epochs=1, max_steps=2, **SMALL, **options)
    events = list(train(config, VqaTask() if task == "vqa" else CaptionTask()))
    epoch = next(e for e in events if e["event"] == "epoch")
    return out / "best.json", epoch["metrics"]


@pytest.fixture(scope="module")
def vqa_checkpoint(world, tmp_path_factory) -> tuple[Path, dict]:
    return _train(world, tmp_path_factory.mktemp("vqa_run"), "vqa", "lstm")


@pytest.fixture(scope="module")
def caption_checkpoint(world, tmp_path_factory) -> tuple[Path, dict]:
    # Short captions: an untrained decoder writes every word up to the limit, in every beam.
    return _train(world, tmp_path_factory.mktemp("caption_run"), "captioning", "lstm", max_len=10)


@pytest.fixture
def evaluate(capsys):
    def run(*argv) -> tuple[int, str, str]:
        code = routine.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def vqadesk_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("vqadesk.cli.evaluate_cmd",))

    def run(*argv) -> tuple[int, str]:
        code = cli_main.main([str(a) for a in argv])
        return code, capsys.readouterr().out

    return run


# -- VQA ------------------------------------------------------------------------------------------


def test_vqa_results_score_the_same_with_the_official_scorer(world, vqa_checkpoint, evaluate, vqadesk_cli, tmp_path):
    checkpoint, _ = vqa_checkpoint
    results = tmp_path / "out" / "vqa_val.json"  # the folder does not exist yet
    code, out, err = evaluate("--checkpoint", checkpoint, "--data", world, "--split", "val",
                              "--out", results, "--json")
    assert code == 0, err
    document = json.loads(out)  # exactly one JSON document on stdout
    assert document["kind"] == "vqa" and document["split"] == "val" and document["note"] is None
    assert document["precision"] == resolve_precision("auto", torch.device("cpu"))  # resolved, never "auto"
    assert document["results"] == str(results) and document["checkpoint"] == str(checkpoint)
    metrics = document["metrics"]
    assert set(metrics) == {"overall", "perAnswerType", "perQuestionType", "questions"}
    assert set(metrics["perAnswerType"]) == {"yes/no", "number", "other"}

    entries = read_json(results)
    questions = read_json(world / "vqa" / "v2_OpenEnded_shapes_val_questions.json")["questions"]
    assert [e["question_id"] for e in entries] == [q["question_id"] for q in questions]
    assert all(set(e) == {"question_id", "answer"} and isinstance(e["answer"], str) for e in entries)
    assert document["count"] == metrics["questions"] == len(entries)

    code, official = vqadesk_cli(
        "evaluate", "vqa", "--questions", world / "vqa" / "v2_OpenEnded_shapes_val_questions.json",
        "--annotations", world / "vqa" / "v2_shapes_val_annotations.json", "--results", results, "--json",
    )
    assert code == 0
    official = json.loads(official)
    assert metrics["overall"] == official["overall"]
    assert metrics["perAnswerType"] == official["perAnswerType"]
    assert metrics["perQuestionType"] == official["perQuestionType"]


def test_vqa_evaluation_repeats_the_training_validation(world, vqa_checkpoint, evaluate, tmp_path):
    """Validation in training and a later evaluation decode with the same loop; training validates in
    fp32, so --precision fp32 repeats it exactly (docs/performance.md)."""
    checkpoint, validated = vqa_checkpoint
    code, out, _ = evaluate("--checkpoint", checkpoint, "--data", world, "--split", "val",
                            "--out", tmp_path / "r.json", "--json", "--batch-size", "7", "--precision", "fp32")
    assert code == 0
    assert json.loads(out)["precision"] == "fp32"
    metrics = json.loads(out)["metrics"]
    assert metrics["overall"] == validated["accuracy"]
    assert metrics["perAnswerType"] == validated["per_answer_type"]


def test_vqa_table_output(world, vqa_checkpoint, evaluate, tmp_path):
    code, out, _ = evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "val",
                            "--out", tmp_path / "r.json")
    assert code == 0
    assert "answers in" in out and "overall" in out
    assert "Per answer type:" in out and "yes/no" in out and "Worst question types" in out


def test_vqa_split_without_annotations_gives_results_only(world, vqa_checkpoint, evaluate, tmp_path):
    results = tmp_path / "test.json"
    code, out, err = evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "test",
                              "--out", results, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["metrics"] is None
    assert document["note"].startswith("no metrics could be computed") and "no annotations" in document["note"]
    questions = read_json(world / "vqa" / "v2_OpenEnded_shapes_test_questions.json")["questions"]
    assert sorted(e["question_id"] for e in read_json(results)) == sorted(q["question_id"] for q in questions)

    code, out, _ = evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "test",
                            "--out", results)
    assert code == 0 and "no metrics could be computed" in out


# -- captioning -----------------------------------------------------------------------------------


def test_caption_results_score_the_same_with_the_official_scorer(
    world, caption_checkpoint, evaluate, vqadesk_cli, tmp_path
):
    checkpoint, validated = caption_checkpoint
    results = tmp_path / "captions_val.json"
    code, out, err = evaluate("--checkpoint", checkpoint, "--data", world, "--split", "val",
                              "--out", results, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["kind"] == "captioning" and document["count"] == 12
    metrics = document["metrics"]
    assert set(metrics) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "images"}
    entries = read_json(results)
    assert len(entries) == 12 and all(set(e) == {"image_id", "caption"} for e in entries)

    code, official = vqadesk_cli("evaluate", "captions", "--annotations", world / "annotations" / "captions_val.json",
                                 "--results", results, "--json")
    assert code == 0
    # `evaluate --json` adds the analysis after the official keys (docs/evaluate.md).
    official_scores = {k: v for k, v in json.loads(official).items() if k in metrics}
    assert {k: v for k, v in metrics.items() if k != "images"} == official_scores
    # The training loop validated the same checkpoint with the same beam and decoding loop.
    assert {k: metrics[k] for k in ("BLEU-4", "CIDEr")} == {k: validated[k] for k in ("BLEU-4", "CIDEr")}


def test_caption_beam_size_and_table(world, caption_checkpoint, evaluate, tmp_path):
    code, out, err = evaluate("--checkpoint", caption_checkpoint[0], "--data", world, "--split", "val",
                              "--out", tmp_path / "r.json", "--beam-size", "1", "--batch-size", "5")
    assert code == 0, err
    assert "captions in" in out and "BLEU-4" in out and "CIDEr" in out


def test_caption_split_without_captions_gives_results_only(world, caption_checkpoint, evaluate, tmp_path):
    results = tmp_path / "test.json"
    code, out, err = evaluate("--checkpoint", caption_checkpoint[0], "--data", world, "--split", "test",
                              "--out", results, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["metrics"] is None and "no captions" in document["note"]
    images = read_json(world / "annotations" / "instances_test.json")["images"]
    assert sorted(e["image_id"] for e in read_json(results)) == sorted(i["id"] for i in images)


# -- bad input ------------------------------------------------------------------------------------


def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_missing_split_names_the_known_ones(world, vqa_checkpoint, evaluate, tmp_path):
    line = _one_error_line(*evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "tset",
                                     "--out", tmp_path / "r.json"))
    assert "no split 'tset'" in line and "train, val, test" in line
    assert not (tmp_path / "r.json").exists()


def test_missing_data_folder(vqa_checkpoint, evaluate, tmp_path):
    line = _one_error_line(*evaluate("--checkpoint", vqa_checkpoint[0], "--data", tmp_path / "nowhere",
                                     "--split", "val", "--out", tmp_path / "r.json"))
    assert "nowhere" in line and "not found" in line


def test_a_file_that_is_not_a_checkpoint(world, evaluate, tmp_path):
    not_a_checkpoint = world / "vqa" / "v2_shapes_val_annotations.json"
    line = _one_error_line(*evaluate("--checkpoint", not_a_checkpoint, "--data", world, "--split", "val",
                                     "--out", tmp_path / "r.json"))
    assert str(not_a_checkpoint) in line and "'format'" in line


def test_a_pickled_checkpoint_is_refused_unopened(world, evaluate, tmp_path, monkeypatch):
    pickled = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, pickled)
    renamed = tmp_path / "renamed.json"
    shutil.copy(pickled, renamed)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load must never be called")

    monkeypatch.setattr(torch, "load", no_unpickling)
    for path in (pickled, renamed):
        line = _one_error_line(*evaluate("--checkpoint", path, "--data", world, "--split", "val",
                                         "--out", tmp_path / "r.json"))
        assert str(path) in line and "pickled" in line


def test_a_model_of_precomputed_features_is_refused(world, vqa_checkpoint, evaluate, tmp_path):
    trained = load_checkpoint(vqa_checkpoint[0])
    config = replace(
        VqaModelConfig.from_dict(trained.model_config, source="test"),
        image_encoder=ImageEncoderConfig(name="precomputed", layer="pooled", feature_dim=64),
    )
    checkpoint = Checkpoint(kind="vqa", model_config=config.to_dict(),
                            model_state=build_vqa_model(config).state_dict(), metadata=trained.metadata)
    path = save_checkpoint(tmp_path, "features", checkpoint)
    line = _one_error_line(*evaluate("--checkpoint", path, "--data", world, "--split", "val",
                                     "--out", tmp_path / "r.json"))
    assert str(path) in line and "precomputed image features" in line


def test_out_that_is_a_folder(world, vqa_checkpoint, evaluate, tmp_path):
    line = _one_error_line(*evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "val",
                                     "--out", tmp_path))
    assert "is a folder" in line


def test_bad_batch_size(world, vqa_checkpoint, evaluate, tmp_path):
    line = _one_error_line(*evaluate("--checkpoint", vqa_checkpoint[0], "--data", world, "--split", "val",
                                     "--out", tmp_path / "r.json", "--batch-size", "0"))
    assert "batch size must be at least 1" in line


def test_vqa_split_without_questions(world, caption_checkpoint, vqa_checkpoint, evaluate, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(world, bare, ignore=shutil.ignore_patterns("vqa"))
    line = _one_error_line(*evaluate("--checkpoint", vqa_checkpoint[0], "--data", bare, "--split", "val",
                                     "--out", tmp_path / "r.json"))
    assert "no VQA questions for split 'val'" in line


def test_runs_as_a_module_with_one_json_document(world, vqa_checkpoint, tmp_path):
    """The real process: exit code, and stdout holds the JSON document and nothing else."""
    results = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--checkpoint", str(vqa_checkpoint[0]), "--data", str(world),
         "--split", "val", "--out", str(results), "--device", "cpu", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["questions"] == len(read_json(results))

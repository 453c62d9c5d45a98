"""The training loop and the routines: events, losses, resume, stop, overfit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.caption_task import CaptionTask
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"embed_dim": 32, "hidden_dim": 64, "image_size": 64, "log_interval_s": 0.0, "device": "cpu"}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=24, seed=11, size=64)
    return root


def run(config: TrainingConfig, task=None) -> list[dict]:
    task = task or (VqaTask() if config.task == "vqa" else CaptionTask())
    return list(train(config, task))


def vqa_config(shapes: Path, out: Path, **overrides) -> TrainingConfig:
    return TrainingConfig(**{"task": "vqa", "data": str(shapes), "out": str(out), "batch_size": 4,
                             **SMALL, **overrides})


def test_vqa_events_checkpoints_and_falling_loss(shapes, tmp_path):
    events = run(vqa_config(shapes, tmp_path, epochs=2, lr=3e-3))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"step", "epoch", "checkpoint"} <= set(kinds)
    start = events[0]
    assert start["dataset"]["train"]["questions"] == 240 and start["device"].startswith("CPU")
    steps = [e for e in events if e["event"] == "step"]
    for key in ("epoch", "step", "loss", "lr", "samples_per_s", "eta_s"):
        assert all(key in e for e in steps)
    assert steps[-1]["loss"] < steps[0]["loss"]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert set(epochs[0]["metrics"]["per_answer_type"]) == {"yes/no", "number", "other"}
    assert 0 <= epochs[-1]["metrics"]["accuracy"] <= 100
    best = load_checkpoint(tmp_path / "best.json")
    assert best.kind == "vqa" and best.training_state is None
    assert best.metadata["answer_vocabulary"]["answers"]
    last = load_checkpoint(tmp_path / "last.json", training_state=True)
    assert last.training_state.step == steps[-1]["step"]
    json.dumps(events)  # every event is plain JSON


def test_two_steps_lower_the_loss_on_a_fixed_batch(shapes, tmp_path):
    """The cs231n check: repeat one batch, the loss must fall."""
    config = vqa_config(shapes, tmp_path, overfit=16, epochs=3, lr=3e-3, lr_schedule="none")
    losses = [e["loss"] for e in run(config) if e["event"] == "step"]
    assert losses[-1] < losses[0]


def test_overfit_reaches_near_perfect_training_accuracy(shapes, tmp_path):
    config = vqa_config(shapes, tmp_path, overfit=50, batch_size=8, epochs=220, lr=6e-3,
                        lr_schedule="none", dropout=0.0, patience=200)
    events = run(config)
    accuracies = [e["metrics"]["accuracy"] for e in events if e["event"] == "epoch"]
    assert max(accuracies) >= 98.0


def test_resume_continues_exactly(shapes, tmp_path):
    """Stopping at step 3 and resuming gives the same later losses as one run."""
    common = {"epochs": 2, "lr": 3e-3, "batch_size": 4}  # 6 steps an epoch
    whole = [e for e in run(vqa_config(shapes, tmp_path / "a", max_steps=10, **common)) if e["event"] == "step"]
    run(vqa_config(shapes, tmp_path / "b", max_steps=3, **common))
    resumed = [e for e in run(vqa_config(shapes, tmp_path / "b", max_steps=10, resume=True, **common))
               if e["event"] == "step"]
    assert [e["step"] for e in resumed] == list(range(4, 11))
    by_step = {e["step"]: e["loss"] for e in whole}
    for event in resumed:
        assert event["loss"] == pytest.approx(by_step[event["step"]], rel=1e-5, abs=1e-6)


def test_captioning_trains_and_validates(shapes, tmp_path):
    config = TrainingConfig(task="captioning", data=str(shapes), out=str(tmp_path), model="lstm",
                            epochs=1, batch_size=4, max_len=36, beam_size=2, lr=3e-3, **SMALL)
    events = run(config)
    steps = [e["loss"] for e in events if e["event"] == "step"]
    assert steps[-1] < steps[0]
    (epoch,) = [e for e in events if e["event"] == "epoch"]
    assert {"BLEU-1", "BLEU-4", "CIDEr"} <= set(epoch["metrics"])
    assert load_checkpoint(tmp_path / "best.json").metadata["word_vocabulary"]["tokens"][:4] == [
        "<pad>", "<unk>", "<start>", "<end>"]


def routine(module: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"training.{module}", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=240, **kwargs)


def small_args(shapes: Path, out: Path) -> list[str]:
    return ["--data", str(shapes), "--out", str(out), "--embed-dim", "32", "--hidden-dim", "64",
            "--image-size", "64", "--batch-size", "4", "--device", "cpu"]


def test_routine_stdout_is_json_events_only(shapes, tmp_path):
    result = routine("vqa", *small_args(shapes, tmp_path), "--max-steps", "3")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert "Traceback" not in result.stderr


def test_routine_bad_data_is_an_error_event(tmp_path):
    result = routine("captioning", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["event"] == "error" and "missing" in event["message"]
    assert "Traceback" not in result.stderr


def test_routine_bad_option_is_a_usage_error(shapes, tmp_path):
    result = routine("vqa", *small_args(shapes, tmp_path), "--lr", "-1")
    assert result.returncode == 2 and "--lr must be positive" in result.stderr


def test_sigterm_finishes_the_step_and_saves_last(shapes, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "training.vqa", *small_args(shapes, tmp_path), "--epochs", "200"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in process.stdout:
            if json.loads(line)["event"] == "step":
                break
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=120)
    finally:
        process.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert process.returncode == 0
    assert events[-1]["event"] == "done" and events[-1]["stopped"] == "request"
    state = load_checkpoint(tmp_path / "last.json", training_state=True).training_state
    assert state.step == events[-1]["step"]


@pytest.mark.slow
def test_two_process_ddp_on_gloo(shapes, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "training.vqa", *small_args(shapes, tmp_path), "--epochs", "1"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # so a hang can be killed with all its worker processes
    )
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert events[0]["world_size"] == 2
    # Each of the two processes takes half of the 24 images (3 batches of 4) per epoch.
    assert events[0]["steps_per_epoch"] == 3
    assert events[-1]["event"] == "done"
    assert load_checkpoint(tmp_path / "last.json").kind == "vqa"


def test_bf16_mixed_precision_trains_and_keeps_float32_weights(shapes, tmp_path):
    """--precision bf16: the forward pass under autocast, the loss still falls, checkpoints stay float32."""
    config = vqa_config(shapes, tmp_path, overfit=16, epochs=3, lr=3e-3, lr_schedule="none", precision="bf16")
    events = run(config)
    losses = [e["loss"] for e in events if e["event"] == "step"]
    assert losses[-1] < losses[0]
    assert events[0]["config"]["precision"] == "bf16"
    best = load_checkpoint(tmp_path / "best.json")
    assert {str(t.dtype) for t in best.model_state.values() if t.is_floating_point()} == {"torch.float32"}


def test_fp16_without_a_cuda_gpu_is_a_clear_error(shapes, tmp_path):
    from vqadesk.errors import VqadeskError

    with pytest.raises(VqadeskError, match="fp16 needs a CUDA GPU"):
        run(vqa_config(shapes, tmp_path, precision="fp16"))

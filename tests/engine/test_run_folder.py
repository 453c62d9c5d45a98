"""One owner per run folder, fresh-or-resume rules, and what --resume refuses to change."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vqadesk.engine.checkpoints.run_folder import RunFolderError, lock_run_folder
from vqadesk.engine.checkpoints.trained_models import load_trained_vqa
from vqadesk.engine.torch_free.training_config import TrainingConfig, TrainingConfigError
from vqadesk.engine.training.run_start import ResumeError
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask
from vqadesk.errors import DataFormatError

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"embed_dim": 16, "hidden_dim": 32, "image_size": 32, "batch_size": 8, "device": "cpu",
         "log_interval_s": 0.0}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=24, seed=3, size=32)
    return root


def run(shapes: Path, out: Path, **overrides) -> list[dict]:
    options = {**SMALL, "epochs": 2, **overrides}
    return list(train(TrainingConfig(task="vqa", data=str(shapes), out=str(out), **options), VqaTask()))


def test_a_second_run_into_a_live_runs_folder_is_refused(shapes, tmp_path):
    lock = lock_run_folder(tmp_path)  # a run holding the folder (flock: per open file, so in-process works)
    try:
        with pytest.raises(RunFolderError, match="another training run is writing to this folder"):
            run(shapes, tmp_path, max_steps=1)
        assert not (tmp_path / "last.json").exists()
    finally:
        lock.close()
    run(shapes, tmp_path, max_steps=1)  # the lock dies with its holder
    assert (tmp_path / "last.json").exists()


def test_the_routine_refuses_a_live_folder_in_one_line_with_exit_1(shapes, tmp_path):
    lock = lock_run_folder(tmp_path)
    try:
        result = subprocess.run([sys.executable, "-m", "training.vqa", "--data", str(shapes), "--out", str(tmp_path),
                                 "--device", "cpu", "--max-steps", "1"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=240)
    finally:
        lock.close()
    assert result.returncode == 1
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert "another training run" in event["message"] and "\n" not in event["message"]


def test_a_fresh_run_into_an_old_runs_folder_needs_resume_or_overwrite(shapes, tmp_path):
    run(shapes, tmp_path, epochs=1)
    before = (tmp_path / "best.safetensors").read_bytes()
    with pytest.raises(RunFolderError, match="add --resume to continue it, or --overwrite"):
        run(shapes, tmp_path, max_steps=1)
    assert (tmp_path / "best.safetensors").read_bytes() == before
    events = run(shapes, tmp_path, max_steps=1, overwrite=True)
    assert events[-1]["event"] == "done" and events[0]["resumed_from_step"] is None
    assert not (tmp_path / "best.json").exists()  # the old run's best went with it: no epoch finished yet


def test_resume_and_overwrite_together_are_refused():
    with pytest.raises(TrainingConfigError, match="--resume and --overwrite"):
        TrainingConfig(task="vqa", data="d", out="o", resume=True, overwrite=True)


def test_resume_without_a_complete_checkpoint_starts_from_the_beginning(shapes, tmp_path, capsys):
    events = run(shapes, tmp_path, max_steps=1, resume=True)
    assert events[0]["resumed_from_step"] is None and events[-1]["step"] == 1
    assert "holds no complete `last` checkpoint yet; starting from the beginning" in capsys.readouterr().err


def test_resume_refuses_a_changed_batch_size_naming_it(shapes, tmp_path):
    run(shapes, tmp_path, max_steps=1)
    with pytest.raises(ResumeError, match=r"last\.json: --batch-size was 8, now 4; .*resume with --batch-size 8"):
        run(shapes, tmp_path, resume=True, batch_size=4)


def test_a_larger_epochs_is_refused_under_a_schedule_laid_out_over_the_run(shapes, tmp_path):
    run(shapes, tmp_path, max_steps=1)
    with pytest.raises(ResumeError, match="--epochs was 2, now 4: the cosine learning-rate schedule"):
        run(shapes, tmp_path, resume=True, epochs=4)


def test_a_larger_epochs_extends_a_run_without_such_a_schedule(shapes, tmp_path):
    run(shapes, tmp_path, lr_schedule="plateau", epochs=1)
    events = run(shapes, tmp_path, lr_schedule="plateau", epochs=2, resume=True)
    assert events[0]["resumed_from_step"] == 3 and events[-1]["epoch"] == 2 and events[-1]["step"] == 6


def test_an_out_of_range_position_in_the_checkpoint_is_refused_naming_the_field(shapes, tmp_path):
    run(shapes, tmp_path, max_steps=1)
    path = tmp_path / "last.json"
    document = json.loads(path.read_text())
    document["training_state"]["extra"]["batch_in_epoch"] = 10**12
    path.write_text(json.dumps(document))
    with pytest.raises(DataFormatError, match=r"training_state\.extra\.batch_in_epoch"):
        run(shapes, tmp_path, max_steps=2, resume=True)


def test_an_optimiser_state_of_the_wrong_shape_is_refused_naming_the_field(shapes, tmp_path):
    run(shapes, tmp_path, max_steps=1)
    last = load_checkpoint(tmp_path / "last.json", training_state=True)
    state = last.training_state
    state.optimizer["state"][0]["exp_avg"] = torch.zeros(3, 3)  # hand-edited: another size
    save_checkpoint(tmp_path, "last", replace(last, training_state=state))
    with pytest.raises(DataFormatError, match=r"training_state\.optimizer\.state\.0\.exp_avg.*the parameter is"):
        run(shapes, tmp_path, max_steps=2, resume=True)


def test_an_absurd_model_config_is_refused_before_any_allocation(shapes, tmp_path):
    run(shapes, tmp_path, max_steps=1)
    path = tmp_path / "last.json"
    document = json.loads(path.read_text())
    for size, message in ((10**9, "describes no model that can be built"), (10**5, "do not fit")):
        document["model_config"]["hidden_dim"] = size
        path.write_text(json.dumps(document))
        with pytest.raises(CheckpointError, match=message):
            load_trained_vqa(path, torch.device("cpu"))

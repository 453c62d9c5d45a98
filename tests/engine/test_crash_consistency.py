"""A training run killed at any rename or fsync of its checkpoints resumes, with the right `best`.

Two ways of killing it: in-process, an exception that nothing catches raised
at the Nth ``os.replace``/``os.fsync`` (with the clean-up of staged files
switched off, as a real kill would skip it), which runs everywhere; and
with strace injecting SIGKILL at the Nth ``rename`` of a real routine
process (skipped only where strace is missing). After each kill, a
``--resume`` run must finish, ``last`` and ``best`` must load, no temporary
file may remain, and ``best`` must be the very model, and score, that an
uninterrupted run ends with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask

REPO_ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"embed_dim": 16, "hidden_dim": 32, "image_size": 32, "batch_size": 8, "epochs": 2, "lr": 3e-3}


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler in the code under test catches it."""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=24, seed=5, size=32)
    return root


def config(shapes: Path, out: Path, **overrides) -> TrainingConfig:
    return TrainingConfig(task="vqa", data=str(shapes), out=str(out), device="cpu", log_interval_s=0.0,
                          **OPTIONS, **overrides)


def check_outcome(out: Path, done: dict, reference: dict) -> None:
    """What every interrupted-then-resumed run must end with."""
    assert done["event"] == "done"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    last = load_checkpoint(out / "last.json", training_state=True)
    assert last.training_state.step == done["step"] == reference["done"]["step"]
    best = load_checkpoint(out / "best.json")
    scores = [entry["accuracy"] for entry in last.metadata["history"]]
    assert done["best"] == best.metadata["best_score"] == max(scores) == reference["done"]["best"]
    for key, tensor in reference["best"].items():
        assert torch.equal(best.model_state[key], tensor), key


@pytest.fixture(scope="module")
def reference(shapes, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    events = list(train(config(shapes, out), VqaTask()))
    return {"done": events[-1], "best": load_checkpoint(out / "best.json").model_state, "out": out}


def counting(real, limit: int, calls: list, wanted=lambda *args: True):
    def call(*args, **kwargs):
        if wanted(*args):
            calls.append(args)
            if len(calls) == limit:
                raise Killed
        return real(*args, **kwargs)

    return call


@pytest.mark.parametrize("operation", ["replace", "fsync"])
def test_a_kill_at_every_rename_and_fsync_resumes_with_the_best_model(shapes, tmp_path, monkeypatch, reference,
                                                                       operation):
    real = getattr(os, operation)
    n = 0
    while True:
        n += 1
        out = tmp_path / f"kill-{n}"
        calls: list = []
        wanted = (lambda source, destination: Path(destination).parent == out) if operation == "replace" else (
            lambda fd: True)
        with monkeypatch.context() as patch:
            patch.setattr(os, operation, counting(real, n, calls, wanted))
            patch.setattr("vqadesk.engine.checkpoints.checkpoint.remove_quietly", lambda path: None)
            try:
                list(train(config(shapes, out), VqaTask()))
                killed = False
            except Killed:
                killed = True
        if not killed:
            break  # n passed the number of calls a whole run makes: every one has been tried
        done = list(train(config(shapes, out, resume=True), VqaTask()))[-1]
        check_outcome(out, done, reference)
    assert n > 6  # two epochs: `last` twice and `best` at least once, two renames and three fsyncs each


def test_a_save_that_fails_between_saving_best_and_last_keeps_the_best(shapes, tmp_path, monkeypatch, reference):
    """A full disk while saving `last` right after a new `best`: the resumed run keeps that `best`."""
    from vqadesk.engine.checkpoints import checkpoint as checkpoint_module

    real_save, saves = checkpoint_module.save_checkpoint, []

    def disk_full_on_last(folder, name, checkpoint):
        saves.append(name)
        if name == "last" and saves.count("last") == 2:
            raise OSError(28, "No space left on device")
        return real_save(folder, name, checkpoint)

    monkeypatch.setattr("vqadesk.engine.training.trainer.save_checkpoint", disk_full_on_last)
    with pytest.raises(OSError, match="No space"):
        list(train(config(shapes, tmp_path), VqaTask()))
    monkeypatch.undo()
    done = list(train(config(shapes, tmp_path, resume=True), VqaTask()))[-1]
    check_outcome(tmp_path, done, reference)


def routine(out: Path, shapes: Path, *extra: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    arguments = ["--data", str(shapes), "--out", str(out), "--device", "cpu", "--threads", "1"]
    for key, value in OPTIONS.items():
        arguments += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.run([*prefix, sys.executable, "-m", "training.vqa", *arguments, *extra], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to inject SIGKILL at a rename")
def test_sigkill_injected_at_every_rename_of_a_routine_resumes(shapes, tmp_path, reference):
    n = 0
    while True:
        n += 1
        out = tmp_path / f"kill-{n}"
        strace = ("strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=rename,renameat,renameat2",
                  "-e", f"inject=rename,renameat,renameat2:signal=KILL:when={n}")
        result = routine(out, shapes, prefix=strace)
        if result.returncode == 0:
            break
        assert result.returncode in (-9, 137), result.stderr[-2000:]
        resumed = routine(out, shapes, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        done = json.loads(resumed.stdout.splitlines()[-1])
        check_outcome(out, done, reference)
    assert n > 6

"""``python -m training.evaluate_model`` as the Evaluate tab runs it: a real process printing JSON
events on stdout (the contract of engine/torch_free/routine.py), human text on stderr; SIGTERM
stops it between batches, leaves no folder and exits 130; bad input is an ``error`` event and one
line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.inference_models import tiny_models
from vqadesk.engine.torch_free.evaluations import open_evaluation

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory)


def routine(*options) -> list[str]:
    return [sys.executable, "-m", "training.evaluate_model", "--device", "cpu", *map(str, options)]


def test_the_routine_prints_events_and_makes_the_folder(models, tmp_path):
    done = subprocess.run(routine("--model", models.vqa, "--data", models.shapes, "--split", "val",
                                  "--subset", 20, "--seed", 2, "--out-root", tmp_path, "--batch-size", 8,
                                  "--threads", 1, "--nice", 5),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "progress", "progress", "progress", "done"]
    assert [e["done"] for e in events[1:-1]] == [8, 16, 20]
    folder = Path(events[-1]["folder"])
    assert open_evaluation(folder).manifest.subset is not None and folder.parent == tmp_path
    assert "evaluating" in done.stderr and str(folder) in done.stderr


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities")
def test_sigterm_stops_between_batches_and_leaves_nothing(models, tmp_path):
    process = subprocess.Popen(
        routine("--model", models.vqa, "--data", models.shapes, "--split", "val", "--out-root", tmp_path,
                "--batch-size", 1),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(json.loads(line))
            if lines[-1]["event"] == "progress":
                niceness = os.getpriority(os.PRIO_PROCESS, process.pid)
                process.send_signal(signal.SIGTERM)
                break
        rest, err = process.communicate(timeout=120)
    finally:
        process.kill()
    events = lines + [json.loads(line) for line in rest.splitlines()]
    assert process.returncode == 130, err
    assert niceness == min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)  # it yields the CPU to the window
    assert events[-1]["event"] == "cancelled" and events[-1]["done"] < events[0]["total"]
    assert "received SIGTERM" in err and "nothing was kept" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("options", "code", "expected"), [
    (("--model", "no-such-model"), 1, "unknown model 'no-such-model'"),
    (("--model", "shapes-vqa", "--subset", "0"), 2, "--subset: must be at least 1, got 0"),
    (("--model", "shapes-vqa", "--subset", "5", "--seed", "-1"), 2, "--seed: must be at least 0, got -1"),
])
def test_bad_input_is_one_line(models, tmp_path, options, code, expected):
    done = subprocess.run(routine(*options, "--data", models.shapes, "--split", "val", "--out-root", tmp_path),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == code and expected in done.stderr and "Traceback" not in done.stderr
    if code == 1:
        assert json.loads(done.stdout) == {"event": "error", "message": done.stderr.strip().removeprefix("error: ")}
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []

"""Hostile inputs through the training routines: exit 1 and one line naming the file, never exit 3 (issue 16).

A Shapes world is generated, then one of its files is replaced by a hostile
one (a lone surrogate, an id beyond 64 bits, an integer of 5,000 digits, a
FIFO); ``--out`` is a file, under a file, or on a disk too full for one checkpoint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from tests.support import hostile_files
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training import out_folder
from vqadesk.engine.training.out_folder import OutFolderError
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--embed-dim", "32", "--hidden-dim", "64", "--image-size", "64", "--batch-size", "4", "--device", "cpu",
         "--max-steps", "1"]
QUESTIONS = "vqa/v2_OpenEnded_shapes_train_questions.json"
CAPTIONS = "annotations/captions_train.json"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, splits=("train", "val"), n_images=8, seed=3, size=64)
    return root


def routine(module: str, data: Path, out: Path) -> tuple[int, str, str]:
    """Run ``training.<module>``; its exit code, the error event's message and stderr."""
    result = subprocess.run([sys.executable, "-m", f"training.{module}", "--data", str(data), "--out", str(out),
                             *SMALL], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    errors = [e["message"] for e in map(json.loads, result.stdout.splitlines()) if e["event"] == "error"]
    return result.returncode, (errors or [""])[0], result.stderr


def spoil(shapes: Path, tmp_path: Path, relative: str, edit) -> Path:
    """A copy of the world whose file ``relative`` is rewritten by ``edit(path, parsed JSON)``."""
    data = tmp_path / "data"
    shutil.copytree(shapes, data, ignore=shutil.ignore_patterns(".vqadesk-cache"))
    path = data / relative
    edit(path, json.loads(path.read_text()))
    return data


def first_question(field: str, value):
    def edit(path: Path, document: dict) -> None:
        document["questions"][0][field] = value
        path.write_text(json.dumps(document))
    return edit


def five_thousand_digits(path: Path, document: dict) -> None:
    hostile_files.five_thousand_digits(path, "question_id")


def fifo(path: Path, document: dict) -> None:
    hostile_files.fifo(path)


def lone_surrogate_caption(path: Path, document: dict) -> None:
    document["annotations"][2]["caption"] = "a \udc00 square"
    path.write_text(json.dumps(document))


Case = namedtuple("Case", "module relative edit expected")
CASES = {
    "surrogate-question": Case("vqa", QUESTIONS, first_question("question", "what \ud800?"),
                               "field 'questions[0].question': text with a lone UTF-16 surrogate"),
    "id-2**70": Case("vqa", QUESTIONS, first_question("question_id", 2**70),
                     "field 'questions[0].question_id': an integer of 22 digits, beyond the 64-bit range"),
    "5000-digits": Case("vqa", QUESTIONS, five_thousand_digits, ": a number of 5,000 digits at line 1"),
    "fifo": Case("vqa", QUESTIONS, fifo, ": is not a regular file (a FIFO)"),
    "surrogate-caption": Case("captioning", CAPTIONS, lone_surrogate_caption,
                              "field 'annotations[2].caption': text with a lone UTF-16 surrogate"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_file_is_one_line_naming_it(shapes, tmp_path, name):
    case = CASES[name]
    data = spoil(shapes, tmp_path, case.relative, case.edit)
    code, message, stderr = routine(case.module, data, tmp_path / "out")
    assert code == 1, stderr
    assert message.startswith(str(data / case.relative)) and case.expected in message
    assert "internal error" not in stderr and "Traceback" not in stderr


def test_an_out_that_is_a_file_or_under_a_file_is_refused_before_the_data_are_read(tmp_path):
    missing = tmp_path / "no-data"  # never read: --out is refused first
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    code, message, _ = routine("vqa", missing, blocker)
    assert code == 1 and message == f"{blocker}: --out is a file; it takes the folder the run's checkpoints go to"
    code, message, _ = routine("vqa", missing, blocker / "run")
    assert code == 1 and message.startswith(f"{blocker / 'run'}: --out is not writable (")


def test_a_disk_without_room_for_one_checkpoint_is_refused_before_the_first_step(shapes, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(out_folder.shutil, "disk_usage", lambda path: usage(10 << 20, 10 << 20, 100_000))
    config = TrainingConfig(task="vqa", data=str(shapes), out=str(tmp_path / "out"), batch_size=4, embed_dim=32,
                            hidden_dim=64, image_size=64, device="cpu", max_steps=1)
    events = []
    with pytest.raises(OutFolderError, match=r"--out's disk has 0\.1 MiB free; one checkpoint of this model needs"):
        events.extend(train(config, VqaTask()))
    assert events == []

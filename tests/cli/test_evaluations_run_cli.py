"""``vqadesk evaluations run``: the runner from the command line, into the user data folder, listed
by ``vqadesk evaluations list``; one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli_runs import assert_one_line_error, run
from tests.support.inference_models import tiny_models
from vqadesk.engine.torch_free.evaluations import evaluations_root, open_evaluation

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory)


def test_run_writes_into_the_user_data_folder_and_is_listed(models, capsys):
    code, out, err = run(capsys, "evaluations", "run", "--model", models.vqa, "--data", models.shapes,
                         "--split", "val", "--subset", 12, "--seed", 5, "--device", "cpu")
    assert code == 0, err
    headline, folder = out.strip().rsplit(": ", 1)
    assert headline.startswith("VQA accuracy ") and Path(folder).parent == evaluations_root()
    assert open_evaluation(folder).manifest.count == 12
    code, out, _ = run(capsys, "evaluations", "list", "--json")
    assert code == 0 and folder in out


def test_json_prints_the_manifest_and_a_too_big_subset_is_noted(models, tmp_path, capsys):
    code, out, err = run(capsys, "evaluations", "run", "--model", models.captioner, "--data", models.shapes,
                         "--split", "val", "--subset", 5000, "--out-root", tmp_path, "--json", "--device", "cpu")
    assert code == 0, err
    manifest = json.loads(out)
    assert manifest["kind"] == "captioning" and manifest["subset"] is None and manifest["headline"]["name"] == "CIDEr-D"
    assert "vqadesk: note: the subset of 5,000 is not smaller than the split" in err
    assert [p.name.endswith(".partial") for p in tmp_path.iterdir()] == [False]


def test_a_captioner_on_a_split_without_captions_is_one_line(models, tmp_path, capsys):
    data = tmp_path / "world"
    shutil.copytree(models.shapes, data)
    (data / "annotations" / "captions_val.json").unlink()
    code, _, err = run(capsys, "evaluations", "run", "--model", models.captioner, "--data", data, "--split", "val",
                       "--out-root", tmp_path / "out")
    assert_one_line_error(code, err, "split 'val' has no captions", "a captioner is evaluated on a split with")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_options_are_checked_before_anything_loads(models, capsys):
    with pytest.raises(SystemExit) as caught:
        run(capsys, "evaluations", "run", "--model", "shapes-vqa", "--data", models.shapes, "--split", "val",
            "--threads", "0")
    assert caught.value.code == 2 and "--threads: must be at least 1" in capsys.readouterr().err


def test_ctrl_c_mid_run_exits_130_and_keeps_nothing(models, tmp_path, capsys, monkeypatch):
    from vqadesk.engine.inference.predictor import Predictor

    answer = Predictor.ask_many
    calls = []

    def interrupted_on_the_second_batch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return answer(self, *args, **kwargs)

    monkeypatch.setattr(Predictor, "ask_many", interrupted_on_the_second_batch)
    code, out, err = run(capsys, "evaluations", "run", "--model", models.vqa, "--data", models.shapes,
                         "--split", "val", "--batch-size", 4, "--out-root", tmp_path, "--device", "cpu")
    assert code == 130 and out == "" and err.strip() == "vqadesk: interrupted"
    assert list(tmp_path.iterdir()) == []

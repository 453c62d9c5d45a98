"""``vqadesk shapes``: writes the world, prints where, and fails in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vqadesk.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["shapes", *args])
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_writes_train_and_val_by_default_and_prints_a_summary(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--out", str(tmp_path), "--images", "3")
    assert code == 0, err
    for split in ("train", "val"):
        assert len(list((tmp_path / split).glob("*.png"))) == 3
        assert f"{split}: 3 images" in out
        assert str(tmp_path / "vqa" / f"v2_OpenEnded_shapes_{split}_questions.json") in out
    assert "seed 0" in out and err == ""


def test_split_may_be_repeated_and_the_seed_changes_the_world(tmp_path, capsys):
    first = ["--out", str(tmp_path / "a"), "--split", "test", "--split", "extra", "--images", "2", "--seed", "5"]
    assert run_cli(capsys, *first)[0] == 0
    assert run_cli(capsys, "--out", str(tmp_path / "b"), "--split", "test", "--images", "2", "--seed", "6")[0] == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["annotations", "extra", "test", "vqa"]
    captions = [
        json.loads((tmp_path / d / "annotations" / "captions_test.json").read_text())["annotations"] for d in "ab"
    ]
    assert captions[0] != captions[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--images", "0"],
        ["--images", "-4"],
        ["--images", "many"],
        ["--seed", "1.5"],
        ["--size", "0"],
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path, capsys, args):
    code, out, err = run_cli(capsys, "--out", str(tmp_path / "w"), *args)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("vqadesk shapes: error:")
    assert "Traceback" not in err
    assert not (tmp_path / "w").exists()


def test_out_is_required(capsys):
    code, _, err = run_cli(capsys)
    assert code == 2 and "--out" in err


@pytest.mark.parametrize("split", ["../up", "a/b", "tr ain", "train_2", "annotations", "x" * 40, "é"])
def test_odd_split_names_are_refused_in_one_line(tmp_path, capsys, split):
    code, out, err = run_cli(capsys, "--out", str(tmp_path / "w"), "--split", split, "--images", "1")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("vqadesk: error:") and "split name" in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "up").exists()


def test_out_being_a_file_or_below_a_file_is_refused_in_one_line(tmp_path, capsys):
    a_file = tmp_path / "data.json"
    a_file.write_text("{}")
    for out_dir in (a_file, a_file / "world"):
        code, _, err = run_cli(capsys, "--out", str(out_dir), "--images", "1")
        assert code == 1
        assert len(err.strip().splitlines()) == 1 and str(out_dir) in err, err
    assert a_file.read_text() == "{}"


def test_too_many_images_is_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--out", str(tmp_path), "--images", "1000000")
    assert code == 1 and "number of images" in err


def test_a_real_process_exits_non_zero_without_a_traceback(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "vqadesk", "shapes", "--out", str(a_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr

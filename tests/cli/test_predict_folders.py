"""``vqadesk predict captions|vqa --images DIR`` on folders of any photos: names, formats, sidecars,
resume after Ctrl-C or a kill, settings mismatch, and one line for every mistake."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.support.cli_runs import assert_one_line_error, run
from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.cli import predict_cmd
from vqadesk.cli.main import main
from vqadesk.engine.precision import resolve_precision
from vqadesk.engine.torch_free.batch import FORMATS, load_results, progress_path, read_batch_results
from vqadesk.text.counts import plural

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]
ODD_NAMES = ["holiday photo.png", "IMG_1234.png", "Ünïcødé 写真.png", "2019/beach day.png", "2020/beach day.png"]


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def odd_folder(models: TinyModels, folder: Path, names: list[str] = ODD_NAMES) -> Path:
    """The Shapes photos under names a person would give them (and a broken one in 2020/)."""
    for name, source in zip(names, models.images()):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / name)
    if (folder / "2020").is_dir():
        (folder / "2020" / "broken.png").write_bytes(models.images()[0].read_bytes()[:300])
    return folder


def one_caption(capsys, models: TinyModels, photo: Path, *options: str) -> str:
    code, out, _ = run(capsys, "caption", photo, "--model", models.captioner, "--json", "--device", "cpu", *options)
    assert code == 0
    return json.loads(out)["captions"][0]["caption"]


def test_a_folder_of_any_names_gets_results_and_a_caption_file_beside_each_photo(capsys, models, tmp_path):
    photos = odd_folder(models, tmp_path / "my photos")
    out = tmp_path / "caps.json"
    code, stdout, err = run(capsys, "predict", "captions", "--images", photos, "--recursive", "--sidecar", "txt",
                            "--out", out, "--model", models.captioner, "--device", "cpu", "--batch-size", "2")
    assert code == 0, err
    assert stdout.startswith(f"wrote 5 captions of 6 images to {out} (json; model ")
    assert "wrote 5 caption files beside the photos" in stdout
    assert err.count("vqadesk: warning: skipped") == 1 and str(photos / "2020" / "broken.png") in err
    results = read_batch_results(out)
    assert sorted(row.key for row in results.rows) == sorted(ODD_NAMES)
    assert [f.key for f in results.failed] == ["2020/broken.png"]
    assert results.settings.recursive and results.settings.root == str(photos.resolve())
    for row in results.rows:
        # Own models run in the resolved --precision auto (docs/performance.md)
        assert row.precision == resolve_precision("auto", torch.device("cpu")) and row.model == str(models.captioner)
        assert row.caption == one_caption(capsys, models, row.path)  # as captioning the photo alone
        assert (photos / row.key).with_suffix(".txt").read_text(encoding="utf-8") == row.caption + "\n"
    assert not (photos / "2020" / "broken.txt").exists()


def test_formats_captions_and_the_default_results_file(capsys, models, tmp_path, monkeypatch):
    photos = odd_folder(models, tmp_path / "photos", ODD_NAMES[:3])
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(capsys, "predict", "captions", "--images", photos, "--format", "csv", "--captions", "2",
                            "--beam", "3", "--model", models.captioner, "--device", "cpu")
    assert code == 0, err
    out = tmp_path / "photos-captions.csv"  # DIR's name, in the current folder
    assert stdout.startswith(f"wrote 3 captions of 3 images to {out.name} (csv;")
    rows = read_batch_results(out).rows
    assert [len(row.captions) for row in rows] == [2, 2, 2] and rows[0].captions[0][0] != rows[0].captions[1][0]
    code, stdout, _ = run(capsys, "predict", "captions", "--images", photos, "--out", tmp_path / "r.jsonl",
                          "--captions", "2", "--model", models.captioner, "--device", "cpu")
    assert code == 0 and "(jsonl;" in stdout  # from the suffix
    assert [json.loads(line)["file_name"] for line in (tmp_path / "r.jsonl").read_text().splitlines()] == [
        row.key for row in rows]


def test_questions_of_a_folder_one_row_per_photo_and_question(capsys, models, tmp_path):
    photos = odd_folder(models, tmp_path / "photos", ODD_NAMES[:3])
    questions = tmp_path / "questions.txt"
    questions.write_text("what color is the circle?\n\n  \nhow many shapes are there?\n", encoding="utf-8")
    out = tmp_path / "answers.csv"
    code, stdout, err = run(capsys, "predict", "vqa", "--images", photos, "--questions-file", questions,
                            "--top-k", "2", "--out", out, "--model", models.vqa, "--device", "cpu")
    assert code == 0, err
    assert stdout.startswith("wrote 6 answers of 3 images")
    rows = read_batch_results(out).rows
    assert [(row.key, row.question) for row in rows[:2]] == [
        ("IMG_1234.png", "what color is the circle?"), ("IMG_1234.png", "how many shapes are there?")]
    code, single, _ = run(capsys, "ask", photos / "IMG_1234.png", "what color is the circle?", "--model", models.vqa,
                          "--json", "--top-k", "2", "--device", "cpu")
    expected = json.loads(single)["answers"]
    assert [(a, pytest.approx(s, abs=1e-6)) for a, s in rows[0].top_k] == [(e["answer"], e["score"]) for e in expected]
    assert rows[0].answer == expected[0]["answer"] and len(rows) == 6
    code, _, err = run(capsys, "predict", "vqa", "--images", photos, "--question", "is there a circle?",
                       "--question", "what shape?", "--out", tmp_path / "a.json", "--sidecar", "txt",
                       "--model", models.vqa, "--device", "cpu")
    assert code == 0, err
    lines = (photos / "IMG_1234.txt").read_text().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["is there a circle?", "what shape?"]


def test_mistakes_are_one_line_and_nothing_is_loaded_for_them(capsys, models, tmp_path):
    photos = odd_folder(models, tmp_path / "photos", ODD_NAMES[:2])
    common = ["--images", photos, "--out", tmp_path / "r.json", "--model", "no-such-model"]
    code, _, err = run(capsys, "predict", "vqa", *common, "--question", " \u200b ")
    assert_one_line_error(code, err, "--question: question 1 is empty")
    code, _, err = run(capsys, "predict", "vqa", *common, "--questions-file", tmp_path / "none.txt")
    assert_one_line_error(code, err, "none.txt: file not found")
    (tmp_path / "blank.txt").write_text("\n \n")
    code, _, err = run(capsys, "predict", "vqa", *common, "--questions-file", tmp_path / "blank.txt")
    assert_one_line_error(code, err, "blank.txt: holds no questions")
    code, _, err = run(capsys, "predict", "vqa", *common, "--question", "what?", "--format", "coco")
    assert_one_line_error(code, err, "--format coco holds captions only")
    code, _, err = run(capsys, "predict", "captions", "--images", tmp_path / "nowhere", "--model", "no-such-model")
    assert_one_line_error(code, err, "nowhere: does not exist")
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "predict", "captions", "--images", tmp_path / "empty", "--model", "no-such-model")
    assert_one_line_error(code, err, "holds no photos", "--recursive")
    assert not (tmp_path / "r.json").exists()
    assert predict_cmd.FORMATS == FORMATS  # the options name the engine's formats without importing it
    with pytest.raises(SystemExit) as usage:
        main(["predict", "vqa", "--images", str(photos), "--questions", "q.json", "--out", "r.json", "--recursive"])
    assert usage.value.code == 2 and "--recursive: for folder runs" in capsys.readouterr().err


def test_a_rerun_skips_what_is_done_and_other_settings_are_refused(capsys, models, tmp_path):
    photos = odd_folder(models, tmp_path / "photos", ODD_NAMES[:3])
    out = tmp_path / "caps.json"
    base = ["predict", "captions", "--images", photos, "--out", out, "--model", models.captioner, "--device", "cpu"]
    assert run(capsys, *base)[0] == 0
    first = out.read_bytes()
    code, _, err = run(capsys, *base, "--format", "json")
    assert code == 0 and "3 photos already done" in err
    assert out.read_bytes() == first
    code, _, err = run(capsys, *base, "--beam", "1")
    assert_one_line_error(code, err, f"{progress_path(out)}: made with other settings (beam 1 (was 3))",
                          "--restart starts afresh")
    code, _, err = run(capsys, *base, "--beam", "1", "--restart")
    assert code == 0 and "already done" not in err
    assert load_results(progress_path(out)).settings.beam == 1


def test_a_coco_named_folder_gets_the_official_results_file_without_its_strays(capsys, models, tmp_path):
    photos = tmp_path / "val"
    shutil.copytree(models.shapes / "val", photos)
    shutil.copy(models.images()[0], photos / "holiday.png")
    code, stdout, err = run(capsys, "predict", "captions", "--images", photos, "--out", tmp_path / "r.json",
                            "--model", models.captioner, "--device", "cpu")
    assert code == 0 and stdout.startswith("wrote 12 captions of 12 images") and "(coco;" in stdout
    assert "1 image in" in err and "no COCO id" in err and "holiday.png" in err
    entries = json.loads((tmp_path / "r.json").read_text())
    assert len(entries) == 12 and list(entries[0]) == ["image_id", "caption"]


def start_run(models: TinyModels, photos: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "vqadesk", "predict", "captions", "--images", str(photos), "--out", str(out),
         "--model", str(models.captioner), "--device", "cpu", "--batch-size", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_lines(progress: Path, lines: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if progress.exists() and progress.read_bytes().count(b"\n") >= lines:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{progress} did not reach {lines} lines")


def test_ctrl_c_and_a_kill_keep_every_finished_photo_and_the_same_command_goes_on(capsys, models, tmp_path):
    photos = tmp_path / "many"
    photos.mkdir()
    sources = models.images()
    for n in range(300):
        os.link(sources[n % len(sources)], photos / f"photo {n:03d}.png")
    out = tmp_path / "caps.jsonl"
    progress = progress_path(out)

    interrupted = start_run(models, photos, out)
    wait_for_lines(progress, 4, interrupted)
    interrupted.send_signal(signal.SIGINT)
    _, err = interrupted.communicate(timeout=120)
    assert interrupted.returncode == 130, err
    assert "kept in" in err and "run the same command to go on" in err and "Traceback" not in err
    assert not out.exists()
    kept = len(load_results(progress).rows)
    assert 3 <= kept < 300

    killed = start_run(models, photos, out)
    wait_for_lines(progress, kept + 1 + 3, killed)
    killed.kill()
    killed.communicate(timeout=120)
    after_kill = len(load_results(progress).rows)
    assert after_kill >= kept + 3

    code, stdout, err = run(capsys, "predict", "captions", "--images", photos, "--out", out,
                            "--model", models.captioner, "--device", "cpu", "--batch-size", "50")
    assert code == 0 and f"{plural(after_kill, 'photo')} already done" in err
    resumed = read_batch_results(out).rows
    assert [row.key for row in resumed] == [f"photo {n:03d}.png" for n in range(300)]  # each once, in order
    fresh_out = tmp_path / "fresh.jsonl"
    assert run(capsys, "predict", "captions", "--images", photos, "--out", fresh_out, "--model", models.captioner,
               "--device", "cpu", "--batch-size", "50")[0] == 0
    assert [row.caption for row in resumed] == [row.caption for row in read_batch_results(fresh_out).rows]


@pytest.fixture(scope="module")
def tiny_blip_captioner(tmp_path_factory) -> Path:
    from tests.support.tiny_captioners import build_blip

    return build_blip(tmp_path_factory.mktemp("captioner") / "blip").folder


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_rows_record_the_precision_a_pretrained_model_ran_in(capsys, models, tiny_blip_captioner, tmp_path,
                                                             precision):
    photos = odd_folder(models, tmp_path / "photos", ODD_NAMES[:2])
    out = tmp_path / "r.json"
    code, _, err = run(capsys, "predict", "captions", "--images", photos, "--out", out, "--model",
                       tiny_blip_captioner, "--precision", precision, "--device", "cpu")
    assert code == 0, err
    results = read_batch_results(out)
    assert results.settings.precision == precision and results.settings.model == str(tiny_blip_captioner)
    assert [row.precision for row in results.rows] == [precision, precision]

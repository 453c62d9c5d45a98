"""``vqadesk ask``, ``caption`` and ``predict``: JSON schemas, readable output, results files, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.support.cli_runs import assert_one_line_error, run
from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.cli.main import main
from vqadesk.engine.torch_free import model_registry
from vqadesk.metrics.results_io import read_caption_results, read_vqa_results

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture
def image(models) -> Path:
    return models.images()[0]


def questions_file(models: TinyModels) -> Path:
    return models.shapes / "vqa" / "v2_OpenEnded_shapes_val_questions.json"


# -- ask ---------------------------------------------------------------------------------------


def test_ask_json_schema(capsys, models, image):
    code, out, _ = run(capsys, "ask", image, "what color is the circle?", "--model", models.vqa,
                       "--top-k", "3", "--device", "cpu", "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["question", "answers", "attention", "attention_region", "model", "timings_ms"]
    assert document["attention_region"] == "centre-square"
    assert document["question"] == "what color is the circle?"
    assert document["model"] == str(models.vqa)
    answers = document["answers"]
    assert len(answers) == 3
    for answer in answers:
        assert list(answer) == ["answer", "score"]
        assert isinstance(answer["answer"], str) and isinstance(answer["score"], float)
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    grid = document["attention"]
    assert isinstance(grid, list) and all(isinstance(row, list) and len(row) == len(grid) for row in grid)
    assert all(isinstance(cell, float) for row in grid for cell in row)
    assert sum(map(sum, grid)) == pytest.approx(1.0, abs=1e-4)
    timings = document["timings_ms"]
    assert set(timings) == {"load_image", "encode", "answer", "total", "load_model"}
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())


def test_ask_json_without_attention_is_null(capsys, models, image):
    code, out, _ = run(capsys, "ask", image, "how many shapes?", "--model", models.bow, "--json")
    assert code == 0 and json.loads(out)["attention"] is None


def test_ask_prints_a_readable_list(capsys, models, image):
    code, out, err = run(capsys, "ask", image, "what color is the circle?", "--model", models.vqa, "--top-k", "4")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Q: what color is the circle?"
    assert [line.split(".")[0].strip() for line in lines[1:5]] == ["1", "2", "3", "4"]
    assert all("%" in line for line in lines[1:5])
    assert lines[5].startswith(f"model {models.vqa} on CPU")


def test_ask_takes_any_unicode_and_undecodable_bytes(capsys, models, image):
    for question in ("¿de qué color es el círculo? 🔴", "what\udcff colour?"):  # \udcff: the byte 0xff in argv
        code, out, err = run(capsys, "ask", image, question, "--model", models.vqa, "--json")
        assert code == 0, err
        assert out.isascii() and json.loads(out)["question"] == question
        code, out, err = run(capsys, "ask", image, question, "--model", models.vqa)
        assert code == 0 and out.startswith("Q: ")


def test_ask_in_a_fresh_process_prints_one_json_document(models, image):
    result = subprocess.run(
        [sys.executable, "-m", "vqadesk", "ask", str(image), "what shape is red?", "--model", str(models.vqa),
         "--json", "--device", "cpu"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["answers"]) == 5


# -- caption -----------------------------------------------------------------------------------


def test_caption_json_schema(capsys, models, image):
    code, out, _ = run(capsys, "caption", image, "--model", models.captioner, "--beam", "3", "--captions", "2",
                       "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["captions", "attention_region", "model", "timings_ms"]
    captions = document["captions"]
    assert len(captions) == 2 and captions[0]["caption"] != captions[1]["caption"]
    for caption in captions:
        assert list(caption) == ["caption", "score", "words"]
        assert isinstance(caption["caption"], str) and isinstance(caption["score"], float)
        assert caption["caption"] == " ".join(w["word"] for w in caption["words"])
        for word in caption["words"]:
            assert list(word) == ["word", "prob"]
            assert isinstance(word["word"], str) and 0 < word["prob"] <= 1
    assert set(document["timings_ms"]) == {"load_image", "encode", "decode", "total", "load_model"}


def test_caption_prints_readable_lines(capsys, models, image):
    code, out, _ = run(capsys, "caption", image, "--model", models.captioner, "--captions", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("  1. ") and "(score -" in lines[0]
    assert lines[1].startswith("  2. ")
    assert lines[2].startswith(f"model {models.captioner} on CPU")


# -- predict -------------------------------------------------------------------------------------


def test_predict_vqa_writes_results_that_evaluate_accepts(capsys, models, tmp_path):
    questions = questions_file(models)
    results = tmp_path / "results.json"
    code, out, _ = run(capsys, "predict", "vqa", "--questions", questions, "--images", models.shapes / "val",
                       "--out", results, "--model", models.vqa, "--batch-size", "7")
    assert code == 0 and out.startswith("wrote 120 answers of 120 questions")
    entries = read_vqa_results(results)
    asked = [q["question_id"] for q in json.loads(questions.read_text())["questions"]]
    assert [e.question_id for e in entries] == asked
    # The same answers as asking one at a time.
    first = json.loads(questions.read_text())["questions"][0]
    image = next((models.shapes / "val").glob(f"*_{first['image_id']:012d}.png"))
    code, single, _ = run(capsys, "ask", image, first["question"], "--model", models.vqa, "--json", "--top-k", "1")
    assert entries[0].answer == json.loads(single)["answers"][0]["answer"]

    code, out, err = run(capsys, "evaluate", "vqa", "--questions", questions, "--annotations",
                         models.shapes / "vqa" / "v2_shapes_val_annotations.json", "--results", results, "--json")
    assert code == 0, err
    assert 0 <= json.loads(out)["overall"] <= 100


def test_predict_captions_writes_results_that_evaluate_accepts(capsys, models, tmp_path):
    results = tmp_path / "captions.json"
    images = tmp_path / "images"
    shutil.copytree(models.shapes / "val", images)
    shutil.copy(images / sorted(os.listdir(images))[0], images / "holiday.png")  # no id in the name
    code, out, err = run(capsys, "predict", "captions", "--images", images, "--out", results,
                         "--model", models.captioner, "--beam", "2", "--batch-size", "5")
    assert code == 0 and out.startswith("wrote 12 captions of 12 images")
    assert "1 image in" in err and "no COCO id" in err
    entries = read_caption_results(results)
    assert len(entries) == 12 and [e.image_id for e in entries] == sorted(e.image_id for e in entries)
    code, out, err = run(capsys, "evaluate", "captions", "--annotations",
                         models.shapes / "annotations" / "captions_val.json", "--results", results, "--json")
    assert code == 0, err
    assert {"BLEU-4", "CIDEr"} <= set(json.loads(out))


def damaged_copy(models: TinyModels, folder: Path) -> tuple[Path, Path]:
    shutil.copytree(models.shapes / "val", folder)
    victim = sorted(folder.glob("*.png"))[3]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    return folder, victim


def test_predict_vqa_stops_at_an_unreadable_image(capsys, models, tmp_path):
    images, victim = damaged_copy(models, tmp_path / "images")
    results = tmp_path / "results.json"
    code, _, err = run(capsys, "predict", "vqa", "--questions", questions_file(models), "--images", images,
                       "--out", results, "--model", models.vqa)
    assert_one_line_error(code, err, str(victim), "--skip-unreadable")
    assert not results.exists()


def test_predict_vqa_can_skip_unreadable_images(capsys, models, tmp_path):
    images, victim = damaged_copy(models, tmp_path / "images")
    results = tmp_path / "results.json"
    code, out, err = run(capsys, "predict", "vqa", "--questions", questions_file(models), "--images", images,
                         "--out", results, "--model", models.vqa, "--skip-unreadable", "--batch-size", "16")
    assert code == 0 and out.startswith("wrote 110 answers of 120 questions")
    assert err.count("warning: skipped") == 1 and str(victim) in err
    assert len(read_vqa_results(results)) == 110


def test_predict_vqa_names_the_images_it_cannot_find(capsys, models, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(models.shapes / "val", images)
    for path in sorted(images.glob("*.png"))[:2]:
        path.unlink()
    code, _, err = run(capsys, "predict", "vqa", "--questions", questions_file(models), "--images", images,
                       "--out", tmp_path / "r.json", "--model", models.vqa)
    assert_one_line_error(code, err, "no image file for 2 image ids", "2000001, 2000002")
    code, _, err = run(capsys, "predict", "captions", "--images", tmp_path / "nowhere", "--out", tmp_path / "r.json",
                       "--model", models.captioner)
    assert_one_line_error(code, err, "nowhere: does not exist")
    code, _, err = run(capsys, "predict", "captions", "--images", models.shapes / "val", "--out", tmp_path,
                       "--model", models.captioner)
    assert_one_line_error(code, err, "is a folder; --out takes a file name")


def test_predict_vqa_names_empty_questions(capsys, models, tmp_path):
    document = json.loads(questions_file(models).read_text())
    document["questions"][2]["question"] = "  "
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(document))
    code, _, err = run(capsys, "predict", "vqa", "--questions", questions, "--images", models.shapes / "val",
                       "--out", tmp_path / "r.json", "--model", models.vqa)
    qid = document["questions"][2]["question_id"]
    assert_one_line_error(code, err, "1 question is empty", f"question_id {qid}")


# -- bad input ------------------------------------------------------------------------------------


def test_unreadable_image_is_one_line(capsys, models, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is not a JPEG")
    code, out, err = run(capsys, "ask", fake, "what color is the circle?", "--model", models.vqa)
    assert_one_line_error(code, err, str(fake), "not an image")
    assert out == ""
    code, _, err = run(capsys, "caption", tmp_path / "missing.png", "--model", models.captioner)
    assert_one_line_error(code, err, "missing.png", "file not found")


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_one_line(capsys, image, question):
    code, _, err = run(capsys, "ask", image, question, "--model", "no-such-model-is-loaded-first")
    assert_one_line_error(code, err, "the question is empty")


def test_unknown_model_name_lists_the_names(capsys, models, image, tmp_path, monkeypatch):
    monkeypatch.setattr(model_registry, "bundled_models_dir", lambda: tmp_path / "bundled")
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    folder = tmp_path / "user" / "models"
    folder.mkdir(parents=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy(models.vqa.with_suffix(suffix), folder / f"my-attention{suffix}")
    code, _, err = run(capsys, "ask", image, "what color is the circle?", "--model", "shapes-vqq")
    assert_one_line_error(code, err, "unknown model name 'shapes-vqq'", "my-attention (attention VQA model")
    code, out, _ = run(capsys, "ask", image, "what color is the circle?", "--model", "my-attention", "--json")
    assert code == 0 and json.loads(out)["model"] == "my-attention"


def test_pickled_model_is_refused_without_unpickling(capsys, image, tmp_path):
    pickled = tmp_path / "model.pth"
    torch.save({"weight": torch.zeros(1)}, pickled)
    code, _, err = run(capsys, "ask", image, "what color is the circle?", "--model", pickled)
    assert_one_line_error(code, err, str(pickled), "pickled PyTorch file", "never unpickles")


def test_a_checkpoint_of_the_wrong_kind_is_one_line(capsys, models, image):
    code, _, err = run(capsys, "ask", image, "what color is the circle?", "--model", models.captioner)
    assert_one_line_error(code, err, "is a captioning checkpoint, not a vqa model")
    code, _, err = run(capsys, "caption", image, "--model", models.vqa)
    assert_one_line_error(code, err, "is a vqa checkpoint, not a captioning model")


def test_corrupt_and_foreign_checkpoints_are_one_line(capsys, models, image, tmp_path):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text(models.vqa.read_text()[:300])
    shutil.copy(models.vqa.with_suffix(".safetensors"), tmp_path / "corrupt.safetensors")
    code, _, err = run(capsys, "ask", image, "what?", "--model", corrupt)
    assert_one_line_error(code, err, str(corrupt))
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"format": "something-else", "weights": []}')
    code, _, err = run(capsys, "caption", image, "--model", foreign)
    assert_one_line_error(code, err, str(foreign))


def test_bad_options_are_usage_errors(capsys, image):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", str(image), "what?", "--top-k", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["caption", str(image), "--beam", "none"])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err

"""``vqadesk evaluations list|show|delete|report|export`` and ``vqadesk compare-results``."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.cli_runs import assert_one_line_error, run
from tests.support.evaluation_folders import (
    maps_for,
    real_caption_entries,
    real_vqa_entries,
    with_answers,
    write_caption_evaluation,
    write_vqa_evaluation,
    write_vqa_ground_truth,
)
from vqadesk.engine.torch_free.evaluations import evaluations_root, open_evaluation


@pytest.fixture
def entries(coco_real):
    return real_vqa_entries(coco_real)


@pytest.fixture
def vqa_a(entries, coco_real, user_data) -> Path:
    return write_vqa_evaluation(evaluations_root(), entries, dataset=coco_real, maps=maps_for(entries))


@pytest.fixture
def vqa_b(entries, coco_real, user_data) -> Path:
    changed = with_answers(entries, {785000: "skiing", 14439001: "no", 39769000: "2"})
    return write_vqa_evaluation(evaluations_root(), changed, dataset=coco_real, label="retrained",
                                created=datetime(2026, 12, 2, tzinfo=UTC))


@pytest.fixture
def captions(coco_real, user_data) -> Path:
    return write_caption_evaluation(evaluations_root(), real_caption_entries(coco_real), dataset=coco_real)


def test_list(capsys, vqa_a, captions):
    bad = evaluations_root() / "20250101-000000-bad-val"
    bad.mkdir()
    code, out, _ = run(capsys, "evaluations", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith("20261201-110000-tiny-captioner-val  tiny captioner on val: CIDEr-D ")
    assert lines[1].startswith("20261201-100000-tiny-vqa-val  tiny vqa on val: VQA accuracy 68.81, 42 questions")
    assert lines[2].startswith("20250101-000000-bad-val  damaged: ") and "file not found" in lines[2]
    code, out, _ = run(capsys, "evaluations", "list", "--json")
    listed = json.loads(out)["evaluations"]
    assert [e["name"] for e in listed] == [captions.name, vqa_a.name, bad.name]
    assert listed[1]["manifest"]["count"] == 42 and listed[2]["damaged"]


def test_list_empty(capsys, user_data):
    code, out, _ = run(capsys, "evaluations", "list")
    assert code == 0 and out.startswith("No evaluations in ")


def test_show_prints_the_stored_metrics(capsys, vqa_a, captions):
    code, out, _ = run(capsys, "evaluations", "show", "20261201-10")
    assert code == 0
    for part in ("tiny vqa (test:tiny vqa) on val", "overall   68.81", "Correctness: 28 right", "ECE 0.3455",
                 "Yes/no confusion (14 questions", "Counting confusion (9 questions"):
        assert part in out
    code, out, _ = run(capsys, "evaluations", "show", str(captions))
    assert code == 0 and "CIDEr" in out and "Per-image CIDEr-D: min 0.000" in out
    code, out, _ = run(capsys, "evaluations", "show", vqa_a.name, "--json")
    document = json.loads(out)
    assert document["manifest"]["model"]["label"] == "tiny vqa" and document["metrics"]["overall"] == 68.81


def test_show_errors(capsys, vqa_a, captions):
    code, _, err = run(capsys, "evaluations", "show", "2026")
    assert_one_line_error(code, err, "'2026' names 2 evaluations", "give more of the name")
    code, _, err = run(capsys, "evaluations", "show", "nothing-here")
    assert_one_line_error(code, err, "nothing-here: no such evaluation folder")
    metrics = json.loads((vqa_a / "metrics.json").read_text())
    del metrics["yesNoConfusion"]
    (vqa_a / "metrics.json").write_text(json.dumps(metrics))
    code, _, err = run(capsys, "evaluations", "show", vqa_a.name)
    assert_one_line_error(code, err, "metrics.json: not the document 'vqadesk evaluate --json' writes")


def test_delete_asks_first(capsys, vqa_a, vqa_b, monkeypatch):
    code, _, err = run(capsys, "evaluations", "delete", vqa_a.name)
    assert_one_line_error(code, err, "not going to delete 20261201-100000-tiny-vqa-val without asking: pass --yes")
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    code, out, err = run(capsys, "evaluations", "delete", vqa_a.name, vqa_b.name)
    assert code == 1 and "nothing deleted" in out and vqa_a.is_dir()
    assert "Delete 2 evaluations? [y/N]" in err  # the question goes to stderr
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    code, out, err = run(capsys, "evaluations", "delete", vqa_a.name)
    assert code == 0 and "Delete 20261201-100000-tiny-vqa-val? [y/N]" in err and not vqa_a.exists()
    code, out, _ = run(capsys, "evaluations", "delete", "--yes", vqa_b.name)
    assert code == 0 and not vqa_b.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _images(html: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data)))
            for data in re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)]


def test_report_vqa(capsys, vqa_a, tmp_path):
    out = tmp_path / "report.html"
    code, stdout, _ = run(capsys, "evaluations", "report", vqa_a.name, "--out", out, "--mistakes", "5")
    assert code == 0 and str(out) in stdout
    html = out.read_text()
    assert html.count("<svg") == 3  # answer types, question types, calibration
    assert "expected calibration error 0.3455" in html and "Yes/no questions" in html
    assert "The 5 most confident mistakes (of 14 questions not fully right)" in html
    questions = re.findall(r"<section><h3>(.*?)</h3>", html)
    rows = open_evaluation(vqa_a).rows
    wrong = sorted((r for r in rows if r.accuracy < 100), key=lambda r: r.score, reverse=True)
    assert questions == [r.question.replace("'", "&#x27;") for r in wrong[:5]]
    pictures = _images(html)
    assert len(pictures) == 10 and all(max(p.size) == 256 for p in pictures)  # photo + map for each
    photo, overlaid = pictures[0], pictures[1]
    assert photo.size == overlaid.size and (np.asarray(photo) != np.asarray(overlaid)).any()
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # written atomically, nothing left over


def test_report_names_a_missing_photo_and_defaults_to_the_current_folder(capsys, vqa_a, tmp_path, monkeypatch,
                                                                         coco_real):
    moved = tmp_path / "moved"
    shutil.copytree(coco_real, moved)
    manifest = json.loads((vqa_a / "evaluation.json").read_text())
    manifest["dataset"] = str(moved)
    (vqa_a / "evaluation.json").write_text(json.dumps(manifest))
    first_wrong = max((r for r in open_evaluation(vqa_a).rows if r.accuracy < 100), key=lambda r: r.score)
    (moved / first_wrong.image).unlink()
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "evaluations", "report", vqa_a.name)
    html = (tmp_path / f"{vqa_a.name}.html").read_text()
    assert code == 0 and f"{first_wrong.image}: file not found" in html
    assert len(_images(html)) == 2 * 13  # 14 mistakes in all (fewer than 24): 13 with a photo and a map


def test_report_captions(capsys, captions, tmp_path):
    code, _, _ = run(capsys, "evaluations", "report", captions.name, "--out", tmp_path / "c.html")
    html = (tmp_path / "c.html").read_text()
    assert code == 0 and "Per-image CIDEr-D" in html and html.count("<svg") == 1
    assert "The 15 lowest-scored captions" in html and len(_images(html)) == 15  # no maps stored


def test_export_csv(capsys, vqa_a, captions, tmp_path):
    code, out, _ = run(capsys, "evaluations", "export", vqa_a.name, "--out", tmp_path / "all.csv")
    assert code == 0 and "42 rows written" in out
    lines = list(csv.DictReader((tmp_path / "all.csv").open(encoding="utf-8", newline="")))
    assert len(lines) == 42 and lines[0]["question_id"] == "785000" and lines[0]["right"] == "0"
    assert lines[0]["top_k"] == "dog:0.3100|skiing:0.3450" and len(lines[0]["human_answers"].split("|")) == 10
    code, out, _ = run(capsys, "evaluations", "export", vqa_a.name, "--wrong", "--out", tmp_path / "wrong.csv")
    assert code == 0 and "14 rows written" in out
    code, _, _ = run(capsys, "evaluations", "export", captions.name, "--out", tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8", newline="")))
    assert code == 0 and len(rows) == 15 and len(rows[0]["references"].split("|")) == 2
    code, _, err = run(capsys, "evaluations", "export", captions.name, "--wrong")
    assert_one_line_error(code, err, "--wrong is for VQA evaluations")
    code, _, err = run(capsys, "evaluations", "export", vqa_a.name, "--out", tmp_path / "no" / "x.csv")
    assert_one_line_error(code, err, "x.csv: the folder", "does not exist")


def test_compare_folders(capsys, vqa_a, vqa_b):
    code, out, _ = run(capsys, "compare-results", vqa_a.name, "20261202", "--json")
    document = json.loads(out)
    a_rows, b_rows = open_evaluation(vqa_a).rows, open_evaluation(vqa_b).rows
    expected_a = [r.question_id for r in a_rows if r.accuracy == 100 and b_rows.by_id(r.question_id).accuracy < 100]
    expected_b = [r.question_id for r in a_rows if r.accuracy < 100 and b_rows.by_id(r.question_id).accuracy == 100]
    assert code == 0 and document["aRightBWrong"] == expected_a and document["bRightAWrong"] == expected_b
    assert expected_b == [785000, 39769000] and expected_a == [14439001]
    overall = document["overall"][0]
    assert overall["difference"] == round(overall["b"] - overall["a"], 4)
    code, out, _ = run(capsys, "compare-results", vqa_a.name, vqa_b.name)
    assert code == 0 and "Right in A, wrong in B: 1 question" in out and "Right in B, wrong in A: 2 questions" in out


def test_compare_mismatches_are_one_line(capsys, vqa_a, captions, entries, coco_real):
    code, _, err = run(capsys, "compare-results", vqa_a.name, captions.name)
    assert_one_line_error(code, err, "evaluates a vqa model", "only evaluations of the same kind can be compared")
    other_split = write_vqa_evaluation(evaluations_root(), entries, dataset=coco_real, split="train")
    code, _, err = run(capsys, "compare-results", vqa_a.name, other_split.name)
    assert_one_line_error(code, err, "is on the split 'val'", "on 'train'")
    subset = write_vqa_evaluation(evaluations_root(), entries[:30], dataset=coco_real, label="subset",
                                  subset={"size": 30, "seed": 1})
    code, _, err = run(capsys, "compare-results", vqa_a.name, subset.name)
    assert_one_line_error(code, err, "were not evaluated on the same questions: 12 questions only in "
                                     "20261201-100000-tiny-vqa-val (question_id ")


def test_compare_results_files_against_ground_truth(capsys, entries, tmp_path):
    questions, annotations = write_vqa_ground_truth(tmp_path / "gt", entries)
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps([{"question_id": e.question_id, "answer": e.answer} for e in entries]))
    b.write_text(json.dumps([{"question_id": e.question_id, "answer": e.human_answers[0]} for e in entries]))
    code, out, err = run(capsys, "compare-results", a, b, "--questions", questions, "--annotations", annotations,
                         "--json")
    document = json.loads(out)
    assert code == 0, err
    assert document["overall"][0]["b"] == 100.0 and document["aRightBWrong"] == []
    assert len(document["bRightAWrong"]) == 14
    code, _, err = run(capsys, "compare-results", a, b, "--questions", questions)
    assert_one_line_error(code, err, "two VQA results files need both --questions and --annotations")
    code, _, err = run(capsys, "compare-results", a, b)
    assert_one_line_error(code, err, "a.json: a results file; comparing two results files needs the ground truth")
    b.write_text(json.dumps([{"question_id": e.question_id, "answer": "yes"} for e in entries[1:]]))
    code, _, err = run(capsys, "compare-results", a, b, "--questions", questions, "--annotations", annotations)
    assert_one_line_error(code, err, "b.json: results must answer exactly the 42 evaluated questions")


def test_evaluate_json_is_the_stored_metrics(capsys, vqa_a, entries, tmp_path):
    """CLI parity: ``vqadesk evaluate vqa --json`` on a folder's results.json prints its metrics.json."""
    questions, annotations = write_vqa_ground_truth(tmp_path / "gt", entries)
    code, out, err = run(capsys, "evaluate", "vqa", "--questions", questions, "--annotations", annotations,
                         "--results", vqa_a / "results.json", "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == json.loads((vqa_a / "metrics.json").read_text())


def test_show_without_probabilities(capsys, entries, coco_real, user_data):
    from dataclasses import replace

    folder = write_vqa_evaluation(evaluations_root(), [replace(e, score=None, top_k=()) for e in entries],
                                  dataset=coco_real)
    code, out, _ = run(capsys, "evaluations", "show", folder.name)
    assert code == 0 and out.rstrip().endswith("No calibration: the results carry no probabilities")
    assert "ECE" not in out

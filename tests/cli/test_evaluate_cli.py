"""``vqadesk evaluate vqa|captions``: exit codes, one-line errors, JSON schemas.

Runs ``vqadesk.cli.main.main`` in process with only the evaluate command
registered, so these tests do not depend on the other sub-commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.json_files import human_answers, write
from vqadesk.cli import main as cli_main
from vqadesk.jsonio import read_json
from vqadesk.metrics.results_io import (
    CaptionResult,
    VqaResult,
    read_caption_results,
    read_vqa_results,
    write_caption_results,
    write_vqa_results,
)


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("vqadesk.cli.evaluate_cmd",))

    def run_cli(*argv: str) -> tuple[int, str, str]:
        code = cli_main.main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_cli




@pytest.fixture
def vqa_files(tmp_path: Path) -> dict[str, Path]:
    questions = {
        "questions": [
            {"image_id": 10, "question": "Is it sunny?", "question_id": 100},
            {"image_id": 10, "question": "How many dogs?", "question_id": 101},
            {"image_id": 11, "question": "What color is the car?", "question_id": 102},
        ]
    }
    annotations = {
        "annotations": [
            {"question_id": 100, "image_id": 10, "question_type": "is it", "answer_type": "yes/no",
             "multiple_choice_answer": "yes", "answers": human_answers(*["yes"] * 10)},
            {"question_id": 101, "image_id": 10, "question_type": "how many", "answer_type": "number",
             "multiple_choice_answer": "2", "answers": human_answers("2", *["3"] * 9)},
            {"question_id": 102, "image_id": 11, "question_type": "what color is the", "answer_type": "other",
             "multiple_choice_answer": "red", "answers": human_answers(*["red"] * 5, *["blue"] * 5)},
        ]
    }
    results = [{"question_id": 100, "answer": "yes"}, {"question_id": 101, "answer": "Two"},
               {"question_id": 102, "answer": "green"}]
    return {
        "questions": write(tmp_path / "q.json", questions),
        "annotations": write(tmp_path / "a.json", annotations),
        "results": write(tmp_path / "r.json", results),
    }


def vqa_args(files: dict[str, Path], *extra: str) -> list[str]:
    return ["evaluate", "vqa", "--questions", files["questions"], "--annotations", files["annotations"],
            "--results", files["results"], *extra]


# -- VQA ------------------------------------------------------------------------------------


def test_vqa_json_is_one_document_with_official_keys(run, vqa_files):
    code, out, err = run(*vqa_args(vqa_files, "--json"))
    assert code == 0, err
    report = json.loads(out)
    # The official keys first and unchanged, then vqadesk's analysis (docs/evaluate.md).
    assert list(report)[:4] == ["overall", "perAnswerType", "perQuestionType", "perQuestion"]
    assert set(report) - {"overall", "perAnswerType", "perQuestionType", "perQuestion"} == {
        "rules", "numQuestions", "answerTypeCounts", "questionTypeCounts", "correctness", "yesNoConfusion",
        "countConfusion"}
    assert "calibration" not in report and "no calibration" in err  # these results carry no "score"
    assert report["overall"] == 43.33
    assert report["perAnswerType"] == {"yes/no": 100.0, "number": 30.0, "other": 0.0}
    assert report["perQuestionType"]["how many"] == 30.0
    assert report["perQuestion"] == {"100": 100.0, "101": 30.0, "102": 0.0}


def test_vqa_table(run, vqa_files):
    code, out, err = run(*vqa_args(vqa_files))
    assert code == 0 and err == ""
    assert out.endswith('No calibration: 3 results of 3 have no "score" (the model\'s probability of its answer)\n')
    assert "official rules" in out and "3 questions" in out
    assert "43.33" in out
    lines = out.splitlines()
    worst = lines[lines.index(next(line for line in lines if line.startswith("Worst question types"))) + 1]
    assert "what color is the" in worst and "(1 question)" in worst


def test_vqa_legacy_rules(run, vqa_files):
    write(vqa_files["results"], [{"question_id": 100, "answer": "Yes"}, {"question_id": 101, "answer": "Two"},
                                 {"question_id": 102, "answer": "green"}])
    _, out, _ = run(*vqa_args(vqa_files, "--json"))
    assert json.loads(out)["perQuestion"]["100"] == 0.0  # official: "Yes" != ten "yes"
    _, out, _ = run(*vqa_args(vqa_files, "--json", "--rules", "legacy"))
    assert json.loads(out)["perQuestion"]["100"] == 100.0


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([{"question_id": 100, "answer": "yes"}], "2 evaluated questions without an answer (question_id 101, 102)"),
        ([{"question_id": 100, "answer": "yes"}, {"question_id": 101, "answer": "2"},
          {"question_id": 102, "answer": "red"}, {"question_id": 7, "answer": "x"}],
         "1 answer to questions that are not evaluated (question_id 7)"),
        ([{"question_id": 100, "answer": "yes"}, {"question_id": 101, "answer": "2"},
          {"question_id": 102, "answer": "red"}, {"question_id": 102, "answer": "x"}],
         "1 question answered more than once (question_id 102)"),
    ],
)
def test_vqa_results_that_do_not_fit_are_one_line_errors(run, vqa_files, results, expected):
    write(vqa_files["results"], results)
    code, out, err = run(*vqa_args(vqa_files, "--json"))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("vqadesk: error: ")
    assert str(vqa_files["results"]) in err and expected in err


@pytest.mark.parametrize(
    ("results", "field"),
    [
        ({"question_id": 100}, None),
        ([{"question_id": "100", "answer": "yes"}], "[0].question_id"),
        ([{"question_id": 100, "answer": 2}], "[0].answer"),
        ([{"question_id": 100, "answer": "yes"}, {"answer": "no"}], "[1].question_id"),
        ([{"question_id": 100, "answer": "yes"}, "no"], "[1]"),
        ([{"question_id": 100, "answer": "yes", "score": "high"}], "[0].score"),
        ([{"question_id": 100, "answer": "yes", "score": 1.5}], "[0].score"),
    ],
)
def test_malformed_results_name_the_file_and_field(run, vqa_files, results, field):
    write(vqa_files["results"], results)
    code, _, err = run(*vqa_args(vqa_files))
    assert code == 1
    assert err.count("\n") == 1 and str(vqa_files["results"]) in err
    if field:
        assert f"field '{field}'" in err


def test_vqa_analysis_with_scores(run, vqa_files):
    """Results with the model's probabilities get the calibration; the table gains the analysis."""
    write(vqa_files["results"], [{"question_id": 100, "answer": "yes", "score": 0.97},
                                 {"question_id": 101, "answer": "Two", "score": 0.41},
                                 {"question_id": 102, "answer": "green", "score": 0.93}])
    code, out, err = run(*vqa_args(vqa_files, "--json"))
    report = json.loads(out)
    assert code == 0 and err == ""
    bins = report["calibration"]["bins"]
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    assert bins[9]["accuracy"] == 50.0 and bins[9]["meanScore"] == 0.95 and bins[4]["accuracy"] == 30.0
    assert report["calibration"]["ece"] == round((0.11 + 2 * 0.45) / 3, 4)
    assert report["correctness"] == {"rightAccuracy": 100.0, "right": 1, "partial": 1, "wrong": 1}
    assert report["yesNoConfusion"]["matrix"] == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    count = report["countConfusion"]
    assert count["matrix"][count["labels"].index("3")][count["labels"].index("2")] == 1  # humans 3, said "Two"
    code, out, err = run(*vqa_args(vqa_files))
    assert code == 0 and err == ""
    assert "Correctness: 1 right (accuracy 100), 1 partly right, 1 wrong" in out
    assert "0.9-1.0       2 questions  accuracy  50.00  mean probability 0.950" in out
    assert "Counting confusion (1 question; rows: human majority, columns: prediction):" in out


def test_missing_files_and_usage_errors(run, vqa_files, tmp_path):
    vqa_files["annotations"] = tmp_path / "nope.json"
    code, _, err = run(*vqa_args(vqa_files))
    assert code == 1 and "nope.json: file not found" in err
    with pytest.raises(SystemExit) as caught:
        run("evaluate", "vqa", "--questions", "q.json")
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        run(*vqa_args(vqa_files, "--rules", "lenient"))
    assert caught.value.code == 2
    code, _, err = run("evaluate")
    assert code == 2 and "vqa" in err and "captions" in err


def test_real_vqa_sample(run, vqa_v2_sample, tmp_path):
    questions = vqa_v2_sample / "questions_train2014_sample.json"
    trimmed = vqa_v2_sample / "annotations_train2014_sample_trimmed.json"
    results = write(tmp_path / "r.json", [
        {"question_id": 458752000, "answer": "Netting"},
        {"question_id": 458752001, "answer": "pitcher"},
        {"question_id": 458752002, "answer": "Orange"},
    ])
    # The trimmed annotations lack the official fields: refused with the field named.
    code, _, err = run("evaluate", "vqa", "--questions", questions, "--annotations", trimmed, "--results", results)
    assert code == 1 and "annotations[0].image_id" in err and "missing" in err

    # Complete them as the full release has them and score the real answers.
    data = read_json(trimmed)
    for annotation, (qtype, atype) in zip(
        data["annotations"], [("what is this", "other"), ("what", "other"), ("what color is the", "other")]
    ):
        annotation.update(image_id=458752, question_type=qtype, answer_type=atype,
                          multiple_choice_answer=annotation["answers"][0]["answer"])
    full = write(tmp_path / "annotations_full.json", data)
    code, out, err = run("evaluate", "vqa", "--questions", questions, "--annotations", full,
                         "--results", results, "--json")
    assert code == 0, err
    # "Netting" -> "netting": 1 of 10 humans -> 30; "pitcher": 9 of 10 -> 100;
    # "Orange" against ten unanimous "orange": not normalised -> 0.
    assert json.loads(out)["perQuestion"] == {"458752000": 30.0, "458752001": 100.0, "458752002": 0.0}


# -- captions --------------------------------------------------------------------------------


@pytest.fixture
def caption_files(tmp_path: Path) -> dict[str, Path]:
    captions = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 48} for i in (1, 2, 3)],
        "annotations": [
            {"id": 1, "image_id": 1, "caption": "A dog runs on the grass."},
            {"id": 2, "image_id": 1, "caption": "A brown dog running."},
            {"id": 3, "image_id": 2, "caption": "Two cats on a couch."},
            {"id": 4, "image_id": 3, "caption": "A red car."},
        ],
    }
    results = [{"image_id": 1, "caption": "a dog running on grass"}, {"image_id": 2, "caption": "two cats"}]
    return {"annotations": write(tmp_path / "captions.json", captions), "results": write(tmp_path / "r.json", results)}


def caption_args(files: dict[str, Path], *extra: str) -> list[str]:
    return ["evaluate", "captions", "--annotations", files["annotations"], "--results", files["results"], *extra]


def test_captions_json_schema(run, caption_files):
    code, out, err = run(*caption_args(caption_files, "--json"))
    assert code == 0
    report = json.loads(out)
    assert list(report)[:5] == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr"]
    assert all(isinstance(report[name], float) for name in list(report)[:5])
    assert list(report)[5:] == ["numImages", "perImageCIDEr", "ciderHistogram"]
    assert report["numImages"] == 2 and len(report["perImageCIDEr"]) == 2
    assert "2 of 3 annotated images" in err  # a note on stderr, stdout stays pure JSON


def test_captions_table(run, caption_files):
    code, out, _ = run(*caption_args(caption_files))
    assert code == 0
    assert "2 of 3 annotated images" in out
    for name in ("BLEU-1", "BLEU-4", "CIDEr"):
        assert name in out


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([{"image_id": 1, "caption": "a"}, {"image_id": 1, "caption": "b"}], "more than one caption: image_id 1"),
        ([{"image_id": 1, "caption": "a"}, {"image_id": 42, "caption": "b"}], "not in"),
        ([], "empty"),
        ([{"image_id": 1, "caption": None}], "field '[0].caption'"),
    ],
)
def test_caption_results_that_do_not_fit(run, caption_files, results, expected):
    write(caption_files["results"], results)
    code, out, err = run(*caption_args(caption_files, "--json"))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and expected in err


def test_captions_need_a_captions_file(run, caption_files, vqa_files):
    caption_files["annotations"] = vqa_files["annotations"]
    code, _, err = run(*caption_args(caption_files))
    assert code == 1 and str(vqa_files["annotations"]) in err


# -- results files ---------------------------------------------------------------------------


def test_results_writers_round_trip(tmp_path):
    write_vqa_results(tmp_path / "out" / "vqa.json", [VqaResult(1, "yes"), VqaResult(2, "")])
    assert read_vqa_results(tmp_path / "out" / "vqa.json") == [VqaResult(1, "yes"), VqaResult(2, "")]
    assert read_json(tmp_path / "out" / "vqa.json") == [{"question_id": 1, "answer": "yes"},
                                                       {"question_id": 2, "answer": ""}]
    write_caption_results(tmp_path / "caps.json", [CaptionResult(5, "a dog")])
    assert read_caption_results(tmp_path / "caps.json") == [CaptionResult(5, "a dog")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caps.json", "out"]  # no temporary files left
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["vqa.json"]

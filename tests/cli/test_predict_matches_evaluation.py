"""``vqadesk predict`` gives the answers and captions the evaluation routine gives.

Two paths turn a checkpoint and a folder of images into an official results
file: the command line's ``vqadesk predict vqa|captions`` (the ``Predictor``,
one image file at a time, questions grouped by image) and the evaluation
routine ``python -m training.evaluate`` (the split's examples as tensors, the
training's decoding loops). On a fresh Shapes split, never seen in training,
the bundled models must give the same answer to every question and the same
caption to every image by both paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training import evaluate as routine
from vqadesk.cli import main as cli_main
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import resolve_model
from vqadesk.jsonio import read_json

SPLIT = "fresh"
BEAM = 3  # predict's default, given to both paths


@pytest.fixture(scope="module")
def fresh_split(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fresh")
    write_shapes_dataset(root, splits=(SPLIT,), n_images=20, seed=4242)  # 200 questions
    return root


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the small models run fastest so on a shared 2-core machine
    yield
    torch.set_num_threads(threads)


def results_by_id(path: Path, key: str, value: str) -> dict[int, str]:
    return {entry[key]: entry[value] for entry in read_json(path)}


def differences(predicted: dict[int, str], evaluated: dict[int, str]) -> list[tuple[int, str | None, str | None]]:
    return [(i, predicted.get(i), evaluated.get(i)) for i in sorted(predicted.keys() | evaluated.keys())
            if predicted.get(i) != evaluated.get(i)]


def evaluate(checkpoint: Path, data: Path, out: Path, *options: str) -> None:
    code = routine.main(["--checkpoint", str(checkpoint), "--data", str(data), "--split", SPLIT,
                         "--out", str(out), "--device", "cpu", "--json", *options])
    assert code == 0


def predict(*argv) -> None:
    assert cli_main.main(["predict", *[str(a) for a in argv], "--device", "cpu"]) == 0


def test_predict_vqa_answers_every_question_as_the_evaluation_does(fresh_split, tmp_path, capsys):
    questions = fresh_split / "vqa" / f"v2_OpenEnded_shapes_{SPLIT}_questions.json"
    predict("vqa", "--questions", questions, "--images", fresh_split / SPLIT, "--out", tmp_path / "predicted.json",
            "--model", "shapes-vqa")
    evaluate(resolve_model("shapes-vqa", ModelKind.VQA), fresh_split, tmp_path / "evaluated.json")
    capsys.readouterr()

    predicted = results_by_id(tmp_path / "predicted.json", "question_id", "answer")
    evaluated = results_by_id(tmp_path / "evaluated.json", "question_id", "answer")
    asked = {q["question_id"] for q in read_json(questions)["questions"]}
    assert set(predicted) == set(evaluated) == asked and len(asked) == 200
    assert len(set(evaluated.values())) > 10  # many different answers: the comparison is not trivial
    assert differences(predicted, evaluated) == []


def test_predict_captions_caption_every_image_as_the_evaluation_does(fresh_split, tmp_path, capsys):
    predict("captions", "--images", fresh_split / SPLIT, "--out", tmp_path / "predicted.json",
            "--model", "shapes-captioner", "--beam", BEAM)
    evaluate(resolve_model("shapes-captioner", ModelKind.CAPTIONING), fresh_split, tmp_path / "evaluated.json",
             "--beam-size", str(BEAM))
    capsys.readouterr()

    predicted = results_by_id(tmp_path / "predicted.json", "image_id", "caption")
    evaluated = results_by_id(tmp_path / "evaluated.json", "image_id", "caption")
    assert set(predicted) == set(evaluated) and len(predicted) == 20
    assert len(set(evaluated.values())) > 10  # many different captions: the comparison is not trivial
    assert differences(predicted, evaluated) == []

"""Hostile files through the ``vqadesk`` command line: exit 1 and one line naming the file (issue 16).

The same hostile files the readers and the training routines are tested with
(``tests/support/hostile_files.py``): an integer of 5,000 digits, an id beyond
64 bits, a lone UTF-16 surrogate, a FIFO, a link to ``/dev/urandom``, a sparse
file over the size limit, a decompression-bomb image. Each command runs in
its own process with a timeout, so a hang (a FIFO waited on) fails the test
instead of stalling it, and the exit code is the real one (never 3, the code
for a bug).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import hostile_files as hostile
from tests.support.inference_models import TinyModels, tiny_models
from tests.support.json_files import human_answers, write

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]


def vqadesk(*argv: str | Path, timeout: float = 120) -> tuple[int, str]:
    """``python -m vqadesk ARGV`` in a fresh process: its exit code and stderr."""
    result = subprocess.run([sys.executable, "-m", "vqadesk", *map(str, argv)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return result.returncode, result.stderr


def assert_one_line_naming(code: int, err: str, path: Path, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("vqadesk: error: "), err
    assert str(path) in lines[0], err
    assert "internal error" not in err and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], err




@pytest.fixture
def vqa_files(tmp_path: Path) -> dict[str, Path]:
    """Valid questions, annotations and results that ``evaluate vqa`` scores (exit 0)."""
    return {
        "questions": write(tmp_path / "q.json", {"questions": [
            {"image_id": 10, "question": "Is it sunny?", "question_id": 100},
            {"image_id": 11, "question": "What color is the car?", "question_id": 102}]}),
        "annotations": write(tmp_path / "a.json", {"annotations": [
            {"question_id": 100, "image_id": 10, "question_type": "is it", "answer_type": "yes/no",
             "multiple_choice_answer": "yes", "answers": human_answers(*["yes"] * 10)},
            {"question_id": 102, "image_id": 11, "question_type": "what color is the", "answer_type": "other",
             "multiple_choice_answer": "red", "answers": human_answers(*["red"] * 10)}]}),
        "results": write(tmp_path / "r.json", [{"question_id": 100, "answer": "yes"},
                                              {"question_id": 102, "answer": "green"}]),
    }


@pytest.fixture
def caption_files(tmp_path: Path) -> dict[str, Path]:
    """A valid COCO captions file and results that ``evaluate captions`` scores (exit 0)."""
    return {
        "annotations": write(tmp_path / "c.json", {
            "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
            "annotations": [{"id": 1, "image_id": 1, "caption": "a red square"},
                            {"id": 2, "image_id": 1, "caption": "a square that is red"}]}),
        "results": write(tmp_path / "captions-r.json", [{"image_id": 1, "caption": "a red square"}]),
    }


# (entries holding the records, id key, text key) of each JSON file the evaluate commands read
VQA_LAYOUT = {"questions": ("questions", "question_id", "question"),
              "annotations": ("annotations", "question_id", "multiple_choice_answer"),
              "results": ("", "question_id", "answer")}
CAPTION_LAYOUT = {"annotations": ("annotations", "image_id", "caption"),
                  "results": ("", "image_id", "caption")}


def spoil(path: Path, layout: tuple[str, str, str], kind: str) -> str:
    """Make ``path`` hostile of ``kind``; a fragment the one-line error must hold."""
    entries, id_key, text_key = layout
    if kind == "5000-digits":
        hostile.five_thousand_digits(path, id_key)
        return "a number of 5,000 digits"
    if kind == "id-2**70":
        hostile.set_first(path, entries, id_key, hostile.ID_BEYOND_64_BITS)
        return "beyond the 64-bit range"
    if kind == "surrogate":
        hostile.set_first(path, entries, text_key, hostile.LONE_SURROGATE)
        return "lone UTF-16 surrogate"
    if kind == "fifo":
        hostile.fifo(path)
        return "is not a regular file (a FIFO)"
    if kind == "urandom":
        hostile.urandom_link(path)
        return "is not a regular file (a device)"
    if kind == "sparse-3-GiB":
        hostile.sparse(path)
        return "larger than the 1,024 MiB a JSON file may be"
    raise AssertionError(kind)


KINDS = ["5000-digits", "id-2**70", "surrogate", "fifo", "urandom", "sparse-3-GiB"]


def evaluate_vqa(files: dict[str, Path]) -> tuple[int, str]:
    return vqadesk("evaluate", "vqa", "--questions", files["questions"], "--annotations", files["annotations"],
                   "--results", files["results"], timeout=60)


def evaluate_captions(files: dict[str, Path]) -> tuple[int, str]:
    return vqadesk("evaluate", "captions", "--annotations", files["annotations"], "--results", files["results"],
                   timeout=60)


def test_the_unspoiled_files_are_scored(vqa_files, caption_files):
    assert evaluate_vqa(vqa_files) == (0, "")
    code, err = evaluate_captions(caption_files)
    assert code == 0, err


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", list(VQA_LAYOUT))
def test_evaluate_vqa_names_the_hostile_file(vqa_files, role, kind):
    expected = spoil(vqa_files[role], VQA_LAYOUT[role], kind)
    code, err = evaluate_vqa(vqa_files)
    assert_one_line_naming(code, err, vqa_files[role], expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", list(CAPTION_LAYOUT))
def test_evaluate_captions_names_the_hostile_file(caption_files, role, kind):
    expected = spoil(caption_files[role], CAPTION_LAYOUT[role], kind)
    code, err = evaluate_captions(caption_files)
    assert_one_line_naming(code, err, caption_files[role], expected)


# -- predict vqa --questions and ask: a real (tiny) model -----------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_vqa_names_a_hostile_questions_file(models, tmp_path, kind):
    questions = tmp_path / "questions.json"
    shutil.copy(models.shapes / "vqa" / "v2_OpenEnded_shapes_val_questions.json", questions)
    expected = spoil(questions, VQA_LAYOUT["questions"], kind)
    out = tmp_path / "results.json"
    code, err = vqadesk("predict", "vqa", "--questions", questions, "--images", models.shapes / "val",
                        "--out", out, "--model", models.vqa, "--device", "cpu")
    assert_one_line_naming(code, err, questions, expected)
    assert not out.exists()


IMAGE_KINDS = {
    "fifo": (hostile.fifo, "is not a regular file (a FIFO)"),
    "urandom": (hostile.urandom_link, "is not a regular file (a device)"),
    "bomb": (hostile.png_header_only, "decompression bomb"),
}


@pytest.mark.parametrize("kind", list(IMAGE_KINDS))
def test_ask_names_a_hostile_image(models, tmp_path, kind):
    make, expected = IMAGE_KINDS[kind]
    image = tmp_path / "photo.png"
    make(image)
    code, err = vqadesk("ask", image, "what colour is the circle?", "--model", models.vqa, "--device", "cpu")
    assert_one_line_naming(code, err, image, expected)

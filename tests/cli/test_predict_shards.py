"""``torchrun --nproc-per-node 2 -m vqadesk predict captions|vqa --images DIR`` on the 15 real fixture photos.

Two CPU processes on gloo, tiny own models in fp32: the results equal a
single process's; a rank killed halfway leaves the photos it finished, which the
rerun keeps (merged, never predicted again), under torchrun or in one plain process; a VQA questions file is refused
under torchrun in one line. The merge rule (``batch/shards.py``) is checked
on its own too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli_runs import run
from tests.support.inference_models import TinyModels, tiny_models
from tests.support.torchrun import HAS_PROC, kill_rank_when, torchrun
from tests.support.torchrun import run as run_process
from vqadesk.engine.torch_free.batch import (
    BatchSettings,
    CaptionRow,
    FailedPhoto,
    ProgressFile,
    iter_photos,
    progress_path,
    read_batch_results,
)
from vqadesk.engine.torch_free.batch.shards import done_keys, merge_rank_files, rank_files, rank_progress_path, share
from vqadesk.errors import VqadeskError
from vqadesk.text.counts import plural

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUESTIONS = ["what shape is this?", "what colour is it?"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def test_rank_files_merge_once_and_shares_split_the_photos_left(coco_real, tmp_path):
    settings = BatchSettings(kind="captions", model="m", precision="fp32", beam=1, num_captions=1,
                             root=str(coco_real), recursive=False)
    photos = list(iter_photos(coco_real))
    out = tmp_path / "caps.json"
    row = [CaptionRow(key=photos[0].key, path=photos[0].path, coco_id=photos[0].coco_id, captions=[("a", -1.0)],
                      model="m", precision="fp32")]
    failed = [FailedPhoto(key=photos[1].key, reason="truncated", path=photos[1].path)]
    for rank, results in ((0, row), (1, failed), (2, row)):  # rank 2 repeats rank 0's photo
        with ProgressFile.open(rank_progress_path(out, rank), settings) as rank_file:
            rank_file.append(results)
    with ProgressFile.open(progress_path(out), settings) as job:
        assert merge_rank_files(job, out) == 1 and not rank_files(out)
    assert done_keys(progress_path(out)) == {photos[0].key}
    lines = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:]]
    assert [line["photo"] for line in lines] == [photos[0].key, photos[1].key]  # rank 2's repeat left out
    mine = [share(photos, {photos[0].key}, rank, 2) for rank in (0, 1)]
    assert [p.key for p in mine[0]] == [p.key for p in photos[1::2]] and len(mine[1]) == 7
    assert {p.key for p in mine[0] + mine[1]} == {p.key for p in photos[1:]}


def test_two_ranks_caption_a_folder_like_one_process(capsys, models, coco_real, tmp_path):
    code, _, err = run(capsys, "predict", "captions", "--images", coco_real, "--out", tmp_path / "one.json",
                       "--format", "json", "--model", models.captioner, "--device", "cpu", "--batch-size", "4",
                       "--precision", "fp32")
    assert code == 0, err
    out = tmp_path / "two.json"
    done = _run(_torchrun("captions", coco_real, out, models.captioner, "--batch-size", "4", "--format", "json"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("wrote 15 captions of 15 images") == 1  # rank 0 alone reports
    assert not rank_files(out)
    assert _same(_captions(out), _captions(tmp_path / "one.json")) and len(_captions(out)) == 15


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC, reason="finds the rank's process in /proc")
def test_a_killed_rank_keeps_its_photos_and_the_rerun_finishes_the_job(capsys, models, coco_real, tmp_path):
    out = tmp_path / "answers.json"
    command = _torchrun("vqa", coco_real, out, models.vqa, "--batch-size", "1",
                        *[a for q in QUESTIONS for a in ("--question", q)])
    code = kill_rank_when(command, lambda: len(_keys(rank_progress_path(out, 1))) >= 1, rank=1)
    assert code != 0
    finished = _keys(progress_path(out)) | {key for path in rank_files(out) for key in _keys(path)}
    assert 1 <= len(_keys(rank_progress_path(out, 1))) < 7  # rank 1 was killed halfway through its 7 photos
    plain_out = tmp_path / "plain.json"  # the same crashed job, to be taken up by one plain process
    for path in [progress_path(out), *rank_files(out)]:
        if path.exists():
            shutil.copy(path, tmp_path / path.name.replace(out.name, plain_out.name))

    again = _run(command)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"going on from {progress_path(out)}: {plural(len(finished), 'photo')} already done" in again.stderr
    assert not rank_files(out) and "wrote 30 answers of 15 images" in again.stdout
    lines = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:]]
    assert sorted(line["photo"] for line in lines) == sorted(p.key for p in iter_photos(coco_real))  # each once
    code, _, err = run(capsys, "predict", "vqa", "--images", coco_real, "--out", tmp_path / "one.json",
                       "--model", models.vqa, "--device", "cpu", "--precision", "fp32",
                       *[a for q in QUESTIONS for a in ("--question", q)])
    assert code == 0, err
    assert _same(_answers(out), _answers(tmp_path / "one.json"))
    code, _, err = run(capsys, "predict", "vqa", "--images", coco_real, "--out", plain_out, "--model", models.vqa,
                       "--device", "cpu", "--precision", "fp32", *[a for q in QUESTIONS for a in ("--question", q)])
    assert code == 0, err
    assert f"{plural(len(finished), 'photo')} already done" in err and not rank_files(plain_out)
    assert _same(_answers(plain_out), _answers(out))


def test_a_vqa_questions_file_is_refused_under_torchrun(models, coco_real, tmp_path):
    done = _run(_torchrun("vqa", coco_real, tmp_path / "r.json", models.vqa, "--questions", tmp_path / "q.json"))
    assert done.returncode != 0
    assert "a VQA questions file is answered by one process" in done.stderr


# -- helpers --------------------------------------------------------------------------------------


def _torchrun(kind: str, images: Path, out: Path, model: Path, *options) -> list:
    return torchrun("-m", "vqadesk", "predict", kind, "--images", images, "--out", out, "--model", model,
                    "--device", "cpu", "--precision", "fp32", *options)


def _run(command: list) -> subprocess.CompletedProcess:
    return run_process(command)


def _captions(out: Path) -> dict[str, tuple[str, float]]:
    """Each photo's caption and its score."""
    return {row.key: (row.captions[0][0], row.captions[0][1]) for row in read_batch_results(out).rows}


def _answers(out: Path) -> dict[tuple[str, str], tuple[str, float]]:
    return {(row.key, row.question): (row.answer, row.score) for row in read_batch_results(out).rows}


def _same(found: dict, expected: dict) -> bool:
    """The same texts for the same photos, scores within float rounding (the batches differ)."""
    return found.keys() == expected.keys() and all(
        found[k][0] == expected[k][0] and found[k][1] == pytest.approx(expected[k][1], abs=1e-4) for k in found)


def _keys(progress: Path) -> set[str]:
    try:
        return done_keys(progress)
    except (OSError, VqadeskError):  # not written yet: ask again
        return set()

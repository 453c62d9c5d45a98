"""A batch job's results files in every format, read back; the default format; sidecars beside the photos."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.batch_photos import PixelModel, make_photo
from vqadesk.engine.torch_free.batch import (
    BatchSettings,
    ExportError,
    PhotoSurvey,
    ProgressFile,
    RowEdit,
    default_format,
    export_results,
    iter_photos,
    iter_results,
    load_results,
    predict_photos,
    read_batch_results,
    run_batch,
    sidecar_path,
    write_sidecars,
)


def finished_job(tmp_path: Path, settings_changes: dict | None = None, names: list[str] | None = None) -> Path:
    """A finished job over a few photos (one broken), with one edit; its progress file."""
    root = tmp_path / "photos"
    names = names or ["beach, day.jpg", "COCO_val2014_000000000042.jpg", "sub/Ünïcødé.png", "sub/broken.jpg"]
    for name, colour in zip(names, ["red", "green", "blue", "grey"]):
        make_photo(root / name, colour)
    if "sub/broken.jpg" in names:
        (root / "sub" / "broken.jpg").write_text("broken")
    changes = {"kind": "captions", "num_captions": 2, **(settings_changes or {})}
    settings = BatchSettings(model="pixel", root=str(root), recursive=True, **changes)
    progress = tmp_path / "out.json.progress.jsonl"
    model = PixelModel(precision="bf16")
    for _ in run_batch(iter_photos(root, True), settings, lambda c: predict_photos(model, c, settings), progress, 2):
        pass
    question = settings.questions[0] if settings.kind == "vqa" else None
    with ProgressFile.open(progress) as taken_up:
        taken_up.append_edit(RowEdit("sub/Ünïcødé.png", 'blue, "quoted"\nand two lines', question))
    return progress


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize("kind", ["captions", "vqa"])
def test_every_format_reads_back_the_rows_the_job_made(tmp_path, fmt, kind):
    changes = {"kind": "vqa", "questions": ("what colour?", "where, exactly?"), "top_k": 2} if kind == "vqa" else {}
    progress = finished_job(tmp_path, changes)
    expected = load_results(progress)
    out = tmp_path / f"results.{fmt}"
    report = export_results(progress, out, fmt)
    assert (report.photos, report.failed, report.rows) == (3, 1, len(expected.rows))
    found = read_batch_results(out)
    assert len(found.rows) == len(expected.rows) == (6 if kind == "vqa" else 3)
    for got, want in zip(found.rows, expected.rows):
        assert (got.key, got.coco_id, got.model, got.precision, got.edit) == (
            want.key, want.coco_id, "pixel", "bf16", want.edit)
        if kind == "captions":
            assert got.caption == want.caption
            assert got.captions[1:] == want.captions[1:] and got.score == pytest.approx(want.score)
        else:
            assert (got.question, got.answer_text, got.top_k[1:]) == (want.question, want.answer_text,
                                                                      want.top_k[1:])
    edited = [row for row in found.rows if row.edit is not None]
    assert [row.key for row in edited] == ["sub/Ünïcødé.png"] and edited[0].edit.endswith("and two lines")
    if fmt == "json":  # the one format that carries the settings, the failures and the paths
        assert found.settings == expected.settings
        assert [(f.key, f.reason) for f in found.failed] == [("sub/broken.jpg", expected.failed[0].reason)]
        assert [row.path for row in found.rows] == [row.path for row in expected.rows]
        assert [row.captions if kind == "captions" else row.top_k for row in found.rows] == [
            row.captions if kind == "captions" else row.top_k for row in expected.rows]


def test_the_csv_has_one_line_per_photo_and_readable_columns(tmp_path):
    progress = finished_job(tmp_path)
    export_results(progress, tmp_path / "r.csv", "csv")
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["file_name", "coco_id", "caption", "score", "edited", "model", "precision", "caption_2",
                        "score_2"]
    assert lines[1][:3] == ["COCO_val2014_000000000042.jpg", "42", "a green photo"]
    assert lines[2][:3] == ["beach, day.jpg", "", "a red photo"] and lines[2][4:7] == ["no", "pixel", "bf16"]
    assert lines[3][4] == "yes" and lines[3][7] == "a blue photo again"
    assert len(lines) == 4  # the broken photo is not a row


def test_coco_results_hold_the_photos_with_an_id_sorted_and_once(tmp_path):
    names = ["COCO_val2014_000000000042.jpg", "000000000007.png", "a/000000000042.jpg", "holiday.jpg"]
    progress = finished_job(tmp_path, names=names)
    report = export_results(progress, tmp_path / "coco.json", "coco")
    assert json.loads((tmp_path / "coco.json").read_text()) == [
        {"image_id": 7, "caption": "a green photo"}, {"image_id": 42, "caption": "a red photo"}]
    assert (report.rows, report.left_out) == (2, 2)  # no id, and a second photo of id 42
    assert report.left_out_examples == ["holiday.jpg", "a/000000000042.jpg"]
    assert [row.coco_id for row in read_batch_results(tmp_path / "coco.json").rows] == [7, 42]


def test_coco_is_refused_for_a_vqa_job_before_anything_is_written(tmp_path):
    progress = finished_job(tmp_path, {"kind": "vqa", "questions": ("what colour?",)})
    with pytest.raises(ExportError, match="coco holds captions only") as caught:
        export_results(progress, tmp_path / "r.json", "coco")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "r.json").exists()


def test_the_default_format(tmp_path):
    captions = BatchSettings(kind="captions", model="m")
    asked = BatchSettings(kind="vqa", model="m", questions=("q?",))
    assert default_format(captions, PhotoSurvey(photos=13, coco_named=12)) == "coco"
    assert default_format(captions, PhotoSurvey(photos=10, coco_named=1)) == "json"
    assert default_format(asked, PhotoSurvey(photos=10, coco_named=10)) == "json"
    assert default_format(captions, PhotoSurvey(photos=10, coco_named=10), "out.csv") == "csv"
    assert default_format(asked, None, "out.JSONL") == "jsonl"


def test_sidecars_are_written_beside_the_photos_and_never_replace_others_unasked(tmp_path):
    progress = finished_job(tmp_path)
    root = tmp_path / "photos"
    (root / "beach, day.txt").write_text("my own caption\n")
    report = write_sidecars(iter_results(progress)[1])
    assert (report.written, report.kept, report.unchanged, report.failed_folders) == (2, 1, 0, {})
    assert (root / "COCO_val2014_000000000042.txt").read_text() == "a green photo\n"
    assert (root / "sub" / "Ünïcødé.txt").read_text() == 'blue, "quoted"\nand two lines\n'  # the edit
    assert (root / "beach, day.txt").read_text() == "my own caption\n"
    assert not (root / "sub" / "broken.txt").exists()
    again = write_sidecars(iter_results(progress)[1])
    assert (again.written, again.kept, again.unchanged) == (0, 1, 2)
    forced = write_sidecars(iter_results(progress)[1], overwrite=True)
    assert (forced.written, forced.unchanged) == (1, 2)
    assert (root / "beach, day.txt").read_text() == "a red photo\n"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_a_vqa_sidecar_holds_question_answer_lines(tmp_path):
    progress = finished_job(tmp_path, {"kind": "vqa", "questions": ("what colour?", "is it a photo?")})
    write_sidecars(iter_results(progress)[1])
    assert (tmp_path / "photos" / "beach, day.txt").read_text() == "what colour?: red\nis it a photo?: red\n"


def test_two_photos_with_one_stem_write_one_sidecar(tmp_path):
    progress = finished_job(tmp_path, names=["same.jpg", "same.png", "other.jpg", "sub/x.jpg"])
    report = write_sidecars(iter_results(progress)[1])
    assert report.clashes == 1 and (tmp_path / "photos" / "same.txt").read_text() == "a red photo\n"
    assert sidecar_path(Path("a/b c.jpeg")) == Path("a/b c.txt")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` cannot be written: chmod, and for root (whom chmod does not stop) the immutable flag."""
    folder.chmod(0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK) and shutil.which("chattr"):
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        if os.access(folder, os.W_OK):
            pytest.skip("this user can write a read-only folder (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_folder_is_named_once_and_the_others_are_written(tmp_path):
    progress = finished_job(tmp_path, names=["a.jpg", "locked/b.jpg", "locked/c.jpg", "sub/d.jpg"])
    locked = tmp_path / "photos" / "locked"
    with read_only(locked):
        report = write_sidecars(iter_results(progress)[1])
    assert report.failed_folders == {str(locked): "cannot be written (read-only or no permission)"}
    assert report.written == 2 and (tmp_path / "photos" / "a.txt").exists()
    assert (tmp_path / "photos" / "sub" / "d.txt").exists() and not list(locked.glob("*.txt"))

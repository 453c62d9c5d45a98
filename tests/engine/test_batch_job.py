"""The batch job: events, failed photos, the progress file, resume, settings mismatch, edits."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.support.batch_photos import PixelModel, make_bomb, make_photo
from vqadesk.engine.torch_free.batch import (
    AnswerRow,
    BatchJob,
    BatchSettings,
    BatchSettingsError,
    CaptionRow,
    Finished,
    PhotoFailed,
    Progress,
    ProgressFile,
    RowEdit,
    SettingsMismatchError,
    Started,
    iter_photos,
    load_results,
    predict_photos,
    progress_path,
    run_batch,
)
from vqadesk.errors import DataFormatError, VqadeskError

COLOURS = ["red", "green", "blue", "grey"]


def photo_folder(root: Path, count: int = 10) -> Path:
    for n in range(count):
        make_photo(root / f"photo {n:02d}.jpg", COLOURS[n % 4])
    return root


def settings_for(root: Path, **changes) -> BatchSettings:
    return BatchSettings(kind="captions", model="pixel", root=str(root), **changes)


def run(root: Path, progress: Path, settings: BatchSettings | None = None, model: PixelModel | None = None,
        chunk_size: int = 3, **options) -> list:
    settings = settings or settings_for(root)
    model = model or PixelModel()
    return list(run_batch(iter_photos(root), settings, lambda chunk: predict_photos(model, chunk, settings),
                          progress, chunk_size, **options))


def test_a_job_reports_its_progress_and_keeps_every_photo(tmp_path):
    root = photo_folder(tmp_path / "photos")
    progress = tmp_path / "out.json.progress.jsonl"
    events = run(root, progress, total=10)
    assert events[0] == Started(total=10, already_done=0)
    steps = [e for e in events if isinstance(e, Progress)]
    assert [p.done for p in steps] == [3, 6, 9, 10] and all(p.total == 10 for p in steps)
    assert steps[-1].last_key == "photo 09.jpg" and steps[-1].eta_s == 0 and steps[-1].photos_per_s > 0
    assert isinstance(events[-1], Finished) and (events[-1].done, events[-1].failed) == (10, 0)
    results = load_results(progress)
    assert results.settings == settings_for(root) and results.failed == []
    assert [row.key for row in results.rows] == [f"photo {n:02d}.jpg" for n in range(10)]
    assert [row.caption for row in results.rows[:4]] == [f"a {c} photo" for c in COLOURS]
    assert all(isinstance(row, CaptionRow) and row.model == "pixel" and row.precision == "fp32"
               for row in results.rows)


def test_broken_vanished_and_too_large_photos_are_listed_and_the_job_goes_on(tmp_path):
    root = photo_folder(tmp_path / "photos", 6)
    (root / "photo 01.jpg").write_bytes((root / "photo 01.jpg").read_bytes()[:60])  # truncated
    make_bomb(root / "photo 03.png")
    (root / "photo 04.jpg").write_text("not a photo")
    settings = settings_for(root)
    model = PixelModel()

    def predict(chunk):
        (root / "photo 05.jpg").unlink(missing_ok=True)  # vanishes after the listing saw it
        return predict_photos(model, chunk, settings)

    events = list(run_batch(iter_photos(root), settings, predict, tmp_path / "p.jsonl", 4))
    failed = {e.key: e.reason for e in events if isinstance(e, PhotoFailed)}
    assert set(failed) == {"photo 01.jpg", "photo 03.png", "photo 04.jpg", "photo 05.jpg"}
    assert "too large" in failed["photo 03.png"] and "not found" in failed["photo 05.jpg"]
    assert events[-1] == Finished(done=3, failed=4, seconds=events[-1].seconds)
    results = load_results(tmp_path / "p.jsonl")
    assert [row.key for row in results.rows] == ["photo 00.jpg", "photo 02.jpg", "photo 03.jpg"]
    assert {f.key for f in results.failed} == set(failed)


def test_a_stopped_job_resumes_where_it_stopped(tmp_path):
    root = photo_folder(tmp_path / "photos")
    progress = tmp_path / "p.jsonl"
    settings = settings_for(root)
    model = PixelModel()
    events = run_batch(iter_photos(root), settings, lambda c: predict_photos(model, c, settings), progress, 3)
    for event in events:
        if isinstance(event, Progress) and event.done == 6:
            break
    events.close()  # what Ctrl-C or the app's Cancel does to the generator
    assert len(load_results(progress).rows) == 6
    again = PixelModel()
    resumed = run(root, progress, model=again, total=10)
    assert resumed[0] == Started(total=10, already_done=6)
    assert [Path(p).name for p in again.seen] == [f"photo {n:02d}.jpg" for n in range(6, 10)]
    assert [p.done for p in resumed if isinstance(p, Progress)] == [9, 10]
    assert [row.key for row in load_results(progress).rows] == [f"photo {n:02d}.jpg" for n in range(10)]


def test_a_torn_last_line_is_done_again(tmp_path):
    root = photo_folder(tmp_path / "photos", 4)
    progress = tmp_path / "p.jsonl"
    run(root, progress)
    whole = progress.read_bytes()
    progress.write_bytes(whole[:-25])  # killed in the middle of writing the last photo
    assert [row.key for row in load_results(progress).rows] == ["photo 00.jpg", "photo 01.jpg", "photo 02.jpg"]
    model = PixelModel()
    run(root, progress, model=model)
    assert [Path(p).name for p in model.seen] == ["photo 03.jpg"]
    assert progress.read_bytes() == whole


def test_a_failed_photo_is_tried_again_on_the_next_run(tmp_path):
    root = photo_folder(tmp_path / "photos", 3)
    good = (root / "photo 01.jpg").read_bytes()
    (root / "photo 01.jpg").write_text("broken")
    progress = tmp_path / "p.jsonl"
    run(root, progress)
    assert [f.key for f in load_results(progress).failed] == ["photo 01.jpg"]
    (root / "photo 01.jpg").write_bytes(good)  # fixed
    model = PixelModel()
    events = run(root, progress, model=model)
    assert [Path(p).name for p in model.seen] == ["photo 01.jpg"] and events[-1].done == 3
    results = load_results(progress)
    assert results.failed == [] and sorted(row.key for row in results.rows) == [f"photo 0{n}.jpg" for n in range(3)]


def test_other_settings_are_refused_with_what_differs_and_restart_starts_afresh(tmp_path):
    root = photo_folder(tmp_path / "photos", 3)
    progress = tmp_path / "p.jsonl"
    run(root, progress)
    with pytest.raises(SettingsMismatchError) as caught:
        run(root, progress, settings_for(root, beam=5, num_captions=2))
    message = str(caught.value)
    assert message == (f"{progress}: made with other settings (beam 5 (was 3); num_captions 2 (was 1)); "
                       "--restart starts afresh")
    assert caught.value.differences == ["beam 5 (was 3)", "num_captions 2 (was 1)"]
    model = PixelModel()
    events = run(root, progress, settings_for(root, beam=5, num_captions=2), model=model, restart=True)
    assert events[0].already_done == 0 and len(model.seen) == 3
    results = load_results(progress)
    assert results.settings.beam == 5 and all(len(row.captions) == 2 for row in results.rows)


def test_vqa_settings_ignore_caption_options_and_check_their_questions(tmp_path):
    root = str(tmp_path)
    asked = BatchSettings(kind="vqa", model="m", questions=("is it red?",), root=root)
    assert asked.differences(BatchSettings(kind="vqa", model="m", questions=["is it red?"], root=root, beam=7)) == []
    other = BatchSettings(kind="vqa", model="m", questions=("is it red?", "how many?"), root=root)
    assert other.differences(asked) == ["questions ['is it red?', 'how many?'] (was ['is it red?'])"]
    assert asked.differences(settings_for(tmp_path)) == ["kind vqa (was captions)"]
    with pytest.raises(BatchSettingsError, match="question 2 is empty"):
        BatchSettings(kind="vqa", model="m", questions=("ok?", "  "))
    with pytest.raises(BatchSettingsError, match="at least one question"):
        BatchSettings(kind="vqa", model="m")


def test_a_vqa_job_keeps_one_row_per_photo_and_question(tmp_path):
    root = photo_folder(tmp_path / "photos", 3)
    settings = BatchSettings(kind="vqa", model="pixel", questions=("what colour?", "is it a photo?"), top_k=2,
                             root=str(root))
    run(root, tmp_path / "p.jsonl", settings)
    rows = load_results(tmp_path / "p.jsonl").rows
    assert [(r.key, r.question, r.answer) for r in rows[:4]] == [
        ("photo 00.jpg", "what colour?", "red"), ("photo 00.jpg", "is it a photo?", "red"),
        ("photo 01.jpg", "what colour?", "green"), ("photo 01.jpg", "is it a photo?", "green")]
    assert all(isinstance(r, AnswerRow) and r.top_k == [(r.answer, 0.9), ("other", 0.05)] for r in rows)


def test_one_job_writes_a_progress_file_at_a_time(tmp_path):
    settings = settings_for(tmp_path)
    with ProgressFile.open(tmp_path / "p.jsonl", settings):
        with pytest.raises(VqadeskError, match="another batch job is writing it"):
            ProgressFile.open(tmp_path / "p.jsonl", settings)
    ProgressFile.open(tmp_path / "p.jsonl", settings).close()  # free again once closed


def test_the_step_by_step_job_and_edits_that_survive_a_restart_of_the_app(tmp_path):
    root = photo_folder(tmp_path / "photos", 5)
    settings = settings_for(root)
    progress = progress_path(tmp_path / "out.json")
    job = BatchJob(iter_photos(root), settings, progress, chunk_size=2)
    assert job.start() == Started(total=None, already_done=0)
    first = job.next_chunk()
    assert [p.key for p in first] == ["photo 00.jpg", "photo 01.jpg"]
    events = job.record(predict_photos(PixelModel(), first, settings))
    assert [type(e) for e in events] == [Progress] and events[0].done == 2
    job.progress.append_edit(RowEdit("photo 01.jpg", "a green field at dusk"))
    job.close()  # the app was closed after one chunk
    job = BatchJob(iter_photos(root), settings, progress, chunk_size=2)
    assert job.start().already_done == 2
    while chunk := job.next_chunk():
        job.record(predict_photos(PixelModel(), chunk, settings))
    assert job.finish().done == 5
    job.close()
    rows = load_results(progress).rows
    assert [(r.caption, r.edit is not None) for r in rows[:3]] == [
        ("a red photo", False), ("a green field at dusk", True), ("a blue photo", False)]
    assert rows[1].captions == [("a green photo", pytest.approx(-0.1))]  # the model's own stays


def test_edits_can_be_added_to_a_finished_job(tmp_path):
    root = photo_folder(tmp_path / "photos", 2)
    progress = tmp_path / "p.jsonl"
    run(root, progress)
    with ProgressFile.open(progress) as taken_up:
        assert taken_up.done == {"photo 00.jpg", "photo 01.jpg"}
        taken_up.append_edit(RowEdit("photo 00.jpg", "first"))
        taken_up.append_edit(RowEdit("photo 00.jpg", "second thoughts"))
    assert load_results(progress).rows[0].caption == "second thoughts"
    with pytest.raises(VqadeskError, match="no batch job to take up"):
        ProgressFile.open(tmp_path / "none.jsonl")


def test_a_damaged_progress_file_is_one_line_naming_it(tmp_path):
    root = photo_folder(tmp_path / "photos", 3)
    progress = tmp_path / "p.jsonl"
    run(root, progress)
    lines = progress.read_text().splitlines(keepends=True)
    lines[2] = "{not json\n"
    progress.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="line 3 is not valid JSON"):
        run(root, progress)
    progress.write_text(json.dumps({"format": "something else", "version": 1}) + "\n")
    with pytest.raises(DataFormatError, match="not a vqadesk batch progress file"):
        run(root, progress)


def test_a_full_disk_is_one_line_and_keeps_what_was_written(tmp_path, monkeypatch):
    root = photo_folder(tmp_path / "photos", 6)
    progress = tmp_path / "p.jsonl"
    settings = settings_for(root)
    model = PixelModel()
    events = run_batch(iter_photos(root), settings, lambda c: predict_photos(model, c, settings), progress, 3)
    assert isinstance(next(events), Started) and isinstance(next(events), Progress)

    def no_space(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(VqadeskError, match=f"{progress}: cannot be written \\(No space left on device\\)"):
        list(events)
    monkeypatch.undo()
    assert [row.key for row in load_results(progress).rows][:3] == ["photo 00.jpg", "photo 01.jpg", "photo 02.jpg"]

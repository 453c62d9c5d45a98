"""The evaluations store: list, open, rows, maps, delete; damaged and mismatched folders."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.support import hostile_files
from tests.support.evaluation_folders import (
    maps_for,
    real_caption_entries,
    real_vqa_entries,
    write_caption_evaluation,
    write_vqa_evaluation,
)
from vqadesk.engine.torch_free.evaluations import (
    delete_evaluation,
    evaluations_root,
    folder_name,
    list_evaluations,
    open_evaluation,
    partial_folder,
    slug,
)
from vqadesk.errors import DataFormatError, VqadeskError


@pytest.fixture
def vqa_folder(tmp_path, coco_real) -> Path:
    entries = real_vqa_entries(coco_real)
    return write_vqa_evaluation(tmp_path / "evaluations", entries, dataset=coco_real, maps=maps_for(entries))


@pytest.fixture
def caption_folder(tmp_path, coco_real) -> Path:
    entries = real_caption_entries(coco_real)
    maps = {(entries[0].image_id, k): np.full((4, 5), k, np.float32) for k in range(3)}
    return write_caption_evaluation(tmp_path / "evaluations", entries, dataset=coco_real, maps=maps)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_names_and_root(user_data):
    when = datetime(2026, 12, 6, 5, 4, 3, tzinfo=UTC)
    assert folder_name(when, "Shapes VQA (bundled)", "val") == "20261206-050403-shapes-vqa-bundled-val"
    assert slug("hf:Salesforce/blip-vqa-base@main") == "hf-salesforce-blip-vqa-base-main"
    assert slug("???") == "model" and len(slug("x" * 100)) == 40
    assert partial_folder("/a/20261206-x-val") == Path("/a/.20261206-x-val.partial")
    assert evaluations_root() == user_data / "evaluations" and evaluations_root().is_dir()


def test_open_vqa_evaluation(vqa_folder, coco_real):
    evaluation = open_evaluation(vqa_folder)
    assert evaluation.kind == "vqa" and evaluation.manifest.count == 42
    assert evaluation.manifest.attention_region == "centre-square"  # absent: the own models' region
    assert evaluation.metrics["overall"] == evaluation.manifest.headline_value
    rows = evaluation.rows
    assert len(rows) == 42 and rows.by_id(785000).image_id == 785
    assert (coco_real / rows[0].image).is_file()
    wrong = [row for row in rows if row.accuracy < 100]
    assert len(wrong) == evaluation.metrics["correctness"]["partial"] + evaluation.metrics["correctness"]["wrong"]
    assert rows.column("score").shape == (42,) and rows.column("accuracy").max() == 100.0
    heat = evaluation.map_for(rows[3])
    assert heat.dtype == np.float32 and heat.shape == (7, 7)
    assert heat[rows[3].question_id % 7, (rows[3].question_id // 7) % 7] == 1.0 and heat.sum() == 1.0


def test_open_caption_evaluation_with_word_maps(caption_folder):
    evaluation = open_evaluation(caption_folder)
    rows = evaluation.rows
    assert evaluation.kind == "captioning" and len(rows) == 15
    assert evaluation.metrics["CIDEr"] == pytest.approx(float(np.mean([row.cider for row in rows])))
    words = evaluation.map_for(rows[0])
    assert words.shape == (3, 4, 5) and words[2, 0, 0] == 2.0
    assert evaluation.map_for(rows[1]) is None


def test_list_newest_first_with_damaged_and_partial_folders(tmp_path, coco_real):
    root = tmp_path / "evaluations"
    entries = real_vqa_entries(coco_real)
    older = write_vqa_evaluation(root, entries, dataset=coco_real, created=datetime(2026, 1, 1, tzinfo=UTC))
    newer = write_vqa_evaluation(root, entries, dataset=coco_real, created=datetime(2026, 6, 1, tzinfo=UTC))
    (root / "20260301-000000-broken-val").mkdir()
    bad = root / "20260401-000000-bad-val"
    bad.mkdir()
    (bad / "evaluation.json").write_text('{"format": "vqadesk-evaluation", "version": 1, "kind": "vqa"')
    (root / ".20260701-000000-tiny-val.partial").mkdir()
    (root / "notes.txt").write_text("not an evaluation")
    listed = list_evaluations(root)
    assert [entry.path for entry in listed if not entry.damaged] == [newer, older]
    damaged = {entry.path.name: entry.problem for entry in listed if entry.damaged}
    assert "evaluation.json: file not found" in damaged["20260301-000000-broken-val"]
    assert "malformed JSON" in damaged["20260401-000000-bad-val"]
    assert list_evaluations(tmp_path / "nowhere") == []


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format="something"), "field 'format': expected 'vqadesk-evaluation'"),
    (lambda d: d.update(version=2), "field 'version': unsupported evaluation format version 2"),
    (lambda d: d.update(kind="detection"), "field 'kind': expected one of vqa, captioning"),
    (lambda d: d["model"].pop("label"), "field 'model.label': missing"),
    (lambda d: d.update(created="yesterday"), "field 'created': not an ISO 8601 date"),
    (lambda d: d.update(created="2026-12-01T10:00:00"), "field 'created': a date without its time zone"),
    (lambda d: d.update(count=0), "field 'count': expected at least 1"),
    (lambda d: d.update(subset={"size": 3}), "field 'subset.seed': missing"),
    (lambda d: d["headline"].update(value="high"), "field 'headline.value': expected a number, got a string"),
    (lambda d: d.update(has_maps="yes"), "field 'has_maps': expected true or false"),
    (lambda d: d.update(precision="int4"), "field 'precision': expected one of fp32, bf16, fp16"),
    (lambda d: d.update(attention_region="left"), "field 'attention_region': expected centre-square or whole-image"),
])
def test_malformed_manifest_names_the_field(vqa_folder, change, message):
    edit_json(vqa_folder / "evaluation.json", change)
    with pytest.raises(DataFormatError, match="evaluation.json: " + message):
        open_evaluation(vqa_folder)
    (entry,) = list_evaluations(vqa_folder.parent)
    assert entry.damaged and message in entry.problem


def test_missing_or_malformed_files(vqa_folder):
    edit_json(vqa_folder / "metrics.json", lambda d: d.pop("overall"))
    with pytest.raises(DataFormatError, match="metrics.json: field 'overall': missing or not a number"):
        open_evaluation(vqa_folder)
    (vqa_folder / "metrics.json").write_text("[1, 2]")
    with pytest.raises(DataFormatError, match="metrics.json: expected an object, got a list"):
        open_evaluation(vqa_folder)
    (vqa_folder / "metrics.json").unlink()
    with pytest.raises(DataFormatError, match="metrics.json: file not found"):
        open_evaluation(vqa_folder)
    with pytest.raises(VqadeskError, match="not an evaluation folder"):
        open_evaluation(vqa_folder / "nothing")


def test_missing_results_or_rows(vqa_folder):
    (vqa_folder / "rows.jsonl").unlink()
    with pytest.raises(DataFormatError, match="rows.jsonl: file not found"):
        open_evaluation(vqa_folder)


def rewrite_rows(folder: Path, change) -> None:
    lines = (folder / "rows.jsonl").read_text().splitlines()
    (folder / "rows.jsonl").write_text("\n".join(change(lines)) + "\n")


def change_row(index: int, edit):
    def change(lines):
        row = json.loads(lines[index])
        edit(row)
        lines[index] = json.dumps(row)
        return lines
    return change


@pytest.mark.parametrize(("change", "message"), [
    (lambda lines: lines[:-1], r"rows.jsonl: holds 41 rows but evaluation.json says count 42"),
    (lambda lines: [*lines[:4], "{not json", *lines[4:]], r"rows.jsonl: line 5 is not valid JSON"),
    (change_row(2, lambda r: r.pop("accuracy")), r"rows.jsonl: field 'line 3.accuracy': missing"),
    (change_row(0, lambda r: r.update(score="0.5")), r"field 'line 1.score': expected a number or null, got a string"),
    (change_row(6, lambda r: r.update(question_id=1.5)), r"field 'line 7.question_id': expected an integer"),
    (change_row(1, lambda r: r.update(top_k=[["yes"]])), r"field 'line 2.top_k\[0\]': expected \[answer, score\]"),
    (change_row(1, lambda r: r.update(top_k=[["yes", "high"]])), r"field 'line 2.top_k\[0\]\[1\]': expected a number"),
    (change_row(4, lambda r: r["human_answers"].append(3)), r"field 'line 5.human_answers\[10\]': expected a string"),
    (lambda lines: ["[1, 2]", *lines[1:]], r"rows.jsonl: field 'line 1': expected an object, got a list"),
    (change_row(3, lambda r: r.update(accuracy=130)), r"field 'line 4.accuracy': expected an accuracy from 0 to 100"),
    (change_row(3, lambda r: r.update(score=float("nan"))), r"field 'line 4.score': expected a probability in"),
])
def test_malformed_rows_name_the_line_and_field(vqa_folder, change, message):
    rewrite_rows(vqa_folder, change)
    evaluation = open_evaluation(vqa_folder)  # opening is instant: rows are read on first use
    with pytest.raises(DataFormatError, match=message):
        len(evaluation.rows)


def test_malformed_caption_rows(caption_folder):
    rewrite_rows(caption_folder, change_row(0, lambda r: r.update(cider=None)))
    with pytest.raises(DataFormatError, match=r"field 'line 1.cider': expected a number, got null"):
        len(open_evaluation(caption_folder).rows)


def test_null_score_is_a_row_without_probability(vqa_folder):
    rewrite_rows(vqa_folder, change_row(0, lambda r: r.update(score=None, top_k=[])))
    rows = open_evaluation(vqa_folder).rows
    assert rows[0].score is None and rows[0].top_k == () and np.isnan(rows.column("score")[0])


def test_maps_missing_or_damaged(vqa_folder):
    evaluation = open_evaluation(vqa_folder)
    row = evaluation.rows[0]
    (vqa_folder / "maps.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(DataFormatError, match="maps.safetensors: not a readable safetensors file"):
        open_evaluation(vqa_folder).map_for(row)
    (vqa_folder / "maps.safetensors").unlink()
    with pytest.raises(DataFormatError, match="maps.safetensors: file not found"):
        open_evaluation(vqa_folder).map_for(row)
    edit_json(vqa_folder / "evaluation.json", lambda d: d.update(has_maps=False))
    assert open_evaluation(vqa_folder).map_for(row) is None


def test_maps_are_stacked_per_shape_with_their_ids(tmp_path, coco_real):
    """A header of a few tensors whatever the number of rows; maps of several shapes in one file (ViLT)."""
    from safetensors import safe_open

    entries = real_vqa_entries(coco_real)
    maps = {e.question_id: np.full((3 + position % 2, 4), position, np.float32) for position, e in enumerate(entries)}
    folder = write_vqa_evaluation(tmp_path, entries, dataset=coco_real, maps=maps)
    with safe_open(str(folder / "maps.safetensors"), framework="numpy") as handle:
        assert sorted(handle.keys()) == ["ids/3x4", "ids/4x4", "maps/3x4", "maps/4x4"]
        assert handle.metadata() == {"format": "vqadesk-evaluation-maps", "version": "2"}
        assert handle.get_tensor("ids/4x4").tolist() == [e.question_id for e in entries[1::2]]
    evaluation = open_evaluation(folder)
    for position, row in enumerate(evaluation.rows):
        assert evaluation.map_for(row).tolist() == maps[row.question_id].tolist()
        assert evaluation.map_for(row).dtype == np.float32 and row.question_id == entries[position].question_id
    assert evaluation.map_for(replace(evaluation.rows[0], question_id=-5)) is None
    assert evaluation.map_for(replace(evaluation.rows[0], question_id=2**70)) is None


def _vqa_maps(count: int = 3) -> dict[str, np.ndarray]:
    return {"maps/2x2": np.ones((count, 2, 2), np.float16), "ids/2x2": np.arange(count, dtype=np.int64)}


@pytest.mark.parametrize(("tensors", "metadata", "message"), [
    ({"q1": np.ones((2, 2), np.float16)}, None, r"maps.safetensors: maps of an earlier vqadesk \(one tensor per row\)"),
    ({"q1": np.ones((2, 2), np.float16)}, {"format": "vqadesk-evaluation-maps", "version": "1"}, "earlier vqadesk"),
    (_vqa_maps(), {"format": "vqadesk-evaluation-maps", "version": "3"}, "not vqadesk evaluation maps version 2 "
                                                                        r"\(metadata format .*, version '3'\)"),
    (_vqa_maps(), {}, "not vqadesk evaluation maps version 2"),
    ({**_vqa_maps(), "extra": np.ones(1)}, "v2", "field 'extra': unexpected tensor"),
    ({"maps/2x2": np.ones((3, 2, 2), np.float16)}, "v2", r"field 'ids/2x2': missing \(the file has maps/2x2\)"),
    ({"maps/2x2": np.ones((3, 2, 2), np.float32), "ids/2x2": np.arange(3, dtype=np.int64)}, "v2",
     r"field 'maps/2x2': expected float16 \(N, 2, 2\), got F32"),
    ({"maps/2x2": np.ones((3, 2, 3), np.float16), "ids/2x2": np.arange(3, dtype=np.int64)}, "v2",
     "field 'maps/2x2': expected float16"),
    ({"maps/2x2": np.ones((3, 2, 2), np.float16), "ids/2x2": np.arange(4, dtype=np.int64)}, "v2",
     r"field 'ids/2x2': expected int64 \(3,\) \(3 maps\), got I64 \(4,\)"),
    ({"maps/2x2": np.ones((3, 2, 2), np.float16), "ids/2x2": np.arange(3, dtype=np.int32)}, "v2",
     "field 'ids/2x2': expected int64"),
    ({"maps/2x2": np.ones((2, 2, 2), np.float16), "ids/2x2": np.array([7, 7], np.int64),
      "maps/1x1": np.ones((1, 1, 1), np.float16), "ids/1x1": np.array([1], np.int64)}, "v2",
     "field 'ids/2x2': question id 7 appears more than once"),
    ({"maps/2x2": np.full((2, 2, 2), np.inf, np.float16), "ids/2x2": np.array([0, 1], np.int64)}, "v2",
     "field 'maps/2x2': non-finite values in the map of id 0"),
])
def test_malformed_maps_are_one_line_naming_the_tensor(vqa_folder, tensors, metadata, message):
    from safetensors.numpy import save_file

    row = open_evaluation(vqa_folder).rows[0]
    if metadata == "v2":
        metadata = {"format": "vqadesk-evaluation-maps", "version": "2"}
    save_file(tensors, str(vqa_folder / "maps.safetensors"), metadata=metadata)
    with pytest.raises(DataFormatError, match=message) as caught:
        open_evaluation(vqa_folder).map_for(replace(row, question_id=0))
    assert "\n" not in str(caught.value) and "maps.safetensors" in str(caught.value)


def test_malformed_caption_maps(caption_folder):
    from safetensors.numpy import save_file

    row = open_evaluation(caption_folder).rows[0]
    v2 = {"format": "vqadesk-evaluation-maps", "version": "2"}
    path = caption_folder / "maps.safetensors"
    save_file({"maps/2x2": np.ones((2, 2, 2), np.float16), "ids/2x2": np.arange(2, dtype=np.int64)}, str(path),
              metadata=v2)
    with pytest.raises(DataFormatError, match=r"field 'ids/2x2': expected int64 \(2, 2\)"):
        open_evaluation(caption_folder).map_for(row)
    ids = np.array([[row.image_id, 0], [row.image_id, 0]], np.int64)
    save_file({"maps/2x2": np.ones((2, 2, 2), np.float16), "ids/2x2": ids}, str(path), metadata=v2)
    with pytest.raises(DataFormatError, match=f"image id and word {row.image_id}, 0 appears more than once"):
        open_evaluation(caption_folder).map_for(row)
    # Words 0 and 1 of different shapes (a map per shape group), word 3 after a gap is not read.
    save_file({"maps/2x2": np.ones((1, 2, 2), np.float16), "ids/2x2": np.array([[row.image_id, 0]], np.int64),
               "maps/1x1": np.ones((2, 1, 1), np.float16),
               "ids/1x1": np.array([[row.image_id, 1], [row.image_id, 3]], np.int64)}, str(path), metadata=v2)
    with pytest.raises(DataFormatError, match=f"the word maps of image {row.image_id} differ in shape"):
        open_evaluation(caption_folder).map_for(row)
    save_file({"maps/1x1": np.full((3, 1, 1), 0.5, np.float16),
               "ids/1x1": np.array([[row.image_id, 3], [row.image_id, 1], [row.image_id, 0]], np.int64)}, str(path),
              metadata=v2)
    assert open_evaluation(caption_folder).map_for(row).shape == (2, 1, 1)


def test_delete(vqa_folder, tmp_path):
    opened = open_evaluation(vqa_folder)
    assert opened.map_for(opened.rows[0]) is not None
    opened.close()
    delete_evaluation(vqa_folder)
    assert not vqa_folder.exists()
    stranger = tmp_path / "photos"
    stranger.mkdir()
    with pytest.raises(VqadeskError, match="not an evaluation folder .no evaluation.json.; not deleted"):
        delete_evaluation(stranger)
    assert stranger.is_dir()
    with pytest.raises(VqadeskError, match="no such folder"):
        delete_evaluation(tmp_path / "gone")
    partial = tmp_path / ".20260101-000000-x-val.partial"
    partial.mkdir()
    delete_evaluation(partial)
    assert not partial.exists()


def test_rows_columns_match_the_rows(vqa_folder):
    rows = open_evaluation(vqa_folder).rows
    codes, names = rows.categories("question_type")
    assert [names[c] for c in codes] == [row.question_type for row in rows]
    answer_codes, answers = rows.categories("answer")
    assert [answers[c] for c in answer_codes] == [row.answer for row in rows]
    assert rows.strings("question") == [row.question for row in rows]
    assert rows.strings("image") == [row.image for row in rows]
    assert rows.ids.tolist() == [row.question_id for row in rows]
    assert rows.column("accuracy").tolist() == [row.accuracy for row in rows]
    assert rows[-1] == list(rows)[-1] and rows[1:3] == list(rows)[1:3]
    with pytest.raises(IndexError):
        rows[42]
    assert rows.position_of(rows[7].question_id) == 7
    with pytest.raises(KeyError):
        rows.by_id(1)


def test_the_rows_index_is_saved_reused_and_rebuilt_when_stale_or_damaged(vqa_folder):
    index = vqa_folder / ".rows-index.safetensors"
    assert not index.exists()
    first = open_evaluation(vqa_folder).rows
    assert index.is_file()
    made = index.stat().st_mtime_ns
    again = open_evaluation(vqa_folder).rows
    assert index.stat().st_mtime_ns == made and again.strings("question") == first.strings("question")
    assert list_evaluations(vqa_folder.parent)[0].path == vqa_folder  # a hidden file: not an evaluation
    index.write_bytes(b"not safetensors at all")
    assert len(open_evaluation(vqa_folder).rows) == 42  # a damaged index is rebuilt
    # An edited rows file (blank lines added: line numbers count them) makes the index stale.
    rewrite_rows(vqa_folder, lambda lines: ["", *lines[:2], "", *lines[2:]])
    rows = open_evaluation(vqa_folder).rows
    assert len(rows) == 42 and rows[2] == first[2]
    rewrite_rows(vqa_folder, lambda lines: [*lines[:4], lines[4].replace('"accuracy"', '"acc"'), *lines[5:]])
    with pytest.raises(DataFormatError, match=r"field 'line 5.accuracy': missing"):
        len(open_evaluation(vqa_folder).rows)


def test_rows_when_the_index_cannot_be_written(vqa_folder):
    """A read-only folder only loses the speed-up (a folder in the index's place fails the write, even as root)."""
    (vqa_folder / ".rows-index.safetensors").mkdir()
    assert len(open_evaluation(vqa_folder).rows) == 42
    assert (vqa_folder / ".rows-index.safetensors").is_dir()
    assert [p.name for p in vqa_folder.iterdir() if p.name.endswith(".tmp")] == []


def test_caption_rows_columns(caption_folder):
    rows = open_evaluation(caption_folder).rows
    assert rows.strings("caption") == [row.caption for row in rows]
    assert rows.column("cider").tolist() == [row.cider for row in rows]
    assert rows.by_id(785).image_id == 785


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_in_place_of_a_file_is_refused_not_waited_on(vqa_folder):
    """Hostile files (issue 16): every file of the folder is checked to be a regular file before it is opened."""
    os.mkfifo(vqa_folder / ".rows-index.safetensors")
    assert len(open_evaluation(vqa_folder).rows) == 42  # an index that is not a file is ignored (and not replaced)
    row = open_evaluation(vqa_folder).rows[0]
    (vqa_folder / "maps.safetensors").unlink()
    os.mkfifo(vqa_folder / "maps.safetensors")
    with pytest.raises(DataFormatError, match="maps.safetensors: is not a regular file .a FIFO."):
        open_evaluation(vqa_folder).map_for(row)
    for name in ("rows.jsonl", "metrics.json", "evaluation.json"):
        (vqa_folder / name).unlink()
        os.mkfifo(vqa_folder / name)
        with pytest.raises(DataFormatError, match=f"{name}: is not a regular file .a FIFO."):
            len(open_evaluation(vqa_folder).rows)
    (entry,) = list_evaluations(vqa_folder.parent)
    assert entry.damaged and "evaluation.json: is not a regular file (a FIFO)" in entry.problem


@pytest.mark.parametrize("name", ["evaluation.json", "metrics.json", "rows.jsonl", "maps.safetensors"])
@pytest.mark.parametrize("make", [hostile_files.urandom_link, hostile_files.sparse])
def test_hostile_files_in_place_of_the_folders_files(vqa_folder, name, make):
    """Endless or huge files (issue 16) end in one error naming the file, read no further than a limit."""
    row = open_evaluation(vqa_folder).rows[0]
    (vqa_folder / ".rows-index.safetensors").unlink()
    make(vqa_folder / name)
    with pytest.raises(DataFormatError, match=re.escape(name) + ": "):
        evaluation = open_evaluation(vqa_folder)
        assert len(evaluation.rows) == 42
        evaluation.map_for(row)


@pytest.mark.parametrize("make", [hostile_files.urandom_link, hostile_files.sparse, hostile_files.fifo])
def test_a_hostile_index_is_ignored(vqa_folder, make):
    make(vqa_folder / ".rows-index.safetensors")
    assert open_evaluation(vqa_folder).rows.strings("question")[0] == "What is the woman doing?"


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda r: r.update(question_id=hostile_files.ID_BEYOND_64_BITS), r"'line 1.question_id': an integer of 22 digits"),
    (lambda r: r.update(question=hostile_files.LONE_SURROGATE), r"'line 1.question': text with a lone UTF-16 surrog"),
    (lambda r: r["human_answers"].__setitem__(3, hostile_files.LONE_SURROGATE), r"'line 1.human_answers\[3\]': text"),
    (lambda r: r.update(accuracy=hostile_files.ID_BEYOND_64_BITS), r"'line 1.accuracy': expected an accuracy from 0"),
])
def test_hostile_values_in_rows(vqa_folder, spoil, message):
    rewrite_rows(vqa_folder, change_row(0, spoil))
    with pytest.raises(DataFormatError, match=message):
        len(open_evaluation(vqa_folder).rows)


def test_five_thousand_digits_in_rows(vqa_folder):
    hostile_files.five_thousand_digits(vqa_folder / "rows.jsonl", "accuracy")
    with pytest.raises(DataFormatError, match="rows.jsonl: line 1 is not valid JSON"):
        len(open_evaluation(vqa_folder).rows)

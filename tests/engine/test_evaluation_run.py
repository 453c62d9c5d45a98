"""``run_evaluation``: any model on a split into an evaluation folder the store opens, with metrics
equal to ``vqadesk evaluate --json``'s, subsets, cancel, full disk, abandoned partial folders and
one-line errors.

Tiny real models (tests/support/inference_models.py) on a 12-image Shapes world; the real COCO
photos (../shared/fixtures) with an own model and tiny Hugging Face architectures.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tests.support.cli_runs import run as run_cli
from tests.support.hf_cache_layout import put_in_cache
from tests.support.inference_models import tiny_models
from tests.support.real_coco import VAL, photo_files, write_real_root
from tests.support.tiny_captioners import build_blip
from tests.support.tiny_vqa_models import tiny_vqa_models
from vqadesk.engine.inference.evaluation_run import run_evaluation
from vqadesk.engine.precision import resolve_precision
from vqadesk.engine.torch_free import evaluation_folder
from vqadesk.engine.torch_free.evaluation_folder import PartialFolder, remove_abandoned
from vqadesk.engine.torch_free.evaluations import list_evaluations, open_evaluation
from vqadesk.engine.torch_free.evaluations.rows_index import INDEX_FILE
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory)


def evaluate(model, data, split="val", out=None, **options) -> tuple[list[dict], Path | None]:
    events = list(run_evaluation(model, data, split, device="cpu", out_root=out, **options))
    done = events[-1].get("folder")
    return events, Path(done) if done else None


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_vqa_evaluation_writes_a_whole_folder_the_store_opens(models, tmp_path, capsys):
    out = tmp_path / "evaluations"
    events, folder = evaluate(models.vqa, models.shapes, out=out, batch_size=7)
    start, progress, done = events[0], events[1:-1], events[-1]
    assert start["event"] == "start" and start["kind"] == "vqa" and start["subset"] is None
    assert [e["event"] for e in progress] == ["progress"] * len(progress)
    assert progress[-1]["done"] == start["total"] and all(e["total"] == start["total"] for e in progress)
    assert done["event"] == "done" and leftovers(out) == [folder.name]  # no .partial left
    assert folder.name.endswith(f"-{Path(models.vqa).parent.name}-best-val")

    index = folder / INDEX_FILE  # the store's rows index, built before the rename
    built = index.stat().st_mtime_ns
    evaluation = open_evaluation(folder)
    manifest = read_json(folder / "evaluation.json")
    assert manifest["model"]["reference"] == str(Path(models.vqa).resolve())
    assert manifest["count"] == start["total"] == len(evaluation.rows) and manifest["device"] == "cpu"
    # Own models run in the resolved --precision auto too (docs/performance.md)
    assert manifest["attention_region"] == "centre-square"
    assert manifest["precision"] == resolve_precision("auto", torch.device("cpu"))
    assert manifest["has_maps"] and manifest["headline"] == {"name": "VQA accuracy",
                                                             "value": evaluation.metrics["overall"]}
    assert [e.path for e in list_evaluations(out)] == [folder]
    assert index.stat().st_mtime_ns == built  # reused by the first open, not rebuilt

    # metrics.json is what `vqadesk evaluate vqa --json` prints for the folder's results file.
    code, printed, _ = run_cli(capsys, "evaluate", "vqa", "--questions", folder / "questions.json",
                               "--annotations", manifest["ground_truth"]["annotations"],
                               "--results", folder / "results.json", "--json")
    assert code == 0 and json.loads(printed) == read_json(folder / "metrics.json")
    assert "calibration" in json.dumps(evaluation.metrics)  # the results carry "score"

    results = read_json(folder / "results.json")
    for row, result in zip(evaluation.rows, results):
        assert row.question_id == result["question_id"] and row.answer == result["answer"] == row.top_k[0][0]
        assert row.score == result["score"] == row.top_k[0][1] and len(row.top_k) == 5
        assert row.accuracy == evaluation.metrics["perQuestion"][str(row.question_id)]
        assert len(row.human_answers) == 10 and (models.shapes / row.image).is_file()
        grid = evaluation.map_for(row)
        assert grid.ndim == 2 and abs(float(grid.sum()) - 1.0) < 0.02


def test_a_captioner_evaluation_matches_vqadesk_evaluate_captions(models, tmp_path, capsys):
    events, folder = evaluate(models.captioner, models.shapes, out=tmp_path)
    evaluation = open_evaluation(folder)
    manifest = evaluation.manifest
    assert manifest.kind == "captioning" and events[0]["total"] == len(evaluation.rows)
    captions = read_json(folder / "evaluation.json")["ground_truth"]["captions"]
    code, printed, _ = run_cli(capsys, "evaluate", "captions", "--annotations", captions,
                               "--results", folder / "results.json", "--json")
    assert code == 0 and json.loads(printed) == evaluation.metrics
    assert read_json(folder / "evaluation.json")["headline"]["value"] == evaluation.metrics["CIDEr"]
    row = evaluation.rows[0]
    assert row.references and row.cider == evaluation.metrics["perImageCIDEr"][str(row.image_id)]
    maps = evaluation.map_for(row)
    assert maps.shape[0] == len(row.caption.split(" "))
    with safe_open(str(folder / "maps.safetensors"), framework="numpy") as handle:  # (image id, word) per map
        (name,) = [key for key in handle.keys() if key.startswith("ids/")]
        ids = handle.get_tensor(name)
    assert ids.dtype == np.int64 and ids.shape == (sum(len(r.caption.split(" ")) for r in evaluation.rows), 2)


def test_a_model_without_attention_has_no_maps(models, tmp_path):
    _, folder = evaluate(models.bow, models.shapes, out=tmp_path, subset=5)
    assert not read_json(folder / "evaluation.json")["has_maps"] and not (folder / "maps.safetensors").exists()
    evaluation = open_evaluation(folder)
    assert evaluation.map_for(evaluation.rows[0]) is None


def test_the_same_subset_size_and_seed_give_the_same_questions(models, tmp_path):
    def ids(seed):
        _, folder = evaluate(models.vqa, models.shapes, out=tmp_path / str(seed), subset=9, seed=seed)
        manifest = read_json(folder / "evaluation.json")
        assert manifest["subset"] == {"size": 9, "seed": seed} and manifest["count"] == 9
        return [row.question_id for row in open_evaluation(folder).rows]

    first = ids(3)
    assert first == ids(3) and first == sorted(first, key=first.index)
    assert ids(4) != first


def test_a_subset_larger_than_the_split_is_the_whole_split_and_says_so(models, tmp_path):
    events, folder = evaluate(models.captioner, models.shapes, out=tmp_path, subset=10_000)
    assert "not smaller than the split" in events[0]["note"] and events[0]["subset"] is None
    assert read_json(folder / "evaluation.json")["subset"] is None


def test_stop_between_batches_leaves_no_folder(models, tmp_path):
    calls = []
    events = list(run_evaluation(models.vqa, models.shapes, "val", device="cpu", out_root=tmp_path,
                                 batch_size=4, stop=lambda: calls.append(1) or len(calls) > 2))
    assert events[-1] == {"event": "cancelled", "done": 8, "total": events[0]["total"]}
    assert leftovers(tmp_path) == []


def test_closing_the_generator_mid_run_leaves_no_folder(models, tmp_path):
    events = run_evaluation(models.vqa, models.shapes, "val", device="cpu", out_root=tmp_path, batch_size=4)
    next(events), next(events)  # start, the first progress
    assert len(leftovers(tmp_path)) == 1 and leftovers(tmp_path)[0].endswith(".partial")
    events.close()
    assert leftovers(tmp_path) == []


def test_a_full_disk_removes_the_partial_folder_in_one_line(models, tmp_path, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluation_folder, "write_json_atomic", full)
    with pytest.raises(VqadeskError, match="no space left on the disk") as caught:
        evaluate(models.vqa, models.shapes, out=tmp_path, subset=3)
    assert "\n" not in str(caught.value) and leftovers(tmp_path) == []


def test_abandoned_partial_folders_go_and_live_ones_stay(tmp_path):
    abandoned = tmp_path / ".20250101-000000-x-val.partial"
    abandoned.mkdir(parents=True)
    (abandoned / ".lock").touch()
    (abandoned / "rows.jsonl").write_text("{}\n")
    killed_early = tmp_path / ".20250101-000000-z-val.partial"  # killed before it took its lock
    killed_early.mkdir()
    os.utime(killed_early, (time.time() - 120, time.time() - 120))
    starting = tmp_path / ".20250101-000000-w-val.partial"  # a run taking its lock right now
    starting.mkdir()
    live = PartialFolder(tmp_path / "20250101-000001-y-val")  # a new run removes the abandoned ones
    assert not abandoned.exists() and not killed_early.exists() and starting.is_dir()
    assert remove_abandoned(tmp_path) == [] and live.path.is_dir()  # a live run's folder stays
    same_second = PartialFolder(tmp_path / "20250101-000001-y-val")  # another run, same name
    assert same_second.path != live.path and live.path.is_dir()
    assert live.finish() == tmp_path / "20250101-000001-y-val"
    assert same_second.finish() == tmp_path / "20250101-000001-y-val-2"


@pytest.mark.parametrize(("change", "model", "expected"), [
    (None, "no-such-model",
     "unknown model 'no-such-model'; available models: shapes-captioner (captioning), shapes-vqa (vqa)"),
    (None, "model.pt", "is a pickled PyTorch file"),
    ("no-captions", "captioner", "split 'val' has no captions"),
    ("no-questions", "vqa", "split 'val' has no VQA questions"),
    ("no-annotations", "vqa", "has questions but no annotations"),
    ("no-split", "vqa", "no split 'val'"),
    ("no-photo", "vqa", "no image file for image"),
])
def test_inputs_that_cannot_be_evaluated_are_one_line(models, tmp_path, change, model, expected):
    data = tmp_path / "world"
    shutil.copytree(models.shapes, data)
    if change == "no-captions":
        (data / "annotations" / "captions_val.json").unlink()
    elif change == "no-questions":
        for path in (data / "vqa").glob("*_val_*.json"):
            path.unlink()
    elif change == "no-annotations":
        (data / "vqa" / "v2_shapes_val_annotations.json").unlink()
    elif change == "no-photo":
        next((data / "val").glob("*.png")).unlink()
    elif change == "no-split":
        for path in (data / "annotations").glob("*_val.json"):
            path.unlink()
    reference = {"captioner": models.captioner, "vqa": models.vqa}.get(model, model)
    with pytest.raises(VqadeskError) as caught:
        evaluate(reference, data, out=tmp_path / "out")
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert leftovers(tmp_path / "out") == []


@pytest.fixture(scope="module")
def real_root(tmp_path_factory, coco_real, vqa_v2_sample) -> Path:
    """The real photos in COCO 2014 layout (val2014/ holds links to the fixtures' photos)."""
    root = write_real_root(tmp_path_factory.mktemp("real"), coco_real, vqa_v2_sample)
    (root / "val2014").mkdir()
    for image_id, path in photo_files(coco_real).items():
        if image_id in VAL:
            (root / "val2014" / path.name).symlink_to(path)
    return root


def test_the_bundled_model_on_real_coco_photos(real_root, tmp_path):
    events, folder = evaluate("shapes-vqa", real_root, "val2014", out=tmp_path)
    evaluation = open_evaluation(folder)
    assert evaluation.manifest.count == events[0]["total"] == 12
    assert {row.image for row in evaluation.rows} == {f"val2014/{p.name}" for p in (real_root / "val2014").iterdir()}
    assert all(evaluation.map_for(row) is not None for row in evaluation.rows)


def test_hub_vqa_model_with_maps_of_each_photos_shape(real_root, tmp_path, tmp_path_factory):
    vilt = tiny_vqa_models(tmp_path_factory).vilt
    put_in_cache(vilt, "tiny-org/vilt-vqa")
    events, folder = evaluate("hf:tiny-org/vilt-vqa", real_root, "val2014", out=tmp_path, precision="fp32")
    manifest = read_json(folder / "evaluation.json")
    assert manifest["model"] == {"reference": "hf:tiny-org/vilt-vqa", "label": "vilt-vqa"}
    assert manifest["precision"] == "fp32" and "-vilt-vqa-val2014" in folder.name
    assert manifest["attention_region"] == "whole-image"
    evaluation = open_evaluation(folder)
    shapes = {evaluation.map_for(row).shape for row in evaluation.rows}
    assert len(shapes) > 1  # ViLT's patch grid follows each photo's aspect ratio
    with safe_open(str(folder / "maps.safetensors"), framework="numpy") as handle:  # one pair of tensors per shape
        assert sorted(handle.keys()) == sorted(f"{part}/{h}x{w}" for h, w in shapes for part in ("ids", "maps"))
        assert sum(len(handle.get_tensor(f"ids/{h}x{w}")) for h, w in shapes) == len(evaluation.rows)
    assert all(0.0 <= row.score <= 1.0 for row in evaluation.rows)


def test_hub_captioner_from_a_model_folder(real_root, tmp_path):
    blip = build_blip(tmp_path / "blip").folder
    _, folder = evaluate(blip, real_root, "val2014", out=tmp_path / "out", subset=2, seed=1, precision="fp32")
    manifest = read_json(folder / "evaluation.json")
    assert manifest["model"] == {"reference": str(blip.resolve()), "label": "blip"}
    assert manifest["kind"] == "captioning" and manifest["count"] == 2
    evaluation = open_evaluation(folder)
    row = evaluation.rows[0]
    assert len(row.references) == 2 and np.isfinite(row.cider)


@pytest.mark.parametrize(("options", "expected"), [
    ({"subset": 0}, "the subset size must be at least 1, got 0"),
    ({"subset": 3, "seed": -1}, "the subset's seed must be at least 0, got -1"),
])
def test_a_subset_that_cannot_be_drawn_is_one_line(models, tmp_path, options, expected):
    with pytest.raises(VqadeskError, match=expected):
        evaluate(models.vqa, models.shapes, out=tmp_path, **options)
    assert leftovers(tmp_path) == []


def test_an_unusable_device_is_one_line_before_the_start_event(models, tmp_path):
    events = run_evaluation(models.vqa, models.shapes, "val", device="cuda:99", out_root=tmp_path)
    with pytest.raises(VqadeskError, match="--device cuda:99") as caught:
        next(events)
    assert "\n" not in str(caught.value) and leftovers(tmp_path) == []

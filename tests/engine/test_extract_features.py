"""``python -m training.extract_features`` on the 15 real COCO photos of ``../shared/fixtures``.

``--weights none`` (a seeded random network: no weights file is needed) and
small images keep each extraction to seconds on a 2-core CPU; one run checks
the real 7 x 7 grid at 224 px. Resuming is checked after ``--max-images`` and
after a SIGKILL; unreadable photos are skipped; missing ImageNet weights end
in one clear line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training import extract_features as script
from vqadesk.data.feature_store import FEATURES, FeatureStore
from vqadesk.engine.features.feature_extraction import ExtractionConfig, build_encoder, extract_features
from vqadesk.engine.image_tensors import load_image_tensor
from vqadesk.engine.torch_free.extraction_config import LAYERS_BY_BACKBONE
from vqadesk.models.image_encoder_base import LAYERS_BY_ENCODER

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}


def extract(images: Path, out: Path, **options) -> list[dict]:
    # fp32: these tests compare rows with the network run by hand (bf16: tests/engine/test_precision_policy.py)
    settings = {"weights": "none", "image_size": 64, "batch_size": 8, "workers": 0, "log_interval_s": 0.0,
                "precision": "fp32"}
    return list(extract_features(ExtractionConfig(images=str(images), out=str(out), **{**settings, **options})))


@pytest.fixture
def routine(capsys):
    """``python -m training.extract_features`` in this process: (exit code, events, stderr lines)."""

    def run(*argv) -> tuple[int, list[dict], list[str]]:
        try:
            code = script.main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
        captured = capsys.readouterr()
        events = [json.loads(line) for line in captured.out.splitlines()]
        return code, events, [line for line in captured.err.splitlines() if line.strip() and "\r" not in line]

    return run


@pytest.fixture(scope="module")
def resnet50_store(coco_real, tmp_path_factory) -> Path:
    """The reference: all 15 photos, resnet50 grid at 64 px, batches of 4, one run."""
    out = tmp_path_factory.mktemp("reference") / "store"
    extract(coco_real, out, backbone="resnet50", batch_size=4)
    return out


@pytest.mark.parametrize(("backbone", "layer", "dtype", "shape"), [
    ("vgg16", "fc7", "float16", (4096,)),
    ("vgg16", "grid", "float16", (512, 4, 4)),  # conv5_3 at 64 / 16
    ("resnet152", "pooled", "float32", (2048,)),  # random ResNet-152 features exceed float16
])
def test_each_backbone_fills_a_store(coco_real, tmp_path, backbone, layer, dtype, shape):
    events = extract(coco_real, tmp_path / "store", backbone=backbone, layer=layer, dtype=dtype)
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "done"
    assert events[-1]["complete"] and events[-1]["extracted"] == 15
    store = FeatureStore(tmp_path / "store")
    assert store.feature_shape == shape and store.dtype == np.dtype(dtype) and store.complete
    features = store.read_rows(np.arange(15)).astype(np.float32)
    assert np.isfinite(features).all() and (features.reshape(15, -1).std(axis=1) > 0).all()


def test_the_store_holds_what_the_network_gives_for_each_photo(coco_real, resnet50_store):
    store = FeatureStore(resnet50_store)
    manifest = store.manifest
    assert manifest.backbone == "resnet50" and manifest.layer == "grid" and manifest.image_size == 64
    assert manifest.feature_shape == (2048, 2, 2) and manifest.dtype == "float16" and manifest.precision == "fp32"
    assert manifest.weights["kind"] == "none" and manifest.weights["seed"] == 0
    assert len(manifest.weights["sha256"]) == 64 and manifest.preprocessing["mean"] == [0.485, 0.456, 0.406]
    assert 458752 in manifest.image_ids and 39769 in manifest.image_ids and len(manifest.image_ids) == 15
    assert manifest.source["images"] == str(coco_real.resolve()) and manifest.source["annotations"] is None

    # The same seeded network run by hand on two photos (a JPEG and the PNG) gives the stored rows.
    encoder, weights = build_encoder(ExtractionConfig(images=str(coco_real), out="-", weights="none", image_size=64))
    assert weights["sha256"] == manifest.weights["sha256"]
    # The routine runs it in channels_last on JPEGs decoded in draft mode; by hand: the default layout.
    photos = [coco_real / "COCO_val2014_000000262148.jpg", coco_real / "000000039769.png"]
    pixels = torch.stack([load_image_tensor(p, 64, draft=True) for p in photos])
    with torch.inference_mode():
        expected = encoder(encoder.prepare(pixels)).numpy()
    stored = store.features([262148, 39769]).astype(np.float32)
    np.testing.assert_allclose(stored, expected, rtol=2e-3, atol=2e-3)


def test_real_grid_shapes_at_224_px(coco_real, tmp_path):
    events = extract(coco_real, tmp_path / "store", backbone="resnet50", image_size=224, max_images=2, batch_size=2)
    assert events[0]["feature_shape"] == [2048, 7, 7] and events[-1]["committed"] == 2
    assert not events[-1]["complete"]
    encoder, _ = build_encoder(ExtractionConfig(images=str(coco_real), out="-", weights="none", image_size=448))
    assert encoder.output_shape == (2048, 14)  # the 14 x 14 grid of attention models at 448 px


def test_a_coco_file_gives_its_images_in_its_order(coco_real, tmp_path):
    document = {"images": [{"id": 393225, "file_name": "COCO_val2014_000000393225.jpg"},
                           {"id": 785, "file_name": "000000000785.jpg"},
                           {"id": 999, "file_name": "COCO_val2014_000000000999.jpg"}],  # not on disk
                "annotations": []}
    (tmp_path / "captions_val2014.json").write_text(json.dumps(document))
    events = extract(coco_real, tmp_path / "store", coco=str(tmp_path / "captions_val2014.json"))
    store = FeatureStore(tmp_path / "store")
    assert store.image_ids == (393225, 785, 999) and store.available_image_ids() == [393225, 785]
    assert [e["image_id"] for e in events if e["event"] == "skipped"] == [999]
    assert store.why_missing(999) == "skipped (image file not found)"


def test_resume_after_max_images_continues_without_recomputing(coco_real, resnet50_store, tmp_path):
    out = tmp_path / "store"
    first = extract(coco_real, out, backbone="resnet50", batch_size=4, max_images=6)
    assert first[-1]["committed"] == 6 and not first[-1]["complete"]
    second = extract(coco_real, out, backbone="resnet50", batch_size=4)
    assert second[0]["already_done"] == 6 and second[0]["to_do"] == 9 and second[0]["resumed"]
    assert second[-1]["extracted"] == 9 and second[-1]["complete"]
    np.testing.assert_allclose(_rows(out), _rows(resnet50_store), rtol=2e-3, atol=2e-3)
    again = extract(coco_real, out, backbone="resnet50", batch_size=4)  # complete: nothing to do
    assert again[0]["to_do"] == 0 and again[-1]["extracted"] == 0


def test_resume_after_a_kill_keeps_every_committed_row(coco_real, resnet50_store, tmp_path):
    out = tmp_path / "store"
    process = subprocess.Popen(
        [sys.executable, "-m", "training.extract_features", "--images", str(coco_real), "--out", str(out),
         "--weights", "none", "--image-size", "64", "--batch-size", "4", "--workers", "1", "--log-interval", "0",
         "--precision", "fp32"],
        cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    for line in process.stdout:
        if json.loads(line)["event"] == "step":  # the first batch is committed
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    process.stdout.close()
    committed = json.loads((out / "progress.json").read_text())["committed"]
    assert 4 <= committed <= 15
    # Mark the committed rows (a resumed run must not touch them) and scribble over the
    # others (half-written rows of the killed run must be rewritten).
    features = np.lib.format.open_memmap(out / FEATURES, mode="r+")
    features[:committed] = 7.0
    features[committed:] = np.nan
    features.flush()
    del features

    done = subprocess.run(
        [sys.executable, "-m", "training.extract_features", "--images", str(coco_real), "--out", str(out),
         "--weights", "none", "--image-size", "64", "--batch-size", "4", "--workers", "1", "--precision", "fp32"],
        cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["already_done"] == committed and events[-1]["complete"]
    resumed = _rows(out)
    assert (resumed[:committed] == 7.0).all()
    np.testing.assert_allclose(resumed[committed:], _rows(resnet50_store)[committed:], rtol=2e-3, atol=2e-3)


def test_unreadable_photos_are_skipped_and_listed(coco_real, tmp_path, routine):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("000000000785.jpg", "COCO_val2014_000000262148.jpg"):
        shutil.copy(coco_real / name, photos / name)
    (photos / "COCO_val2014_000000000001.jpg").write_bytes(b"this is not a JPEG")
    (photos / "000000014439.jpg").write_bytes((coco_real / "000000014439.jpg").read_bytes()[:2000])  # truncated
    code, events, _ = routine("--images", photos, "--out", tmp_path / "store", "--weights", "none",
                              "--image-size", 64, "--workers", 0)
    assert code == 0
    skipped = {e["image_id"]: e for e in events if e["event"] == "skipped"}
    assert set(skipped) == {1, 14439} and skipped[1]["file"].endswith("COCO_val2014_000000000001.jpg")
    assert events[-1]["extracted"] == 2 and events[-1]["skipped"] == 2 and events[-1]["complete"]
    store = FeatureStore(tmp_path / "store")
    assert {s.image_id for s in store.progress.skipped} == {1, 14439}
    assert 785 in store and 14439 not in store and "skipped" in store.why_missing(1)


def test_missing_imagenet_weights_are_one_clear_line(coco_real, tmp_path, routine, monkeypatch):
    empty_cache = tmp_path / "torch-home"
    empty_cache.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(empty_cache))  # no weights there, and vqadesk never downloads
    code, events, errors = routine("--images", coco_real, "--out", tmp_path / "store", "--image-size", 64)
    assert code == 1 and len(errors) == 1
    assert "resnet50-11ad3fa6.pth" in errors[0] and "never downloads" in errors[0]
    assert str(empty_cache / "hub" / "checkpoints") in errors[0]
    assert events == [{"event": "error", "message": errors[0].removeprefix("error: ")}]
    assert not (tmp_path / "store").exists()  # nothing is created before the network exists


def test_bad_options_and_folders(coco_real, tmp_path, routine):
    code, _, errors = routine("--images", coco_real, "--out", tmp_path / "s", "--backbone", "vgg16",
                              "--layer", "pooled")
    assert code == 2 and "--layer for vgg16 must be one of fc7, grid" in errors[-1]
    code, _, errors = routine("--images", tmp_path / "nowhere", "--out", tmp_path / "s", "--weights", "none")
    assert code == 1 and errors == [f"error: {tmp_path / 'nowhere'}: folder not found (--images)"]
    assert LAYERS_BY_BACKBONE == {name: LAYERS_BY_ENCODER[name] for name in LAYERS_BY_BACKBONE}


def _rows(store: Path) -> np.ndarray:
    return FeatureStore(store).read_rows(np.arange(15)).astype(np.float32)

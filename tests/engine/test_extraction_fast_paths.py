"""Feature extraction's JPEG draft decoding on the 15 real COCO photos of ``../shared/fixtures``.

Draft mode (``load_image(draft_side=...)``) decodes a JPEG at 1/2, 1/4 or 1/8 of its size when
both sides stay at least the target, so it changes pixels only for photos at least twice the
target; the features of a seeded ResNet-50 must stay what a full decode gives (cosine per photo;
the floor and the measured values are in docs/performance.md). ``--full-decode`` keeps the
pixels, and the stores, of the versions before draft mode.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vqadesk.data.feature_store import FeatureStore, FeatureStoreError
from vqadesk.data.images import load_image
from vqadesk.engine.features.feature_extraction import build_encoder, extract_features
from vqadesk.engine.image_tensors import load_image_tensor
from vqadesk.engine.torch_free.extraction_config import ExtractionConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COSINE_FLOOR = 0.995  # measured: >= 0.998 per photo at 64 px, >= 0.9996 at 224 px (docs/performance.md)


def photos(coco_real):
    return sorted(p for p in coco_real.iterdir() if p.suffix in (".jpg", ".png"))


def test_draft_changes_only_jpegs_at_least_twice_the_target(coco_real):
    for photo in photos(coco_real):
        full, drafted = load_image_tensor(photo, 224), load_image_tensor(photo, 224, draft=True)
        assert drafted.shape == full.shape == (3, 224, 224)
        with Image.open(photo) as image:
            reducible = image.format == "JPEG" and min(image.size) >= 448
        if reducible:  # decoded at half size, then resized: close, not equal
            difference = (drafted.float() - full.float()).abs()
            assert 0 < difference.mean() < 4, photo.name
        else:
            assert torch.equal(drafted, full), photo.name


def test_drafted_features_match_the_full_decode(coco_real):
    encoder, _ = build_encoder(ExtractionConfig(images=str(coco_real), out="-", weights="none", image_size=64))
    files = photos(coco_real)
    full = torch.stack([load_image_tensor(p, 64) for p in files])
    drafted = torch.stack([load_image_tensor(p, 64, draft=True) for p in files])
    assert not torch.equal(full, drafted)  # at 64 px every JPEG here is reduced
    with torch.inference_mode():
        a, b = (encoder(encoder.prepare(x)).flatten(1) for x in (full, drafted))
    cosine = torch.nn.functional.cosine_similarity(a, b)
    assert (cosine >= COSINE_FLOOR).all(), dict(zip((p.name for p in files), cosine.tolist()))


def test_draft_keeps_the_exif_orientation(coco_real, tmp_path):
    photo = coco_real / "COCO_train2014_000000458752.jpg"  # 640 x 480
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown turned 90 degrees clockwise
    buffer = io.BytesIO()
    with Image.open(photo) as image:
        image.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(buffer.getvalue())
    full, drafted = load_image(rotated), load_image(rotated, draft_side=200)
    assert full.size == (480, 640) and drafted.size == (240, 320)  # upright, half size
    assert load_image(rotated, draft_side=300).size == (480, 640)  # 480 < 2 x 300: full decode


OLD_DECODE = "vqadesk.data.images.load_image: EXIF upright, 8-bit RGB, transparency on white"  # stores before draft


def test_full_decode_makes_and_resumes_the_stores_made_before_draft_mode(coco_real, tmp_path):
    out = tmp_path / "store"
    settings = {"images": str(coco_real), "out": str(out), "weights": "none", "image_size": 64, "batch_size": 4,
                "workers": 0, "precision": "fp32", "log_interval_s": 0.0}
    first = list(extract_features(ExtractionConfig(**settings, full_decode=True, max_images=4)))
    assert first[-1]["committed"] == 4
    assert FeatureStore(out).manifest.preprocessing["decode"] == OLD_DECODE  # what older versions recorded
    with pytest.raises(FeatureStoreError, match="preprocessing"):  # draft pixels never mix into such a store
        list(extract_features(ExtractionConfig(**settings)))
    resumed = list(extract_features(ExtractionConfig(**settings, full_decode=True)))
    assert resumed[0]["already_done"] == 4 and resumed[-1]["complete"]

    encoder, _ = build_encoder(ExtractionConfig(images=str(coco_real), out="-", weights="none", image_size=64))
    photo = coco_real / "COCO_val2014_000000262148.jpg"
    with torch.inference_mode():
        expected = encoder(encoder.prepare(load_image_tensor(photo, 64)[None])).numpy()
    stored = FeatureStore(out).features([262148]).astype(np.float32)
    np.testing.assert_allclose(stored, expected, rtol=2e-3, atol=2e-3)

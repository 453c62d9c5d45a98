"""The precision policy (engine/precision.py, docs/performance.md): resolved, recorded, kept on resume,
and bf16 loses nothing that matters.

* ``auto`` is resolved for the device and only the resolved precision is recorded: feature store
  manifests, checkpoints, start events, predictions, the inference process's status text;
  records written before the policy read as fp32;
* a resumed store or run keeps its recorded precision under ``auto``; an explicit other one is refused;
* equivalence: bf16 features of the real fixture photos against float32 (cosine floors justified
  in docs/performance.md), and a short Shapes training run whose validation accuracy in bf16
  matches float32's within the seed-to-seed spread of float32 itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.data.feature_store import MANIFEST, FeatureStore, FeatureStoreError
from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.features.feature_extraction import ExtractionConfig, extract_features
from vqadesk.engine.image_tensors import load_image_tensor
from vqadesk.engine.inference.model_pool import ModelPool
from vqadesk.engine.inference.predictor import Predictor
from vqadesk.engine.precision import recorded_precision, resolve_precision, settle_precision
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask
from vqadesk.models.image_encoder_base import ImageEncoderConfig
from vqadesk.models.image_encoders import build_image_encoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")
AUTO_HERE = resolve_precision("auto", CPU)  # bf16 on CPUs with AVX512-BF16 or AMX, else fp32
# Floors for bf16 against float32 features of the same photo (docs/performance.md measured the
# minima 0.99994 raw, 0.9979 centred, on these 15 photos; the highest raw cosine between two
# *different* photos' float32 features was 0.9855, below the raw floor).
RAW_COSINE_FLOOR = 0.999
CENTRED_COSINE_FLOOR = 0.99
# The float32 seed-to-seed spread (max - min) of the best validation accuracy of the run below,
# seeds 0-2 (docs/performance.md); bf16 differed from float32 by at most 0.6 points, same seed.
FP32_SEED_SPREAD = 2.2


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


# -- resolving and recording ----------------------------------------------------------------------


def test_auto_keeps_a_recorded_precision_and_old_records_read_fp32():
    assert settle_precision("auto", CPU) == AUTO_HERE
    assert settle_precision("auto", CPU, recorded="fp32") == "fp32"
    assert settle_precision("bf16", CPU, recorded="fp32") == "bf16"  # explicit: the caller refuses the change
    assert recorded_precision({}) == "fp32"
    assert recorded_precision({"training_config": {"precision": "bf16"}}) == "bf16"
    assert recorded_precision({"precision": "bf16", "training_config": {"precision": "auto"}}) == "bf16"


def extract(images: Path, out: Path, **options) -> list[dict]:
    settings = {"weights": "none", "backbone": "resnet50", "image_size": 64, "batch_size": 8, "workers": 0,
                "log_interval_s": 0.0}
    return list(extract_features(ExtractionConfig(images=str(images), out=str(out), **{**settings, **options})))


def test_a_store_records_the_resolved_precision_and_keeps_it_when_resumed(coco_real, tmp_path):
    out = tmp_path / "store"
    events = extract(coco_real, out, max_images=8)
    assert events[0]["precision"] == AUTO_HERE and FeatureStore(out).manifest.precision == AUTO_HERE
    assert json.loads((out / MANIFEST).read_text())["precision"] == AUTO_HERE
    other = "fp32" if AUTO_HERE == "bf16" else "bf16"
    with pytest.raises(FeatureStoreError, match=f"started in {AUTO_HERE} arithmetic.*--precision {AUTO_HERE}"):
        extract(coco_real, out, precision=other)
    # A store made before the policy: no key, read as fp32, and auto resumes it in fp32.
    manifest = json.loads((out / MANIFEST).read_text())
    del manifest["precision"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    if AUTO_HERE == "fp32":
        return
    with pytest.raises(FeatureStoreError, match="not bf16"):
        extract(coco_real, out, precision="bf16")
    resumed = extract(coco_real, out)
    assert resumed[0]["precision"] == "fp32" and resumed[-1]["complete"]


def test_predictions_of_own_models_record_their_precision(models):
    image = models.images()[0]
    for precision in ("fp32", "bf16"):
        predictor = Predictor(vqa=models.vqa, captioner=models.captioner, device="cpu", precision=precision)
        answer = predictor.ask(image, "what color is the circle?")
        caption = predictor.caption(image, beam_size=2)
        assert answer.precision == precision and caption.precision == precision
        assert abs(float(answer.attention.sum()) - 1.0) < 1e-5  # maps renormalised in float32
    auto = Predictor(vqa=models.bow, captioner=None, device="cpu").ask(image, "how many shapes are there?")
    assert auto.precision == AUTO_HERE


def test_the_inference_process_reports_device_and_precision(models):
    loaded = ModelPool(device="cpu").loaded()
    assert loaded.precision == AUTO_HERE and loaded.status_text == f"{loaded.device} · {AUTO_HERE}"
    assert ModelPool(device="cpu", precision="fp32").loaded().status_text.endswith("· fp32")


# -- equivalence: features ------------------------------------------------------------------------


def _bf16_and_fp32_features(encoder, photos: list[Path], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = encoder.prepare(torch.stack([load_image_tensor(p, size) for p in photos]))
    with torch.inference_mode():
        exact = encoder(pixels).float().flatten(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = encoder(pixels).float().flatten(1)
    return exact, low


@pytest.mark.slow
def test_bf16_resnet_features_of_the_real_photos_match_float32(coco_real):
    photos = sorted(p for p in coco_real.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(photos) == 15
    torch.manual_seed(0)
    encoder = build_image_encoder(ImageEncoderConfig(name="resnet50", layer="grid", image_size=224,
                                                     weights="none", trainable=False))
    exact, low = _bf16_and_fp32_features(encoder, photos, 224)  # (15, 2048 * 7 * 7)
    assert F.cosine_similarity(exact, low, dim=1).min() >= RAW_COSINE_FLOOR
    # Centred on the photos' mean feature: what tells one photo from another survives too.
    mean = exact.mean(dim=0, keepdim=True)
    assert F.cosine_similarity(exact - mean, low - mean, dim=1).min() >= CENTRED_COSINE_FLOOR


def test_bf16_features_of_a_trained_encoder_match_float32(coco_real):
    """The bundled VQA model's trained image encoder (the small CNN), on the real photos."""
    from vqadesk.engine.checkpoints.trained_models import load_trained_vqa
    from vqadesk.engine.torch_free.model_registry import resolve_model

    model = load_trained_vqa(resolve_model("shapes-vqa", "vqa"), CPU).model
    photos = sorted(p for p in coco_real.iterdir() if p.suffix in (".jpg", ".png"))
    exact, low = _bf16_and_fp32_features(model.image_encoder, photos, model.config.image_encoder.image_size)
    assert F.cosine_similarity(exact, low, dim=1).min() >= RAW_COSINE_FLOOR


# -- equivalence: training ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_bf16_training_run_validates_like_float32(tmp_path):
    """Six epochs of the bow model on 150 Shapes images: bf16's best validation accuracy is within
    float32's own seed-to-seed spread of float32's, and both learnt (chance is about 24 %)."""
    write_shapes_dataset(tmp_path / "data", splits=("train", "val"), n_images=150, seed=11, size=64)
    best = {}
    for precision in ("fp32", "bf16"):
        config = TrainingConfig(task="vqa", data=str(tmp_path / "data"), out=str(tmp_path / precision), model="bow",
                                batch_size=8, embed_dim=32, hidden_dim=64, image_size=64, epochs=6, lr=3e-3,
                                patience=100, log_interval_s=0.0, device="cpu", precision=precision)
        events = list(train(config, VqaTask()))
        assert events[0]["precision"] == precision and events[0]["config"]["precision"] == precision
        best[precision] = events[-1]["best"]
        checkpoint = load_checkpoint(tmp_path / precision / "best.json")
        assert checkpoint.metadata["precision"] == precision
        assert {t.dtype for t in checkpoint.model_state.values() if t.is_floating_point()} == {torch.float32}
    assert best["fp32"] > 33 and best["bf16"] > 33
    assert abs(best["bf16"] - best["fp32"]) <= FP32_SEED_SPREAD, best


# -- channels_last ------------------------------------------------------------------------------


def test_frozen_backbones_store_weights_channels_last_and_trainable_ones_do_not():
    """Trainable weights keep the default layout: fused Adam mis-updates channels-last parameters whose
    saved state comes back contiguous (docs/performance.md); the input is channels-last for both."""
    configs = {trainable: ImageEncoderConfig(name="resnet50", layer="grid", image_size=64, weights="none",
                                             trainable=trainable) for trainable in (True, False)}
    torch.manual_seed(0)
    trainable = build_image_encoder(configs[True]).eval()
    torch.manual_seed(0)
    frozen = build_image_encoder(configs[False])
    conv = "backbone.conv1.weight"
    assert trainable.state_dict()[conv].is_contiguous()
    assert frozen.state_dict()[conv].is_contiguous(memory_format=torch.channels_last)
    pixels = trainable.prepare(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))
    with torch.inference_mode():
        torch.testing.assert_close(frozen(pixels), trainable(pixels), rtol=1e-4, atol=1e-4)


def test_auto_on_cuda_is_bf16_where_the_gpu_has_it_else_fp16(monkeypatch):
    """The CUDA branch of the policy, with the one capability it reads mocked (no GPU here)."""
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert resolve_precision("auto", cuda) == "fp16" and settle_precision("auto", cuda) == "fp16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"

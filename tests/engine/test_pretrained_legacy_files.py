"""Model folders as the Hub's repositories hold them: written by transformers 4, read by transformers 5.

The released repositories were saved years ago: an image processor in ``preprocessor_config.json``
(ViLT's still names a ``ViltFeatureExtractor`` with an integer ``size``), no
``processor_config.json``, the tokenizer as ``vocab.txt`` + ``tokenizer_config.json`` +
``special_tokens_map.json``. These tests rewrite the tiny models' folders that way (the fields
as on the real repositories' pages) and check that they load and answer exactly as the folders
transformers 5 wrote.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.real_coco import photo_files
from tests.support.tiny_vqa_models import TinyVqaModels, tiny_vqa_models
from vqadesk.engine.inference.predictor import Predictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SKATEBOARDER = 87038
QUESTION = "what is the man riding?"
_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyVqaModels:
    return tiny_vqa_models(tmp_path_factory)


def as_transformers_4_wrote_it(folder: Path, image_processor: dict, processor_class: str) -> None:
    """``folder`` with its processor files in the layout of the released repositories."""
    (folder / "processor_config.json").unlink()
    (folder / "tokenizer.json").unlink(missing_ok=True)
    preprocessor = {**image_processor, "processor_class": processor_class}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer",
        "processor_class": processor_class,
    }))
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
    }))


def answers(model: Path, photo: Path) -> list[tuple[str, float]]:
    prediction = Predictor(vqa=str(model), captioner=None, device="cpu", precision="fp32").ask(photo, QUESTION)
    return [(answer.text, round(answer.prob, 5)) for answer in prediction.answers]


def test_vilt_with_a_feature_extractor_config_answers_as_before(tiny, coco_real, tmp_path):
    legacy = tmp_path / "vilt"
    shutil.copytree(tiny.vilt, legacy)
    saved = json.loads((tiny.vilt / "processor_config.json").read_text())["image_processor"]
    as_transformers_4_wrote_it(legacy, {
        "do_normalize": True, "do_resize": True, "feature_extractor_type": "ViltFeatureExtractor",
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 3,
        "size": saved["size"]["shortest_edge"], "size_divisor": saved["size_divisor"],
    }, "ViltProcessor")
    photo = photo_files(coco_real)[SKATEBOARDER]
    assert answers(legacy, photo) == answers(tiny.vilt, photo)


def test_blip_with_a_preprocessor_config_answers_as_before(tiny, coco_real, tmp_path):
    legacy = tmp_path / "blip"
    shutil.copytree(tiny.blip, legacy)
    saved = json.loads((tiny.blip / "processor_config.json").read_text())["image_processor"]
    as_transformers_4_wrote_it(legacy, {
        "do_normalize": True, "do_resize": True, "image_mean": _CLIP_MEAN, "image_std": _CLIP_STD,
        "image_processor_type": "BlipImageProcessor", "resample": 3, "rescale_factor": 1 / 255,
        "size": saved["size"],
    }, "BlipProcessor")
    (legacy / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"], "cls_token": "[CLS]", "mask_token": "[MASK]",
        "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
    }))
    photo = photo_files(coco_real)[SKATEBOARDER]
    assert answers(legacy, photo) == answers(tiny.blip, photo)

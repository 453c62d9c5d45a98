"""The pretrained captioners (BLIP, GIT, vision-encoder-decoder) through the Predictor: the same
records, feature cache and batching as the own captioner, from a model folder or an ``hf:`` name.

The captioners themselves are tested in ``test_pretrained_captioners.py``; here, what the
Predictor adds: the cache (a second caption of a photo skips the vision encoder), batches with a
repeated photo, the records' timings, model name, path and attention region.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.hf_cache_layout import put_in_cache
from tests.support.real_coco import photo_files
from tests.support.tiny_captioners import BUILDERS, GRID
from vqadesk.engine.inference.predictor import Predictor
from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SKATEBOARDER = 87038
CATS = 39769
REGIONS = {
    "BlipForConditionalGeneration": WHOLE_IMAGE,
    "GitForCausalLM": CENTRE_SQUARE,
    "VisionEncoderDecoderModel": WHOLE_IMAGE,
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-captioners")
    return {architecture: build(root / architecture).folder for architecture, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def photos(coco_real):
    return photo_files(coco_real)


@pytest.mark.parametrize("architecture", list(BUILDERS))
def test_captions_come_as_the_own_models_records_and_use_the_cache(folders, photos, architecture):
    folder = folders[architecture]
    predictor = Predictor(vqa=None, captioner=folder, device="cpu", precision="fp32")
    predictor.load_captioner(folder)
    encoded = []
    predictor._captioner.model.vision_encoder.register_forward_hook(lambda *_: encoded.append(1))
    batch = predictor.caption_many([photos[SKATEBOARDER], photos[CATS], photos[SKATEBOARDER]], beam_size=3,
                                   num_captions=2)
    assert len(encoded) == 1  # one pass over the two distinct photos
    assert [p.cached for p in batch] == [False, False, False]
    for prediction in batch:
        assert len(prediction.captions) == 2 and prediction.captions[0].text != prediction.captions[1].text
        assert prediction.captions[0].score >= prediction.captions[1].score
        assert prediction.attention_region == REGIONS[architecture]
        assert prediction.model == str(folder)
        assert set(prediction.timings_ms) == {"load_image", "encode", "decode", "total"}
        for word in prediction.best.words:
            assert 0.0 < word.prob <= 1.0 and word.attention.shape == GRID
            assert float(word.attention.sum()) == pytest.approx(1.0, abs=1e-5)
    assert [c.text for c in batch[2].captions] == [c.text for c in batch[0].captions]
    assert predictor.captioner_path == folder and predictor.captioner_model == str(folder)

    again = predictor.caption(photos[CATS], beam_size=3, num_captions=2)
    assert len(encoded) == 1 and again.cached and again.timings_ms["encode"] == 0.0
    assert [c.text for c in again.captions] == [c.text for c in batch[1].captions]
    np.testing.assert_allclose(again.best.words[0].attention, batch[1].best.words[0].attention, atol=1e-6)


@pytest.mark.parametrize("architecture", list(BUILDERS))
def test_captioners_load_from_the_hugging_face_cache(folders, photos, architecture):
    snapshot = put_in_cache(folders[architecture], f"tiny-org/{architecture.lower()}")
    name = f"hf:tiny-org/{architecture.lower()}"
    predictor = Predictor(vqa=None, captioner=name, device="cpu", precision="fp32")
    prediction = predictor.caption(photos[SKATEBOARDER], beam_size=2)
    assert prediction.model == name and predictor.captioner_path == snapshot
    from_folder = Predictor(vqa=None, captioner=folders[architecture], device="cpu", precision="fp32")
    assert prediction.best.text == from_folder.caption(photos[SKATEBOARDER], beam_size=2).best.text

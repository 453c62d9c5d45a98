"""The pretrained VQA models (ViLT, BLIP) through the Predictor and the ModelPool, with tiny random models.

Both are loaded through the real path: a model folder saved by ``save_pretrained``, or the same
folder in a Hugging Face cache layout named ``hf:ORG/NAME[@REVISION]``; the photos are the real
COCO photos of ``../shared/fixtures``. Answers are checked against transformers' own forward
pass and ``generate``, so the cached-embedding path computes what the library computes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.hf_cache_layout import commit_of, put_in_cache
from tests.support.real_coco import photo_files
from tests.support.tiny_vqa_models import (
    ANSWER_LABELS,
    BLIP_GRID,
    VILT_GRID_LANDSCAPE,
    TinyVqaModels,
    tiny_vqa_models,
)
from vqadesk.data.images import load_image
from vqadesk.engine.inference.model_pool import ModelPool
from vqadesk.engine.inference.predictor import EmptyQuestionError, Predictor
from vqadesk.engine.precision import PrecisionError
from vqadesk.engine.pretrained import blip_vqa, vilt_vqa
from vqadesk.engine.pretrained.vilt_vqa import cls_rollout
from vqadesk.engine.torch_free.predictions import WHOLE_IMAGE, VqaPrediction

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SKATEBOARDER = 87038  # 640 x 480
JUMPER = 262148  # 640 x 512
CATS = 39769  # 640 x 480, a PNG
QUESTION = "what is the man riding?"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyVqaModels:
    return tiny_vqa_models(tmp_path_factory)


@pytest.fixture(scope="session")
def photos(coco_real):
    return photo_files(coco_real)


def check_answers(prediction: VqaPrediction, k: int) -> None:
    texts = [answer.text for answer in prediction.answers]
    probs = [answer.prob for answer in prediction.answers]
    assert len(texts) == k and len(set(texts)) == k
    assert probs == sorted(probs, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert sum(probs) <= 1.0 + 1e-6  # distinct answers: probabilities of disjoint events


def check_map(grid: np.ndarray, shape: tuple[int, int]) -> None:
    assert grid.shape == shape and grid.dtype == np.float32
    assert (grid >= 0).all() and float(grid.sum()) == pytest.approx(1.0, abs=1e-5)
    assert grid.max() > grid.min()  # the sharpened tiny models look somewhere in particular


# -- ViLT ----------------------------------------------------------------------------------------


def test_vilt_answers_with_its_labels_as_transformers_does(tiny, photos):
    from transformers import ViltForQuestionAnswering, ViltProcessor

    predictor = Predictor(vqa=tiny.vilt, captioner=None, device="cpu", precision="fp32")
    prediction = predictor.ask(photos[SKATEBOARDER], QUESTION, top_k=3)
    check_answers(prediction, 3)
    assert {answer.text for answer in prediction.answers} <= set(ANSWER_LABELS)
    check_map(prediction.attention, VILT_GRID_LANDSCAPE)
    assert prediction.glimpses.shape == (1, *VILT_GRID_LANDSCAPE)
    assert prediction.attention_region == WHOLE_IMAGE
    assert prediction.model == str(tiny.vilt) and predictor.vqa_path == tiny.vilt
    assert set(prediction.timings_ms) == {"load_image", "encode", "answer", "total"}

    processor = ViltProcessor.from_pretrained(tiny.vilt)
    model = ViltForQuestionAnswering.from_pretrained(tiny.vilt).eval()
    with torch.inference_mode():
        logits = model(**processor(images=load_image(photos[SKATEBOARDER]), text=QUESTION, return_tensors="pt")).logits
    probs, indices = torch.softmax(logits, dim=-1)[0].topk(3)
    assert [a.text for a in prediction.answers] == [model.config.id2label[i] for i in indices.tolist()]
    assert [a.prob for a in prediction.answers] == pytest.approx(probs.tolist(), abs=1e-5)


def test_vilt_maps_follow_each_photos_own_grid_and_batches_change_nothing(tiny, photos):
    predictor = Predictor(vqa=tiny.vilt, captioner=None, device="cpu", precision="fp32")
    upright = load_image(photos[SKATEBOARDER]).transpose(Image.Transpose.ROTATE_90)  # 480 x 640, in memory
    images = [photos[SKATEBOARDER], photos[JUMPER], upright]
    questions = [QUESTION, "is he wearing a hat?", "what sport is this?"]
    batch = predictor.ask_many(images, questions, top_k=2)
    # 96 px on the shorter side in 16-pixel patches: 96 x 128, 96 x 120 -> 112, 128 x 96
    for prediction, shape in zip(batch, [(6, 8), (6, 7), (8, 6)]):
        check_map(prediction.attention, shape)
    predictor.clear_cache()
    for prediction, image, question in zip(batch, images, questions):
        alone = predictor.ask(image, question, top_k=2)
        assert [a.text for a in alone.answers] == [a.text for a in prediction.answers]
        assert [a.prob for a in alone.answers] == pytest.approx([a.prob for a in prediction.answers], abs=1e-5)
        np.testing.assert_allclose(alone.attention, prediction.attention, atol=1e-6)


def test_vilt_maps_do_not_depend_on_the_order_its_patches_are_drawn_in(tiny, photos, monkeypatch):
    predictor = Predictor(vqa=tiny.vilt, captioner=None, device="cpu", precision="fp32")
    state = torch.random.get_rng_state()
    first = predictor.ask(photos[CATS], "how many cats are there?")
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is left alone
    monkeypatch.setattr(vilt_vqa, "_PATCH_ORDER_SEED", 1)  # another order of the same patch tokens
    second = predictor.ask(photos[CATS], "how many cats are there?")
    np.testing.assert_allclose(second.attention, first.attention, atol=1e-6)
    assert [a.prob for a in second.answers] == pytest.approx([a.prob for a in first.answers], abs=1e-5)


def test_attention_rollout_follows_attention_through_the_residual_connections():
    # Three tokens; layer 1: every token looks at token 2; layer 2: token 0 looks at token 1.
    to_two = torch.tensor([[0.0, 0.0, 1.0]] * 3)
    to_one = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    flow = cls_rollout([to_two[None, None], to_one[None, None]])[0]
    # Layer 2: 0.5 stays at 0, 0.5 goes to 1; layer 1 sends half of each on to token 2.
    assert flow.tolist() == pytest.approx([0.25, 0.25, 0.5])


# -- BLIP ----------------------------------------------------------------------------------------


def test_blip_answers_are_distinct_generated_and_scored(tiny, photos):
    from transformers import BlipForQuestionAnswering, BlipProcessor

    predictor = Predictor(vqa=tiny.blip, captioner=None, device="cpu", precision="fp32")
    prediction = predictor.ask(photos[SKATEBOARDER], QUESTION, top_k=3)
    check_answers(prediction, 3)
    check_map(prediction.attention, BLIP_GRID)
    assert prediction.attention_region == WHOLE_IMAGE

    # transformers' own generate, with as many beams, returns the same candidates.
    processor = BlipProcessor.from_pretrained(tiny.blip)
    model = BlipForQuestionAnswering.from_pretrained(tiny.blip).eval()
    inputs = processor(images=load_image(photos[SKATEBOARDER]), text=QUESTION, return_tensors="pt")
    with torch.inference_mode():
        sequences = model.generate(**inputs, num_beams=5, num_return_sequences=5, max_new_tokens=10)
    generated = {text.strip() for text in processor.batch_decode(sequences, skip_special_tokens=True)}
    assert {answer.text for answer in prediction.answers} <= generated


def test_a_second_question_about_a_photo_skips_blips_vision_encoder(tiny, photos, tmp_path):
    predictor = Predictor(vqa=tiny.blip, captioner=None, device="cpu")
    predictor.load_vqa(tiny.blip)
    runs = []
    predictor._vqa.model.vision_model.register_forward_hook(lambda *_: runs.append(1))
    first = predictor.ask(photos[SKATEBOARDER], QUESTION)
    second = predictor.ask(photos[SKATEBOARDER], "is he in the air?")
    renamed = tmp_path / "same-photo.jpg"
    renamed.write_bytes(photos[SKATEBOARDER].read_bytes())
    again = predictor.ask(renamed, QUESTION)
    assert len(runs) == 1
    assert (first.cached, second.cached, again.cached) == (False, True, True)
    assert second.timings_ms["encode"] == 0.0 and first.timings_ms["encode"] > 0.0
    assert [(a.text, a.prob) for a in again.answers] == [(a.text, a.prob) for a in first.answers]
    predictor.ask(photos[CATS], QUESTION)
    assert len(runs) == 2


def test_blip_batches_give_each_question_the_answers_it_gets_alone(tiny, photos):
    predictor = Predictor(vqa=tiny.blip, captioner=None, device="cpu", precision="fp32")
    images = [photos[SKATEBOARDER], photos[CATS], photos[SKATEBOARDER]]
    questions = ["what?", "how many cats are there on the pink couch in this photo?", QUESTION]
    predictor.load_vqa(tiny.blip)
    encoded = []
    predictor._vqa.model.vision_model.register_forward_hook(lambda _m, args, kwargs, _out: encoded.append(
        len(kwargs["pixel_values"])), with_kwargs=True)
    batch = predictor.ask_many(images, questions, top_k=2)
    assert encoded == [2]  # one pass over the two distinct photos
    for prediction, image, question in zip(batch, images, questions):
        alone = predictor.ask(image, question, top_k=2)
        assert [a.text for a in alone.answers] == [a.text for a in prediction.answers]
        # float32 sums in another order, through peaked (sharpened) attention: close, not equal
        assert [a.prob for a in alone.answers] == pytest.approx([a.prob for a in prediction.answers], rel=1e-2)
        np.testing.assert_allclose(alone.attention, prediction.attention, atol=1e-5)


@pytest.mark.parametrize("kind", ["vilt", "blip"])
def test_long_batches_are_answered_a_few_questions_at_a_time(tiny, photos, monkeypatch, kind):
    predictor = Predictor(vqa=getattr(tiny, kind), captioner=None, device="cpu", precision="fp32")
    images = [photos[SKATEBOARDER], photos[JUMPER], photos[CATS]]
    questions = [QUESTION, "is he wearing a hat?", "how many cats are there?"]
    whole = predictor.ask_many(images, questions, top_k=2)
    monkeypatch.setattr(blip_vqa if kind == "blip" else vilt_vqa, "_QUESTIONS_PER_PASS", 2)
    in_passes = predictor.ask_many(images, questions, top_k=2)
    for one, other in zip(whole, in_passes):
        assert [a.text for a in one.answers] == [a.text for a in other.answers]
        assert [a.prob for a in one.answers] == pytest.approx([a.prob for a in other.answers], rel=1e-2)
        assert one.attention.shape == other.attention.shape


def test_an_empty_question_is_refused_before_any_work(tiny, photos):
    predictor = Predictor(vqa=tiny.blip, captioner=None, device="cpu")
    with pytest.raises(EmptyQuestionError, match="the question is empty"):
        predictor.ask_many([photos[CATS], photos[CATS]], [QUESTION, " \u200b "])


# -- from the Hugging Face cache, precision, the pool ----------------------------------------------


@pytest.mark.parametrize("kind", ["vilt", "blip"])
def test_models_load_from_the_hugging_face_cache_by_name_revision_and_commit(tiny, photos, kind):
    folder = getattr(tiny, kind)
    repo_id = f"tiny-org/tiny-{kind}"
    snapshot = put_in_cache(folder, repo_id, "main")
    converted = put_in_cache(folder, repo_id, "refs/pr/9")
    from_folder = Predictor(vqa=folder, captioner=None, device="cpu").ask(photos[JUMPER], QUESTION, top_k=2)
    for name, expected_folder in (
        (f"hf:{repo_id}", snapshot),
        (f"hf:{repo_id}@refs/pr/9", converted),
        (f"hf:{repo_id}@{commit_of(repo_id, 'main')}", snapshot),
    ):
        predictor = Predictor(vqa=name, captioner=None, device="cpu")
        prediction = predictor.ask(photos[JUMPER], QUESTION, top_k=2)
        assert prediction.model == name and predictor.vqa_model == name
        assert predictor.vqa_path == expected_folder
        assert [(a.text, a.prob) for a in prediction.answers] == [(a.text, a.prob) for a in from_folder.answers]


def test_precision_is_chosen_per_predictor(tiny, photos):
    predictor = Predictor(vqa=tiny.blip, captioner=None, device="cpu", precision="bf16")
    predictor.load_vqa(tiny.blip)
    assert predictor._vqa.model.precision == "bf16"
    check_answers(predictor.ask(photos[CATS], "how many cats are there?", top_k=2), 2)
    with pytest.raises(PrecisionError, match="fp16 needs a CUDA GPU"):
        Predictor(vqa=tiny.blip, captioner=None, device="cpu", precision="fp16").load_vqa(tiny.blip)
    with pytest.raises(PrecisionError, match="must be one of auto, fp32, bf16, fp16"):
        Predictor(vqa=None, captioner=None, device="cpu", precision="fp8")


def test_the_model_pool_runs_hub_models_and_knows_a_snapshot_is_its_hf_name(tiny, photos):
    snapshot = put_in_cache(tiny.blip, "tiny-org/tiny-blip")
    pool = ModelPool(device="cpu", precision="fp32")
    loaded = pool.load_vqa("hf:tiny-org/tiny-blip")
    assert (loaded.vqa, loaded.vqa_path) == ("hf:tiny-org/tiny-blip", snapshot)
    asked = pool.ask(photos[CATS], QUESTION, top_k=2)
    by_folder = pool.ask_with(snapshot, photos[CATS], QUESTION, top_k=2)
    assert by_folder.cached  # the active predictor answered: same weights file, same model
    assert [(a.text, a.prob) for a in by_folder.answers] == [(a.text, a.prob) for a in asked.answers]
    compared = pool.compare(["hf:tiny-org/tiny-blip", tiny.vilt, "hf:tiny-org/not-downloaded"], photos[CATS],
                            QUESTION, top_k=2)
    assert [c.error is None for c in compared] == [True, True, False]
    assert compared[1].prediction.attention_region == WHOLE_IMAGE
    assert "vqadesk models download hf:tiny-org/not-downloaded" in compared[2].error


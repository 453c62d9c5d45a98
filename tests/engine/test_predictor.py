"""The Predictor: answers, attention, captions, the feature cache, model names and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.engine.checkpoints.checkpoint import CheckpointError
from vqadesk.engine.device import DeviceError, pick_device
from vqadesk.engine.inference.feature_cache import FeatureCache, image_key
from vqadesk.engine.inference.predictor import (
    EmptyQuestionError,
    InferenceInputError,
    NoModelError,
    Predictor,
    encode_question,
)
from vqadesk.engine.torch_free import model_registry
from vqadesk.engine.torch_free.model_registry import UnknownModelError, list_models, resolve_model
from vqadesk.errors import ImageLoadError
from vqadesk.text.tokenizer import tokenize_question
from vqadesk.text.vocabulary import END_ID, PAD_ID, START_ID, UNK_ID

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="module")
def predictor(models) -> Predictor:
    # fp32: these tests rerun the model by hand and compare; bf16 runs: tests/engine/test_precision_policy.py
    return Predictor(vqa=models.vqa, captioner=models.captioner, device="cpu", precision="fp32")


@pytest.fixture
def image(models) -> Path:
    return models.images()[0]


def copy_checkpoint(json_path: Path, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(json_path, folder / f"{name}.json")
    shutil.copy(json_path.with_suffix(".safetensors"), folder / f"{name}.safetensors")
    return folder / f"{name}.json"


# -- answers ---------------------------------------------------------------------------


def test_answers_are_the_top_k_softmax_probabilities_best_first(predictor, image):
    prediction = predictor.ask(image, "what color is the circle?", top_k=4)
    probs = [a.prob for a in prediction.answers]
    assert len(prediction.answers) == 4
    assert probs == sorted(probs, reverse=True)
    assert all(0 < p <= 1 for p in probs) and sum(probs) <= 1 + 1e-6
    assert len({a.text for a in prediction.answers}) == 4
    assert prediction.best is prediction.answers[0]
    assert prediction.question == "what color is the circle?"
    assert prediction.model == str(predictor.vqa_model) and set(prediction.timings_ms) == {
        "load_image", "encode", "answer", "total"}

    everything = predictor.ask(image, "what color is the circle?", top_k=100_000)
    num_answers = predictor._vqa.trained.model.config.num_answers
    assert len(everything.answers) == num_answers  # top_k beyond the vocabulary: all of it
    assert sum(a.prob for a in everything.answers) == pytest.approx(1.0, abs=1e-5)
    assert [a.text for a in everything.answers[:4]] == [a.text for a in prediction.answers]


def test_attention_is_the_mean_of_the_glimpses_and_sums_to_one(predictor, image):
    prediction = predictor.ask(image, "is there a red square?")
    glimpses = prediction.glimpses
    config = predictor._vqa.trained.model.config
    assert glimpses.dtype == np.float32 and glimpses.ndim == 3 and glimpses.shape[0] == config.glimpses
    assert prediction.attention.shape == glimpses.shape[1:]
    assert prediction.attention.dtype == np.float32
    assert prediction.attention.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(glimpses.sum(axis=(1, 2)), 1.0, atol=1e-5)
    np.testing.assert_allclose(prediction.attention, glimpses.mean(axis=0), atol=1e-6)
    assert (prediction.attention >= 0).all()


def test_models_without_attention_give_none(models, image):
    prediction = Predictor(vqa=models.bow, captioner=None, device="cpu").ask(image, "how many shapes?")
    assert prediction.attention is None and prediction.glimpses is None
    assert prediction.answers


# -- the feature cache ---------------------------------------------------------------------


def test_second_question_about_an_image_skips_the_encoder(models, image, tmp_path):
    predictor = Predictor(vqa=models.vqa, captioner=None, device="cpu")
    first = predictor.ask(image, "what color is the circle?")
    assert not first.cached and first.timings_ms["encode"] > 0
    second = predictor.ask(image, "how many shapes are there?")
    assert second.cached and second.timings_ms["encode"] == 0
    again = predictor.ask(image, "what color is the circle?")
    assert again.cached
    assert [(a.text, a.prob) for a in again.answers] == [(a.text, a.prob) for a in first.answers]
    np.testing.assert_array_equal(again.glimpses, first.glimpses)
    assert len(predictor.cache) == 1

    # The key is the content: the same bytes under another name hit; changed bytes miss.
    renamed = tmp_path / "copy.png"
    shutil.copy(image, renamed)
    assert predictor.ask(renamed, "what color is the circle?").cached
    Image.open(image).rotate(90).save(renamed)
    assert not predictor.ask(renamed, "what color is the circle?").cached


def test_the_cache_belongs_to_one_loaded_model(models, image):
    predictor = Predictor(vqa=models.vqa, captioner=models.captioner, device="cpu")
    predictor.ask(image, "what color is the circle?")
    assert not predictor.caption(image).cached  # the captioner's encoder is another network
    assert predictor.caption(image).cached and len(predictor.cache) == 2
    predictor.load_vqa(models.vqa)  # a fresh copy of the same file: its own features
    assert len(predictor.cache) == 1  # the unloaded model's are dropped
    assert not predictor.ask(image, "what color is the circle?").cached


def test_feature_cache_drops_the_least_recently_used():
    cache: FeatureCache[int] = FeatureCache(max_entries=2)
    cache.put(("a", "m"), 1)
    cache.put(("b", "m"), 2)
    assert cache.get(("a", "m")) == 1  # a is now the most recent
    cache.put(("c", "m"), 3)
    assert cache.get(("b", "m")) is None and cache.get(("a", "m")) == 1 and cache.get(("c", "m")) == 3
    assert len(cache) == 2 and cache.hits == 3 and cache.misses == 1
    cache.put(("a", "other"), 4)
    cache.forget_encoder("m")
    assert len(cache) == 1 and cache.get(("a", "other")) == 4
    cache.clear()
    assert len(cache) == 0


def test_image_key_is_the_content(image, tmp_path):
    copy = tmp_path / "same.png"
    shutil.copy(image, copy)
    assert image_key(copy) == image_key(image)
    pixels = Image.open(image)
    assert image_key(pixels) == image_key(pixels.copy()) != image_key(pixels.convert("L"))
    with pytest.raises(ImageLoadError, match="file not found"):
        image_key(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="folder"):
        image_key(tmp_path)


# -- batches and image inputs ---------------------------------------------------------------


def test_ask_many_matches_single_questions_and_encodes_each_image_once(models):
    # fp32: batched and single runs agree to 1e-5 (bf16's own rounding differs with the batch's shape)
    predictor = Predictor(vqa=models.vqa, captioner=None, device="cpu", precision="fp32")
    a, b = models.images()[:2]
    questions = ["what color is the circle?", "how many shapes?", "is there a square?"]
    batch = predictor.ask_many([a, b, a], questions, top_k=3)
    assert len(predictor.cache) == 2 and [p.cached for p in batch] == [False, False, False]
    assert batch[0].timings_ms == batch[1].timings_ms  # the batch's timings
    for prediction, image, question in zip(batch, [a, b, a], questions):
        single = predictor.ask(image, question, top_k=3)
        assert single.cached
        assert [x.text for x in single.answers] == [x.text for x in prediction.answers]
        np.testing.assert_allclose([x.prob for x in single.answers], [x.prob for x in prediction.answers], atol=1e-5)
    assert predictor.ask_many([], []) == []
    with pytest.raises(InferenceInputError, match="2 images for 1 questions"):
        predictor.ask_many([a, b], ["what?"])


def test_a_pil_image_is_read_like_its_file(predictor, image):
    from_file = predictor.ask(image, "what color is the triangle?")
    in_memory = Image.open(image)
    from_pil = predictor.ask(in_memory, "what color is the triangle?")
    assert [(x.text, pytest.approx(x.prob, abs=1e-6)) for x in from_pil.answers] == [
        (x.text, x.prob) for x in from_file.answers]
    # Transparency is laid on white, as the loader does for files.
    rgba = Image.open(image).convert("RGBA")
    assert predictor.ask(rgba, "what color is the triangle?").answers[0].text == from_file.answers[0].text


def test_bad_images_are_clear_errors(predictor, tmp_path):
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    with pytest.raises(ImageLoadError, match="notes.png"):
        predictor.ask(text_file, "what color is the circle?")
    with pytest.raises(ImageLoadError, match="file not found"):
        predictor.ask(tmp_path / "missing.png", "what color is the circle?")
    with pytest.raises(InferenceInputError, match="file path or a PIL image"):
        predictor.ask(42, "what color is the circle?")


# -- questions -------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\u200b\u200b", " \u3000 "])
def test_empty_questions_are_refused(predictor, image, question):
    with pytest.raises(EmptyQuestionError, match="the question is empty"):
        predictor.ask(image, question)


def test_a_question_that_is_not_text_is_refused(predictor, image):
    with pytest.raises(InferenceInputError, match="must be text"):
        predictor.ask(image, None)


def test_long_questions_are_truncated_to_the_model_length(predictor, image):
    trained = predictor._vqa.trained
    max_len = trained.model.config.max_question_len
    words = ("is the red circle left of the blue square " * 40).split()
    long_question = " ".join(words)
    assert len(encode_question(long_question, trained.question_vocab, max_len)) == max_len
    long = predictor.ask(image, long_question)
    cut = predictor.ask(image, " ".join(words[:max_len]))
    assert [(a.text, a.prob) for a in long.answers] == [(a.text, a.prob) for a in cut.answers]
    assert long.question == long_question


def test_unknown_words_and_any_unicode_are_read(predictor, image):
    trained = predictor._vqa.trained
    vocab, max_len = trained.question_vocab, trained.model.config.max_question_len
    assert encode_question("zyzzyva qwxz", vocab, max_len) == [UNK_ID, UNK_ID]
    assert encode_question("???", vocab, max_len) == [UNK_ID]  # no words at all: one <unk>, as in training
    known = encode_question("what color is the circle", vocab, max_len)
    assert UNK_ID not in known and len(known) == 5
    for question in ("¿Qué color tiene el círculo? 🔴", "圆圈是什么颜色", "ｗｈａｔ ｃｏｌｏｒ", "a\x00b\ud800c"):
        prediction = predictor.ask(image, question)
        assert prediction.question == question and len(prediction.answers) == 5
    assert encode_question("ｗｈａｔ ｃｏｌｏｒ", vocab, max_len) == encode_question("what color", vocab, max_len)


def test_bad_arguments_are_clear_errors(predictor, image):
    with pytest.raises(InferenceInputError, match="top_k"):
        predictor.ask(image, "what?", top_k=0)
    with pytest.raises(InferenceInputError, match="beam_size"):
        predictor.caption(image, beam_size=0)
    with pytest.raises(InferenceInputError, match="num_captions"):
        predictor.caption(image, num_captions=0)


# -- captions ---------------------------------------------------------------------------------


def test_caption_words_probabilities_and_attention_line_up(predictor, image):
    prediction = predictor.caption(image, beam_size=3)
    (caption,) = prediction.captions
    assert caption.text == " ".join(w.word for w in caption.words)
    assert caption.words, "a caption of at least one word"
    grid = predictor._captioner.trained.model.grid_side
    for word in caption.words:
        assert 0 < word.prob <= 1
        assert word.attention.shape == (grid, grid) and word.attention.dtype == np.float32
        assert word.attention.sum() == pytest.approx(1.0, abs=1e-5)
    assert caption.log_prob <= 0 and caption.score == pytest.approx(caption.log_prob / (len(caption.words) + 1))
    assert set(prediction.timings_ms) == {"load_image", "encode", "decode", "total"}


def test_beam_one_is_greedy_decoding(predictor, image):
    """Each greedy word is the decoder's most likely next word, with that probability."""
    greedy = predictor.caption(image, beam_size=1).best
    trained = predictor._captioner.trained
    model, vocab = trained.model, trained.vocab
    ids = [vocab.token_to_id(w.word) for w in greedy.words]
    captions = torch.tensor([[START_ID, *ids, END_ID]])
    with torch.inference_mode():
        features, _, _ = predictor._features(predictor._captioner, [image])
        logits = model(features, captions, torch.tensor([len(ids) + 2])).logits[0]  # (T-1, V)
        logits[:, [PAD_ID, START_ID]] = float("-inf")  # never generated
        probs = torch.softmax(logits, dim=1)
    best = probs.argmax(dim=1).tolist()
    assert best[:-1] == ids
    if len(ids) < model.config.max_len:  # at max_len, <end> is forced rather than chosen
        assert best[-1] == END_ID
    np.testing.assert_allclose([w.prob for w in greedy.words], probs.max(dim=1).values[:-1].numpy(), rtol=1e-4)


def test_several_captions_are_distinct_and_ranked(predictor, image):
    prediction = predictor.caption(image, beam_size=3, num_captions=3)
    texts = [c.text for c in prediction.captions]
    scores = [c.score for c in prediction.captions]
    assert len(texts) == 3 and len(set(texts)) == 3
    assert scores == sorted(scores, reverse=True)
    # Asking for more captions than beams widens the beam.
    assert len(predictor.caption(image, beam_size=1, num_captions=2).captions) == 2


def test_caption_many_matches_single_captions(predictor, models):
    images = models.images()[:3]
    batch = predictor.caption_many(images, beam_size=2)
    assert [p.best.text for p in batch] == [predictor.caption(i, beam_size=2).best.text for i in images]


# -- models: names, kinds, devices --------------------------------------------------------------


def test_device_is_picked_like_the_training_loop(models):
    assert Predictor(vqa=None, captioner=None).device == pick_device("auto")
    assert Predictor(vqa=None, captioner=None, device="cpu").device == torch.device("cpu")
    assert Predictor(vqa=None, captioner=None, device="cpu").device_description.startswith("CPU")
    with pytest.raises(DeviceError, match="unknown device"):
        Predictor(device="tpu")


def test_model_paths_resolve_to_the_checkpoint(models):
    stem = models.vqa.with_suffix("")
    assert resolve_model(models.vqa, "vqa") == models.vqa
    assert resolve_model(str(models.vqa.with_suffix(".safetensors")), "vqa") == models.vqa.with_suffix(".safetensors")
    predictor = Predictor(vqa=str(stem), captioner=None, device="cpu")
    assert predictor.ask(models.images()[0], "what color is the circle?").model == str(stem)


def test_names_resolve_to_bundled_then_user_models(models, tmp_path, monkeypatch, image):
    bundled, user_data = tmp_path / "bundled", tmp_path / "user"
    monkeypatch.setattr(model_registry, "bundled_models_dir", lambda: bundled)
    monkeypatch.setenv("VQADESK_DATA_DIR", str(user_data))
    copy_checkpoint(models.vqa, bundled, "shapes-vqa")
    copy_checkpoint(models.captioner, bundled, "shapes-captioner")
    mine = copy_checkpoint(models.bow, user_data / "models", "my-bow")
    copy_checkpoint(models.bow, user_data / "models", "shapes-vqa")  # a bundled name wins
    (user_data / "models" / "notes.json").write_text('{"not": "a checkpoint"}')
    assert resolve_model("shapes-vqa", "vqa") == bundled / "shapes-vqa.json"
    assert resolve_model("my-bow", "vqa") == mine

    vqa_models = list_models("vqa")
    assert [(m.name, m.source) for m in vqa_models] == [("shapes-vqa", "bundled"), ("my-bow", "user")]
    assert "attention VQA model" in vqa_models[0].description
    assert [m.name for m in list_models("captioning")] == ["shapes-captioner"]

    predictor = Predictor(device="cpu")  # the defaults: shapes-vqa and shapes-captioner
    assert predictor.ask(image, "what color is the circle?").model == "shapes-vqa"
    assert predictor.caption(image).model == "shapes-captioner"
    assert predictor.load_vqa("my-bow") == "my-bow"
    assert predictor.ask(image, "what color is the circle?").attention is None

    with pytest.raises(UnknownModelError) as error:
        predictor.load_vqa("no-such-model")
    message = str(error.value)
    assert "unknown model name 'no-such-model'" in message and "shapes-vqa (" in message and "my-bow" in message
    assert "shapes-captioner" not in message  # only models of the kind asked for
    assert predictor.vqa_model == "my-bow"  # a failed load keeps the model that was there


def test_the_model_card_title_describes_a_model(models, tmp_path, monkeypatch):
    import json

    bundled = tmp_path / "bundled"
    monkeypatch.setattr(model_registry, "bundled_models_dir", lambda: bundled)
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    path = copy_checkpoint(models.vqa, bundled, "carded")
    document = json.loads(path.read_text())
    document["metadata"]["model_card"] = {"title": "Attention VQA for the Shapes world"}
    path.write_text(json.dumps(document))  # the JSON is not hashed; only the tensors are
    assert [(m.name, m.description) for m in list_models("vqa")] == [
        ("carded", "Attention VQA for the Shapes world")]


def test_no_models_installed_says_so(tmp_path, monkeypatch, image):
    monkeypatch.setattr(model_registry, "bundled_models_dir", lambda: tmp_path / "none")
    monkeypatch.setenv("VQADESK_DATA_DIR", str(tmp_path / "user"))
    with pytest.raises(UnknownModelError, match="unknown model name 'shapes-vqa'; no VQA models are installed"):
        Predictor(device="cpu").ask(image, "what color is the circle?")


def test_a_checkpoint_of_the_wrong_kind_is_refused(models, image):
    predictor = Predictor(vqa=models.captioner, captioner=models.vqa, device="cpu")
    with pytest.raises(CheckpointError, match="is a captioning checkpoint, not a vqa model"):
        predictor.ask(image, "what color is the circle?")
    with pytest.raises(CheckpointError, match="is a vqa checkpoint, not a captioning model"):
        predictor.caption(image)


def test_pickled_and_corrupt_checkpoints_are_refused(tmp_path, models):
    from vqadesk.errors import DataFormatError

    pickled = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, pickled)
    predictor = Predictor(vqa=None, captioner=None, device="cpu")
    with pytest.raises(CheckpointError, match="pickled PyTorch file; vqadesk never unpickles"):
        predictor.load_vqa(pickled)
    disguised = copy_checkpoint(models.vqa, tmp_path, "disguised")
    shutil.copy(pickled, disguised.with_suffix(".safetensors"))
    with pytest.raises(CheckpointError, match="pickled"):
        predictor.load_vqa(disguised)
    broken = copy_checkpoint(models.vqa, tmp_path, "broken")
    broken.write_text(broken.read_text()[:100])
    with pytest.raises(DataFormatError, match="broken.json"):
        predictor.load_vqa(broken)
    assert predictor.vqa_model is None


def test_a_model_of_precomputed_features_cannot_read_images(models, tmp_path):
    from dataclasses import replace

    from vqadesk.engine.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from vqadesk.engine.features.store_backbone import StoreBackboneError
    from vqadesk.models import ImageEncoderConfig, VqaModelConfig, build_vqa_model

    trained = load_checkpoint(models.vqa)
    config = VqaModelConfig.from_dict(trained.model_config, source=models.vqa)
    features = ImageEncoderConfig(name="precomputed", layer="grid", image_size=4, feature_dim=8)
    model = build_vqa_model(replace(config, image_encoder=features))
    path = save_checkpoint(tmp_path, "features", replace(
        trained, model_config=model.config.to_dict(), model_state=model.state_dict()))
    with pytest.raises(StoreBackboneError, match="reads precomputed image features"):
        Predictor(vqa=None, captioner=None, device="cpu").load_vqa(path)


def test_a_predictor_without_a_model_says_so(image):
    with pytest.raises(NoModelError, match="no VQA model"):
        Predictor(vqa=None, captioner=None, device="cpu").ask(image, "what?")
    with pytest.raises(NoModelError, match="no captioner"):
        Predictor(vqa=None, captioner=None, device="cpu").caption(image)


def test_questions_are_tokenised_as_in_training(predictor):
    trained = predictor._vqa.trained
    question = "What's the colour of the big circle?"
    expected = trained.question_vocab.encode(tokenize_question(question), max_len=trained.model.config.max_question_len)
    assert encode_question(question, trained.question_vocab, trained.model.config.max_question_len) == expected

"""The pretrained captioners (BLIP, GIT, vision-encoder-decoder) on a real photo, with tiny random
models of each architecture saved like a real download (``tests/support/tiny_captioners.py``).

Random weights write nonsense, so the tests check the shape of what comes back (distinct
captions best first, word probabilities, maps over the patch grid), that a token's probability
is the one the generation step saw, and that the vision encoder runs once per photo.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.tiny_captioners import (
    BUILDERS,
    GRID,
    MAX_NEW_TOKENS,
    gpt2_tokenizer,
    source_of,
    wordpiece_tokenizer,
)
from vqadesk.engine.pretrained.blip_captioner import BlipCaptioner
from vqadesk.engine.pretrained.caption_maps import attention_region, patch_grid, patch_maps
from vqadesk.engine.pretrained.caption_words import group_words, word_records
from vqadesk.engine.pretrained.encoder_decoder_captioner import EncoderDecoderCaptioner
from vqadesk.engine.pretrained.git_captioner import GitCaptioner
from vqadesk.engine.pretrained.hub_captioner import MAX_NEW_TOKENS as LENGTH_CAP
from vqadesk.engine.pretrained.hub_captioner import _Chosen, max_new_tokens
from vqadesk.engine.torch_free.hub.references import PretrainedModelError
from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE

CAPTIONERS = {
    "BlipForConditionalGeneration": BlipCaptioner,
    "GitForCausalLM": GitCaptioner,
    "VisionEncoderDecoderModel": EncoderDecoderCaptioner,
}
REGIONS = {
    "BlipForConditionalGeneration": WHOLE_IMAGE,  # BLIP's processor resizes the whole photo
    "GitForCausalLM": CENTRE_SQUARE,  # CLIP's crops the centre square
    "VisionEncoderDecoderModel": WHOLE_IMAGE,  # ViT's resizes the whole photo
}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-captioners")
    return {architecture: build(root / architecture) for architecture, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def photos(coco_real):
    return [
        Image.open(coco_real / "000000087038.jpg").convert("RGB"),  # skateboarders
        Image.open(coco_real / "000000039769.png").convert("RGB"),  # two cats
    ]


def make(sources, architecture, precision="fp32"):
    return CAPTIONERS[architecture](sources[architecture], CPU, precision)


def check_map(attention):
    assert attention.dtype == np.float32 and attention.shape == GRID
    assert np.isfinite(attention).all() and (attention >= 0).all()
    assert attention.sum() == pytest.approx(1.0, abs=1e-5)


# -- the captioners ------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("architecture", list(CAPTIONERS))
def test_k_distinct_captions_best_first_with_word_probabilities_and_maps(sources, photos, architecture, precision):
    captioner = make(sources, architecture, precision)
    assert captioner.attention_region == REGIONS[architecture]
    features = captioner.encode(photos[:1])
    captions = captioner.caption(features, beam_size=4, num_captions=3)
    assert len(captions) == 1
    found = captions[0]
    assert len(found) == 3
    assert len({caption.text for caption in found}) == 3
    scores = [caption.score for caption in found]
    assert scores == sorted(scores, reverse=True)
    for caption in found:
        assert caption.words and caption.text == " ".join(word.word for word in caption.words)
        assert "##" not in caption.text and caption.text == caption.text.strip()
        assert caption.log_prob <= caption.score <= 0  # the mean of at least one log-probability
        assert math.isfinite(caption.log_prob)
        for word in caption.words:
            assert 0.0 < word.prob <= 1.0
            check_map(word.attention)
    again = captioner.caption(features, beam_size=4, num_captions=3)[0]
    assert [c.text for c in again] == [c.text for c in found]  # seeded weights, no sampling


@pytest.mark.parametrize("architecture", list(CAPTIONERS))
def test_features_are_encoded_once_and_reused_by_any_beam_width(sources, photos, architecture):
    captioner = make(sources, architecture)
    calls = []
    handle = captioner.vision_encoder.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        features = captioner.encode(photos)
        assert len(calls) == 1 and len(features) == 2
        greedy = captioner.caption(features, beam_size=1, num_captions=1)
        beams = captioner.caption(features, beam_size=3, num_captions=2)
        assert len(calls) == 1
    finally:
        handle.remove()
    assert [len(found) for found in greedy] == [1, 1]
    assert [len(found) for found in beams] == [2, 2]
    alone = captioner.caption(captioner.encode(photos[1:]), beam_size=1, num_captions=1)[0][0]
    assert alone.text == greedy[1][0].text  # a photo's caption does not depend on its batch
    assert alone.log_prob == pytest.approx(greedy[1][0].log_prob, abs=1e-4)


@pytest.mark.parametrize("architecture", list(CAPTIONERS))
def test_greedy_token_probabilities_are_those_of_the_generation_steps(sources, photos, architecture):
    """The teacher-forced pass lines each token up with the step that wrote it: the greedy caption's
    log-probability is the sum of the generation steps' log-softmax at the tokens they chose."""
    captioner = make(sources, architecture)
    features = captioner.encode(photos[:1])
    caption = captioner.caption(features, beam_size=1, num_captions=1)[0][0]
    with torch.inference_mode():
        output = captioner._generate(torch.stack(features), _greedy(captioner))
    chosen = output.sequences[0, 1:]
    steps = torch.stack(output.logits)[:, 0].float().log_softmax(dim=-1)  # (steps, V)
    expected = steps.gather(1, chosen.unsqueeze(1)).sum().item()
    assert len(chosen) == MAX_NEW_TOKENS
    assert caption.log_prob == pytest.approx(expected, abs=1e-4)
    assert caption.score == pytest.approx(expected / MAX_NEW_TOKENS, abs=1e-5)


def test_captions_of_different_lengths_score_as_they_would_alone(sources, photos):
    """The scoring pass pads shorter captions on the right; that changes none of their numbers."""
    for architecture in CAPTIONERS:
        captioner = make(sources, architecture)
        features = captioner.encode(photos[:1])
        batch = torch.stack(features)
        start = int(captioner._generate(batch, _greedy(captioner)).sequences[0, 0])
        long, short = _Chosen(0, start, [7, 8, 9, 10, 11]), _Chosen(0, start, [12, 13])
        together = captioner._captions(batch, [long, short], pad_id=0)
        for pick, caption in zip((long, short), together):
            alone = captioner._captions(batch, [pick], pad_id=0)[0]
            assert caption.log_prob == pytest.approx(alone.log_prob, abs=1e-5), architecture
            for word, alone_word in zip(caption.words, alone.words):
                np.testing.assert_allclose(word.attention, alone_word.attention, atol=1e-6)


def test_captions_that_read_the_same_are_kept_once_and_cut_at_their_end(sources):
    captioner = make(sources, "BlipForConditionalGeneration")
    ids = captioner.tokenizer.convert_tokens_to_ids
    start, end, pad = ids("[DEC]"), ids("[SEP]"), ids("[PAD]")
    a, man, dog, unknown = ids("a"), ids("man"), ids("dog"), ids("[UNK]")
    sequences = [
        [start, a, man, end, pad],
        [start, a, man, end, dog],  # the same caption: what follows the end token is no part of it
        [start, a, unknown, man, end],  # reads "a man" too: special tokens are in no word
        [start, a, dog, end, pad],
        [start, dog, dog, dog, dog],  # never ended
    ]
    chosen = captioner._distinct(sequences, photos=1, per_photo=5, wanted=3, end_ids={end})
    assert [pick.tokens for pick in chosen] == [[a, man, end], [a, dog, end], [dog, dog, dog, dog]]


def _greedy(captioner):
    config = captioner._generation_settings()
    config.update(do_sample=False, num_beams=1, max_new_tokens=captioner.max_new_tokens, max_length=None,
                  return_dict_in_generate=True, output_logits=True)
    return config


def test_a_folder_without_tokenizer_files_is_one_line(sources, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(sources["GitForCausalLM"].folder, folder)
    for path in folder.glob("tokenizer*"):
        path.unlink()
    source = source_of(folder, "GitForCausalLM")
    with pytest.raises(PretrainedModelError, match="no tokenizer in"):
        GitCaptioner(source, CPU, "fp32")


def test_a_folder_without_an_image_processor_is_one_line(sources, tmp_path):
    folder = tmp_path / "no-processor"
    shutil.copytree(sources["BlipForConditionalGeneration"].folder, folder)
    (folder / "processor_config.json").unlink()
    source = source_of(folder, "BlipForConditionalGeneration")
    with pytest.raises(PretrainedModelError, match="image processor") as raised:
        BlipCaptioner(source, CPU, "fp32")
    assert "\n" not in str(raised.value)


def test_a_git_model_for_video_is_refused(sources, tmp_path):
    folder = tmp_path / "git-video"
    shutil.copytree(sources["GitForCausalLM"].folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["num_image_with_embedding"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    source = source_of(folder, "GitForCausalLM")
    with pytest.raises(PretrainedModelError, match="video"):
        GitCaptioner(source, CPU, "fp32")


# -- words ---------------------------------------------------------------------------------------


def test_wordpiece_continuations_join_their_word():
    tokenizer = wordpiece_tokenizer(bos_token="[DEC]")
    ids = tokenizer.convert_tokens_to_ids(["[DEC]", "a", "man", "riding", "skate", "##board", "[SEP]"])
    words = group_words(tokenizer, ids)
    assert [(w.text, w.tokens) for w in words] == [
        ("a", (1,)), ("man", (2,)), ("riding", (3,)), ("skateboard", (4, 5)),
    ]


def test_byte_level_pieces_join_their_word_even_inside_a_character():
    tokenizer = gpt2_tokenizer()
    ids = tokenizer.encode("a skateboard café", add_special_tokens=False)
    assert tokenizer.convert_ids_to_tokens(ids)[-2:] == ["Ã", "©"]  # "é" is two byte tokens
    words = group_words(tokenizer, ids + [tokenizer.eos_token_id])
    assert [w.text for w in words] == ["a", "skateboard", "café"]
    assert words[-1].tokens[-2:] == (len(ids) - 2, len(ids) - 1)  # the end token is in no word
    assert sorted(i for w in words for i in w.tokens) == list(range(len(ids)))


def test_a_word_is_the_product_of_its_token_probabilities_and_the_mean_of_their_maps():
    tokenizer = wordpiece_tokenizer()
    ids = tokenizer.convert_tokens_to_ids(["two", "cat", "##s"])
    maps = np.zeros((3, 1, 2), dtype=np.float32)
    maps[:, 0, 0] = 1.0
    maps[2] = [[0.0, 1.0]]
    records = word_records(group_words(tokenizer, ids), np.array([0.5, 0.8, 0.5]), maps)
    assert [r.word for r in records] == ["two", "cats"]
    assert records[1].prob == pytest.approx(0.4)
    np.testing.assert_allclose(records[1].attention, [[0.5, 0.5]])
    assert records[1].attention.dtype == np.float32


# -- maps, region, length ------------------------------------------------------------------------


def test_patch_maps_drop_leading_tokens_and_sum_to_one():
    attention = torch.tensor([[0.5, 0.1, 0.1, 0.2, 0.1], [1.0, 0.0, 0.0, 0.0, 0.0]])  # CLS first
    maps = patch_maps(attention, (2, 2))
    assert maps.shape == (2, 2, 2) and maps.dtype == np.float32
    np.testing.assert_allclose(maps[0], [[0.2, 0.2], [0.4, 0.2]], atol=1e-6)
    np.testing.assert_allclose(maps[1], np.full((2, 2), 0.25))  # nothing on the patches: uniform


def test_patch_grid_from_the_config_or_the_token_count():
    class Config:
        image_size, patch_size = (32, 48), 16

    assert patch_grid(Config(), 7) == (2, 3)
    assert patch_grid(object(), 50) == (7, 7)  # a square grid after one CLS token
    assert patch_grid(object(), 49) == (7, 7)
    assert patch_grid(object(), 7) is None


def test_the_region_follows_the_processors_crop():
    from transformers import BlipImageProcessor, CLIPImageProcessor, ViTImageProcessor

    assert attention_region(BlipImageProcessor()) == WHOLE_IMAGE
    assert attention_region(ViTImageProcessor()) == WHOLE_IMAGE
    assert attention_region(CLIPImageProcessor()) == CENTRE_SQUARE


def test_caption_length_comes_from_the_generation_config_within_a_cap():
    from transformers import GenerationConfig

    assert max_new_tokens(GenerationConfig()) == 20
    assert max_new_tokens(GenerationConfig(max_length=16)) == 15
    assert max_new_tokens(GenerationConfig(max_new_tokens=12)) == 12
    assert max_new_tokens(GenerationConfig(max_length=500)) == LENGTH_CAP

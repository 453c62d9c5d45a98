"""The captioner: teacher forcing shapes, the masked loss, learning, and decoding."""

from __future__ import annotations

import pytest
import torch

from vqadesk.models import CaptionerConfig, ImageEncoderConfig, build_captioner, caption_loss
from vqadesk.text.vocabulary import END_ID, PAD_ID, START_ID

SMALL_CNN = ImageEncoderConfig(image_size=32, channels=(8, 16, 16))  # (B, 18, 4, 4)
VOCAB = 15
# <start> w w w <end> <pad>, <start> w <end> <pad> <pad> <pad>
CAPTIONS = torch.tensor([[START_ID, 5, 6, 7, END_ID, PAD_ID], [START_ID, 8, END_ID, PAD_ID, PAD_ID, PAD_ID]])
LENGTHS = torch.tensor([5, 3])


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def tiny_captioner(**overrides):
    torch.manual_seed(0)
    values = dict(image_encoder=SMALL_CNN, vocab_size=VOCAB, embed_dim=8, hidden_dim=16, attention_dim=8)
    return build_captioner(CaptionerConfig(**(values | overrides)))


def images(batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("attention", [True, False])
def test_teacher_forcing_shapes(cell, attention):
    captioner = tiny_captioner(cell=cell, attention=attention)
    features = captioner.encode_images(images())
    assert features.shape == (2, 18, 4, 4)
    output = captioner(features, CAPTIONS, LENGTHS)
    assert output.logits.shape == (2, 5, VOCAB)
    if attention:
        assert output.attention.shape == (2, 5, 16)
        # Real steps (one per target word and <end>) sum to 1; padded steps are zero.
        expected = torch.tensor([[1.0] * 4 + [0.0], [1.0] * 2 + [0.0] * 3])
        assert torch.allclose(output.attention.sum(dim=2), expected)
    else:
        assert output.attention is None


def test_vector_features_without_attention():
    encoder = ImageEncoderConfig(name="precomputed", layer="fc7", feature_dim=12)
    captioner = tiny_captioner(attention=False, image_encoder=encoder)
    output = captioner(torch.randn(2, 12), CAPTIONS, LENGTHS)
    assert output.logits.shape == (2, 5, VOCAB)
    (caption,) = captioner.generate(torch.randn(1, 12), beam_size=2)[0]
    assert caption.attention is None


def test_loss_ignores_padded_targets():
    captioner = tiny_captioner(dropout=0.0)
    features = captioner.encode_images(images())
    output = captioner(features, CAPTIONS, LENGTHS)
    changed_logits = output.logits.clone()
    changed_logits[1, 2:] = torch.randn(3, VOCAB) * 10  # steps whose targets are <pad>
    changed = type(output)(logits=changed_logits, attention=output.attention)
    assert torch.allclose(caption_loss(output, CAPTIONS), caption_loss(changed, CAPTIONS))
    plain = caption_loss(output, CAPTIONS, attention_reg=0.0)
    targets = CAPTIONS[:, 1:]
    real = targets != PAD_ID
    expected = torch.nn.functional.cross_entropy(output.logits[real], targets[real])
    assert torch.allclose(plain, expected)


def test_attention_regulariser_is_added_with_its_weight():
    captioner = tiny_captioner()
    output = captioner(captioner.encode_images(images()), CAPTIONS, LENGTHS)
    plain = caption_loss(output, CAPTIONS, attention_reg=0.0)
    coverage = output.attention.sum(dim=1)
    expected = plain + 0.5 * ((1 - coverage) ** 2).mean()
    assert torch.allclose(caption_loss(output, CAPTIONS, attention_reg=0.5), expected)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_two_optimisation_steps_lower_the_loss(cell):
    captioner = tiny_captioner(cell=cell, dropout=0.0)
    pictures = images()
    optimiser = torch.optim.Adam(captioner.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        loss = caption_loss(captioner(captioner.encode_images(pictures), CAPTIONS, LENGTHS), CAPTIONS)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def greedy_by_hand(captioner, features, max_len):
    """Argmax decoding written out with the captioner's own step, as the reference."""
    memory = captioner.memory(features)
    state = captioner.initial_state(memory)
    word, words = torch.tensor([START_ID]), []
    with torch.no_grad():
        for _ in range(max_len):
            logits, state, _ = captioner.step(word, state, memory)
            logits[:, [PAD_ID, START_ID]] = float("-inf")
            word = logits.argmax(dim=1)
            if word.item() == END_ID:
                break
            words.append(word.item())
    return words


@pytest.mark.parametrize("attention", [True, False])
def test_beam_of_one_is_greedy_decoding(attention):
    captioner = tiny_captioner(attention=attention).eval()
    features = captioner.encode_images(images())
    results = captioner.generate(features, beam_size=1, max_len=6)
    for index, (caption,) in enumerate(results):
        assert caption.token_ids == greedy_by_hand(captioner, features[index : index + 1], 6)


def test_generated_captions_carry_words_probabilities_and_attention():
    captioner = tiny_captioner().train()
    features = captioner.encode_images(images())
    results = captioner.generate(features, beam_size=3, num_captions=3, max_len=5)
    assert captioner.training  # generate runs in eval mode and puts the mode back
    assert len(results) == 2
    for captions in results:
        assert len(captions) == 3
        assert len({tuple(c.token_ids) for c in captions}) == 3  # distinct
        scores = [c.score for c in captions]
        assert scores == sorted(scores, reverse=True)
        for caption in captions:
            assert len(caption.token_ids) <= 5
            assert not {PAD_ID, START_ID, END_ID} & set(caption.token_ids)
            assert len(caption.token_probs) == len(caption.token_ids)
            assert all(0.0 < p <= 1.0 for p in caption.token_probs)
            assert caption.attention.shape == (len(caption.token_ids), 4, 4)
            if caption.token_ids:
                assert torch.allclose(caption.attention.sum(dim=(1, 2)), torch.ones(len(caption.token_ids)))
            # The score is the mean log-probability over the words and <end>.
            assert caption.score == pytest.approx(caption.log_prob / (len(caption.token_ids) + 1))
            words_log_prob = torch.tensor(caption.token_probs, dtype=torch.float64).log().sum().item()
            assert caption.log_prob < words_log_prob + 1e-6  # plus log p(<end>) < 0


def test_a_narrow_beam_is_widened_to_the_captions_asked_for():
    captioner = tiny_captioner()
    results = captioner.generate(captioner.encode_images(images(1)), beam_size=1, num_captions=2, max_len=4)
    assert len(results[0]) == 2


def test_the_captioner_learns_a_caption_per_image():
    """Two images, two captions: a few dozen steps and greedy decoding says each back."""
    captioner = tiny_captioner(dropout=0.0, hidden_dim=32)
    pictures = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    pictures[1] = 255
    optimiser = torch.optim.Adam(captioner.parameters(), lr=1e-2)
    for _ in range(80):
        loss = caption_loss(captioner(captioner.encode_images(pictures), CAPTIONS, LENGTHS), CAPTIONS)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    results = captioner.generate(captioner.encode_images(pictures), beam_size=2)
    assert [r[0].token_ids for r in results] == [[5, 6, 7], [8]]

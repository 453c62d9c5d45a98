"""Question encoders: shapes, padding and lengths, word vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from vqadesk.models.question_encoders import (
    BagOfWords,
    LstmQuestionEncoder,
    TransformerQuestionEncoder,
    _runs_faster_by_length,
    attention_heads_for,
    build_question_encoder,
    sinusoidal_positions,
)

VOCAB = 30


def make_encoders() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "bow": BagOfWords(vocab_size=VOCAB, embed_dim=8),
        "bow_projected": BagOfWords(vocab_size=VOCAB, embed_dim=8, output_dim=5),
        "lstm_all": LstmQuestionEncoder(vocab_size=VOCAB, embed_dim=8, hidden_dim=6),
        "lstm_last": LstmQuestionEncoder(vocab_size=VOCAB, embed_dim=8, hidden_dim=6, states="last"),
        "transformer_mean": TransformerQuestionEncoder(vocab_size=VOCAB, embed_dim=12, ff_dim=16),
        "transformer_first": TransformerQuestionEncoder(
            vocab_size=VOCAB, embed_dim=12, num_layers=1, ff_dim=16, pooling="first"
        ),
    }


EXPECTED_DIMS = {
    "bow": 8, "bow_projected": 5, "lstm_all": 2 * 2 * 6, "lstm_last": 6,
    "transformer_mean": 12, "transformer_first": 12,
}


@pytest.mark.parametrize("name", list(EXPECTED_DIMS))
def test_output_shape_and_dim(name):
    encoder = make_encoders()[name]
    questions = torch.randint(4, VOCAB, (3, 7))
    output = encoder(questions, torch.tensor([7, 4, 1]))
    assert output.shape == (3, EXPECTED_DIMS[name]) == (3, encoder.output_dim)


@pytest.mark.parametrize("name", list(EXPECTED_DIMS))
def test_padding_and_tokens_past_the_length_do_not_change_the_output(name):
    encoder = make_encoders()[name].eval()
    question = torch.tensor([[5, 9, 12, 7]])
    alone = encoder(question, torch.tensor([4]))
    padded = torch.tensor([[5, 9, 12, 7, 0, 0, 0], [6, 6, 6, 6, 6, 6, 6]])
    in_batch = encoder(padded, torch.tensor([4, 7]))
    garbage_after_length = torch.tensor([[5, 9, 12, 7, 13, 14, 3]])
    ignored = encoder(garbage_after_length, torch.tensor([4]))
    assert torch.allclose(in_batch[0], alone[0], atol=1e-5)
    assert torch.allclose(ignored[0], alone[0], atol=1e-5)


@pytest.mark.parametrize("name", ["lstm_all", "lstm_last", "transformer_mean"])
def test_order_matters_except_for_the_bag_of_words(name):
    encoders = make_encoders()
    forward, backward = torch.tensor([[5, 9, 12]]), torch.tensor([[12, 9, 5]])
    lengths = torch.tensor([3])
    bow = encoders["bow"]
    assert torch.allclose(bow(forward, lengths), bow(backward, lengths))
    encoder = encoders[name].eval()
    assert not torch.allclose(encoder(forward, lengths), encoder(backward, lengths))


def test_bag_of_words_is_the_mean_embedding():
    encoder = BagOfWords(vocab_size=VOCAB, embed_dim=4)
    output = encoder(torch.tensor([[5, 9, 0]]), torch.tensor([2]))
    expected = (encoder.embedding.weight[5] + encoder.embedding.weight[9]) / 2
    assert torch.allclose(output[0], expected)


def test_lstm_all_states_are_hidden_and_cell_of_each_layer():
    encoder = LstmQuestionEncoder(vocab_size=VOCAB, embed_dim=8, hidden_dim=6)
    questions = torch.randint(4, VOCAB, (2, 5))
    output = encoder(questions, torch.tensor([5, 5]))
    _, (hidden, cell) = encoder.lstm(torch.tanh(encoder.embedding(questions)))
    expected = torch.cat((hidden[0], cell[0], hidden[1], cell[1]), dim=1)
    assert torch.allclose(output, expected, atol=1e-6)


@pytest.mark.parametrize("states", ["all", "last"])
def test_lstm_run_by_length_matches_the_packed_run(states):
    """A large CPU batch runs the LSTM once per question length: same states, same gradients."""
    torch.manual_seed(0)
    encoder = LstmQuestionEncoder(vocab_size=VOCAB, embed_dim=8, hidden_dim=6, states=states)
    lengths = torch.tensor([3, 7, 1, 0] * 40)  # 160 questions, 3 distinct lengths after clamping 0 -> 1
    questions = torch.randint(4, VOCAB, (160, 9)) * (torch.arange(9) < lengths.unsqueeze(1))
    embedded = torch.tanh(encoder.embedding(questions))
    assert _runs_faster_by_length(embedded, lengths.clamp(min=1))
    assert not _runs_faster_by_length(embedded[:40], lengths[:40].clamp(min=1))  # too few per length

    by_length = encoder(questions, lengths)
    by_length.square().sum().backward()
    grads = [p.grad.clone() for p in encoder.parameters()]
    encoder.zero_grad()
    packed = pack_padded_sequence(embedded, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
    _, (hidden, cell) = encoder.lstm(packed)
    expected = hidden[-1] if states == "last" else torch.cat((hidden[0], cell[0], hidden[1], cell[1]), dim=1)
    expected.square().sum().backward()
    assert torch.allclose(by_length, expected, atol=1e-6)
    for grad, parameter in zip(grads, encoder.parameters()):
        assert torch.allclose(grad, parameter.grad, atol=1e-5)


@pytest.mark.parametrize("name", list(EXPECTED_DIMS))
def test_an_empty_question_does_not_crash(name):
    encoder = make_encoders()[name]
    output = encoder(torch.tensor([[0, 0], [5, 6]]), torch.tensor([0, 2]))
    assert torch.isfinite(output).all()


def test_transformer_rejects_questions_longer_than_its_positions():
    encoder = TransformerQuestionEncoder(vocab_size=VOCAB, embed_dim=12, max_len=4)
    with pytest.raises(ValueError, match="exceed max_len 4"):
        encoder(torch.ones(1, 5, dtype=torch.long), torch.tensor([5]))


def test_init_embeddings_copies_vectors_and_keeps_pad_at_zero():
    encoder = LstmQuestionEncoder(vocab_size=VOCAB, embed_dim=8, hidden_dim=6)
    vectors = np.random.default_rng(0).normal(size=(VOCAB, 8)).astype(np.float32)
    encoder.init_embeddings(vectors)
    assert torch.allclose(encoder.embedding.weight[1:], torch.from_numpy(vectors[1:]))
    assert encoder.embedding.weight[0].abs().sum() == 0
    with pytest.raises(ValueError, match=r"do not fit the embedding \(30, 8\)"):
        encoder.init_embeddings(vectors[:, :5])


def test_sinusoidal_positions():
    table = sinusoidal_positions(10, 6)
    assert table.shape == (10, 6)
    assert torch.allclose(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    assert torch.allclose(table[3, 0], torch.sin(torch.tensor(3.0)))
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd sizes work too


def test_attention_heads_divide_the_width():
    assert [attention_heads_for(d) for d in (300, 256, 30, 7)] == [6, 8, 6, 1]


def test_build_question_encoder_names():
    sizes = dict(vocab_size=VOCAB, embed_dim=12, hidden_dim=8, dropout=0.5, max_len=20)
    kinds = {"bow": BagOfWords, "lstm": LstmQuestionEncoder, "transformer": TransformerQuestionEncoder}
    for name, kind in kinds.items():
        assert isinstance(build_question_encoder(name, **sizes), kind)
    with pytest.raises(ValueError, match="unknown question encoder 'gru'"):
        build_question_encoder("gru", **sizes)


@pytest.mark.parametrize("name", list(EXPECTED_DIMS))
def test_token_states_give_every_token_the_real_mask_and_the_forward_vector(name):
    encoder = make_encoders()[name].eval()
    questions = torch.randint(4, VOCAB, (3, 7))
    lengths = torch.tensor([7, 4, 1])
    tokens, real, vector = encoder.token_states(questions, lengths)
    assert tokens.shape[:2] == (3, 7)
    assert real.tolist() == [[True] * 7, [True] * 4 + [False] * 3, [True] + [False] * 6]
    assert torch.allclose(vector, encoder(questions, lengths), atol=1e-5)
    if name.startswith("lstm"):
        assert torch.all(tokens[~real] == 0)  # nothing past a question's end

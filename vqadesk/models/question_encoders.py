"""Question encoders: token ids (B, T) and lengths (B,) -> one vector per question (B, D).

Questions arrive as ``<pad>``-padded id rows (``<pad>`` = 0, its embedding row is
kept at zero) with their true lengths. Three encoders, one interface:

* ``BagOfWords``: the mean of the word embeddings over the real tokens
  (optionally projected by Linear + tanh). Word order is ignored.
* ``LstmQuestionEncoder``: a 2-layer LSTM over tanh-squashed embeddings, run on
  packed sequences so padding never enters it. ``states="all"`` returns the final
  hidden *and* cell state of every layer, concatenated ([h1, c1, h2, c2]: 2048-d
  for 512 units, the "deeper LSTM Q" of Antol et al. 2015); ``states="last"`` the
  last layer's final hidden state only (hidden_dim).
* ``TransformerQuestionEncoder``: 1-2 ``nn.TransformerEncoder`` layers over
  embeddings plus sinusoidal positions, padding masked out of the attention;
  the output is the mean over real tokens (``pooling="mean"``) or the first
  token's output (``"first"``).

``token_states(questions, lengths)`` gives every token's state as well as the
question vector -- ``(tokens (B, T, D), real (B, T) mask, vector (B, D))`` --
for models that attend over the words (the attention VQA model's glimpses).

``init_embeddings(matrix)`` copies pre-trained word vectors in (for example
``vqadesk.text.word_vectors.load_pipeline_vectors(vocab).matrix``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vqadesk.text.vocabulary import PAD_ID

QUESTION_ENCODER_NAMES = ("bow", "lstm", "transformer")


def lengths_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, T) True where a position holds a real token (position < length)."""
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


class QuestionEncoder(nn.Module):
    """Base: an embedding table with ``<pad>`` fixed at zero, and ``output_dim``."""

    output_dim: int

    def __init__(self, *, vocab_size: int, embed_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)

    def init_embeddings(self, matrix: np.ndarray | Tensor) -> None:
        """Copy word vectors (vocab_size, embed_dim) into the table; ``<pad>`` stays zero."""
        copy_embeddings(self.embedding, matrix)


def _one_of(value: str, choices: tuple[str, str], name: str) -> str:
    """``value`` when it is one of the two ``choices``; a ``ValueError`` naming ``name`` otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be {choices[0]!r} or {choices[1]!r}, got {value!r}")
    return value


def copy_embeddings(embedding: nn.Embedding, matrix: np.ndarray | Tensor) -> None:
    """Shared with the captioner: checks the shape, keeps the padding row at zero."""
    values = torch.as_tensor(np.asarray(matrix) if not isinstance(matrix, Tensor) else matrix)
    expected = tuple(embedding.weight.shape)
    if tuple(values.shape) != expected:
        raise ValueError(f"word vectors of shape {tuple(values.shape)} do not fit the embedding {expected}")
    with torch.no_grad():
        embedding.weight.copy_(values.to(embedding.weight))
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


class BagOfWords(QuestionEncoder):
    """Mean word embedding over the real tokens -> (B, embed_dim) or (B, output_dim)."""

    def __init__(self, *, vocab_size: int, embed_dim: int, output_dim: int | None = None):
        super().__init__(vocab_size=vocab_size, embed_dim=embed_dim)
        self.projection = (
            nn.Sequential(nn.Linear(embed_dim, output_dim), nn.Tanh()) if output_dim else nn.Identity()
        )
        self.output_dim = output_dim or embed_dim

    def forward(self, questions: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(questions.device)
        mask = lengths_mask(lengths, questions.shape[1]).unsqueeze(-1)  # (B, T, 1)
        summed = (self.embedding(questions) * mask).sum(dim=1)  # (B, E)
        mean = summed / lengths.clamp(min=1).unsqueeze(1).to(summed.dtype)
        return self.projection(mean)

    def token_states(self, questions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        lengths = lengths.to(questions.device).clamp(min=1)
        return self.embedding(questions), lengths_mask(lengths, questions.shape[1]), self(questions, lengths)


class LstmQuestionEncoder(QuestionEncoder):
    """An LSTM over the question; see the module docstring for ``states``."""

    def __init__(
        self,
        *,
        vocab_size: int,
        embed_dim: int,
        hidden_dim: int,
        num_layers: int = 2,
        dropout: float = 0.0,
        states: str = "all",
    ):
        super().__init__(vocab_size=vocab_size, embed_dim=embed_dim)
        self.states = _one_of(states, ("all", "last"), "states")
        self.lstm = nn.LSTM(
            embed_dim, hidden_dim, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.output_dim = 2 * num_layers * hidden_dim if states == "all" else hidden_dim

    def forward(self, questions: Tensor, lengths: Tensor) -> Tensor:
        # tanh on the embeddings as in the VQA paper's LSTM Q; keeps inputs in [-1, 1].
        embedded = torch.tanh(self.embedding(questions))  # (B, T, E)
        # An empty question still gets one (<pad>) step, so every row has a state.
        lengths = lengths.clamp(min=1).cpu()
        if _runs_faster_by_length(embedded, lengths):
            hidden, cell = self._final_states_by_length(embedded, lengths)
        else:
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            _, (hidden, cell) = self.lstm(packed)  # each (layers, B, H), rows in input order
        if self.states == "last":
            return hidden[-1]  # (B, H)
        per_layer = [torch.cat((h, c), dim=1) for h, c in zip(hidden, cell)]
        return torch.cat(per_layer, dim=1)  # (B, 2 * layers * H)

    def token_states(self, questions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The last layer's output at every token (zero past a question's end), the mask, ``forward``'s vector."""
        embedded = torch.tanh(self.embedding(questions))  # (B, T, E)
        lengths = lengths.clamp(min=1).cpu()
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        outputs, (hidden, cell) = self.lstm(packed)
        tokens, _ = pad_packed_sequence(outputs, batch_first=True, total_length=questions.shape[1])  # (B, T, H)
        real = lengths_mask(lengths.to(questions.device), questions.shape[1])
        if self.states == "last":
            return tokens, real, hidden[-1]
        per_layer = [torch.cat((h, c), dim=1) for h, c in zip(hidden, cell)]
        return tokens, real, torch.cat(per_layer, dim=1)

    def _final_states_by_length(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The LSTM over each group of equal-length questions, unpadded; states in input order.

        The same final states as the packed run (each row stops at its own length).
        """
        order = torch.argsort(lengths, stable=True)  # (B,) shortest first
        group_lengths, group_sizes = torch.unique_consecutive(lengths[order], return_counts=True)
        # split (not slicing) so the backward assembles the gradient in one piece.
        groups = embedded[order.to(embedded.device)].split(group_sizes.tolist())
        states = [self.lstm(group[:, :length])[1] for group, length in zip(groups, group_lengths.tolist())]
        back = order.argsort().to(embedded.device)  # sorted row -> input row
        hidden = torch.cat([h for h, _ in states], dim=1)[:, back]  # (layers, B, H)
        cell = torch.cat([c for _, c in states], dim=1)[:, back]  # (layers, B, H)
        return hidden, cell


# Below this many questions per distinct length, the packed run is faster.
_MIN_QUESTIONS_PER_LENGTH = 32


def _runs_faster_by_length(embedded: Tensor, lengths: Tensor) -> bool:
    """Whether to run the LSTM once per question length instead of on packed sequences.

    On the CPU, backpropagating through a packed LSTM fills a zero tensor of
    the whole batch at every time step (one per step's slice), and the packed
    path misses oneDNN's fused LSTM kernel. Running each group of equal-length
    questions unpadded avoids both and trains faster (docs/benchmarks.md). With few
    questions per length, or under bfloat16 autocast (where the packed path
    is as fast), the packed run stays; on GPUs cuDNN handles packed sequences
    in one call.
    """
    if embedded.device.type != "cpu" or embedded.dtype != torch.float32 or torch.is_autocast_enabled("cpu"):
        return False
    distinct = int(torch.unique(lengths).numel())
    return lengths.numel() >= _MIN_QUESTIONS_PER_LENGTH * distinct


def sinusoidal_positions(max_len: int, dim: int) -> Tensor:
    """(max_len, dim) the fixed positional encoding of Vaswani et al. 2017."""
    positions = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    frequencies = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies)[:, : dim // 2]
    return table


def attention_heads_for(dim: int) -> int:
    """The most heads (up to 8) that divide ``dim``: 300 -> 6, 256 -> 8, 30 -> 6."""
    return next(heads for heads in (8, 6, 5, 4, 3, 2, 1) if dim % heads == 0)


class TransformerQuestionEncoder(QuestionEncoder):
    """Transformer encoder layers over the question -> (B, embed_dim)."""

    def __init__(
        self,
        *,
        vocab_size: int,
        embed_dim: int,
        num_layers: int = 2,
        ff_dim: int = 512,
        num_heads: int | None = None,
        dropout: float = 0.1,
        max_len: int = 64,
        pooling: str = "mean",
    ):
        super().__init__(vocab_size=vocab_size, embed_dim=embed_dim)
        self.pooling = _one_of(pooling, ("mean", "first"), "pooling")
        self.scale = math.sqrt(embed_dim)
        self.register_buffer("positions", sinusoidal_positions(max_len, embed_dim), persistent=False)
        layer = nn.TransformerEncoderLayer(
            embed_dim, num_heads or attention_heads_for(embed_dim), dim_feedforward=ff_dim,
            dropout=dropout, batch_first=True, norm_first=True,
        )
        # enable_nested_tensor only pays off for long, very ragged batches; off, it warns neither.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)  # pre-norm layers leave the output unnormalised
        self.output_dim = embed_dim

    def forward(self, questions: Tensor, lengths: Tensor) -> Tensor:
        return self.token_states(questions, lengths)[2]

    def token_states(self, questions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        length = questions.shape[1]
        if length > self.positions.shape[0]:
            raise ValueError(f"questions of {length} tokens exceed max_len {self.positions.shape[0]}")
        lengths = lengths.to(questions.device).clamp(min=1)  # an empty question attends to its <pad>
        real = lengths_mask(lengths, length)  # (B, T)
        x = self.embedding(questions) * self.scale + self.positions[:length]  # (B, T, E)
        x = self.norm(self.encoder(x, src_key_padding_mask=~real))  # (B, T, E)
        if self.pooling == "first":
            return x, real, x[:, 0]
        weights = real.unsqueeze(-1).to(x.dtype)
        return x, real, (x * weights).sum(dim=1) / weights.sum(dim=1)  # (B, T, E), (B, T), (B, E)


def build_question_encoder(
    name: str, *, vocab_size: int, embed_dim: int, hidden_dim: int, dropout: float, max_len: int,
    lstm_states: str = "all",
) -> QuestionEncoder:
    """The encoder ``name`` ("bow", "lstm" or "transformer") with the VQA models' settings.

    The transformer gets 2 layers, a feed-forward width of ``hidden_dim`` and at most
    0.1 dropout (0.5 inside attention layers stops them learning).
    """
    if name == "bow":
        return BagOfWords(vocab_size=vocab_size, embed_dim=embed_dim)
    if name == "lstm":
        return LstmQuestionEncoder(
            vocab_size=vocab_size, embed_dim=embed_dim, hidden_dim=hidden_dim, dropout=dropout,
            states=lstm_states,
        )
    if name == "transformer":
        return TransformerQuestionEncoder(
            vocab_size=vocab_size, embed_dim=embed_dim, ff_dim=hidden_dim,
            dropout=min(dropout, 0.1), max_len=max_len,
        )
    raise ValueError(f"unknown question encoder {name!r}; expected one of {QUESTION_ENCODER_NAMES}")

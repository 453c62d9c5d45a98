"""The captioner: an LSTM (or vanilla RNN) decoder over image features.

"Show, Attend and Tell" (Xu et al., ICML 2015) with ``attention=True``: at every
step the previous hidden state scores each grid cell,

    e_i = w . tanh(W_f f_i + W_h h)   alpha = softmax(e)   z = sigmoid(w_b . h) * sum_i alpha_i f_i

(the gating scalar beta = sigmoid(w_b . h) lets the decoder turn the image down
for words like "a" and "of"), and the cell reads [embedding of the previous
word ; z]. With ``attention=False`` z is the mean image feature at every step
("Show and Tell"-like, the cs231n captioning exercise when ``cell="rnn"``). The
initial hidden (and cell) state is tanh(Linear(mean feature)). Words are scored
by Linear(Dropout(h)).

Training uses teacher forcing (``forward``) and ``caption_loss``: cross entropy
over the non-``<pad>`` targets plus the "doubly stochastic" attention
regulariser of Show, Attend and Tell, mean over images and cells of
(1 - sum over steps of alpha)^2, which pushes the decoder to look at every part
of the image over the caption. ``generate`` decodes with beam search
(``beam_search.py``); ``<pad>`` and ``<start>`` are never generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vqadesk.models.beam_search import Hypothesis, beam_search
from vqadesk.models.captioner_config import CAPTIONER_CELLS, CaptionerConfig
from vqadesk.models.dropout import Dropout
from vqadesk.models.image_encoders import ImageEncoder, build_image_encoder
from vqadesk.models.question_encoders import copy_embeddings, lengths_mask
from vqadesk.text.vocabulary import END_ID, PAD_ID, START_ID

__all__ = [
    "CAPTIONER_CELLS",
    "CaptionMemory",
    "CaptionOutput",
    "Captioner",
    "CaptionerConfig",
    "GeneratedCaption",
    "build_captioner",
    "caption_loss",
]


@dataclass(frozen=True)
class CaptionOutput:
    """Teacher-forced scores: ``logits`` (B, T-1, V) for targets ``captions[:, 1:]``;
    ``attention`` (B, T-1, h*w), zero past each caption's length, or None."""

    logits: Tensor
    attention: Tensor | None


@dataclass(frozen=True)
class GeneratedCaption:
    """One generated caption: word ids (no ``<start>``/``<end>``), each word's probability,
    each word's attention map (L, h, w) or None, ``log_prob`` of the words and ``<end>``,
    and ``score``, the length-normalised log-probability beam search ranked by."""

    token_ids: list[int]
    token_probs: list[float]
    attention: Tensor | None
    log_prob: float
    score: float


@dataclass(frozen=True)
class CaptionMemory:
    """What every decoding step reads: the image as cells, their projection, their mean."""

    cells: Tensor  # (B, N, C)
    projected: Tensor | None  # (B, N, A) W_f f_i, computed once per image
    mean: Tensor  # (B, C)

    def repeat(self, times: int) -> CaptionMemory:
        """Each image ``times`` times in a row: the beam layout, row b * K + k."""

        def rep(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.repeat_interleave(times, dim=0)

        return CaptionMemory(rep(self.cells), rep(self.projected), rep(self.mean))


class Captioner(nn.Module):
    """Image features -> words; see the module docstring."""

    def __init__(self, *, config: CaptionerConfig):
        super().__init__()
        self.config = config
        self.image_encoder: ImageEncoder = build_image_encoder(config.image_encoder)
        channels, self.grid_side = self.image_encoder.output_shape
        hidden = config.hidden_dim
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.init_hidden = nn.Linear(channels, hidden)
        self.init_cell = nn.Linear(channels, hidden) if config.cell == "lstm" else None
        if config.attention:
            self.attend_cells = nn.Linear(channels, config.attention_dim)
            self.attend_hidden = nn.Linear(hidden, config.attention_dim)
            self.attend_score = nn.Linear(config.attention_dim, 1)
            self.gate = nn.Linear(hidden, 1)
        cell_type = nn.LSTMCell if config.cell == "lstm" else nn.RNNCell
        self.cell = cell_type(config.embed_dim + channels, hidden)
        self.dropout = Dropout(config.dropout)
        self.output = nn.Linear(hidden, config.vocab_size)

    def encode_images(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 -> features (B, C, h, w) or (B, D), on the model's device."""
        return self.image_encoder(self.image_encoder.prepare(images))

    def init_word_embeddings(self, matrix: np.ndarray | Tensor) -> None:
        """Start the word embeddings from word vectors (vocab_size, embed_dim)."""
        copy_embeddings(self.embedding, matrix)

    # --- the decoder, one step at a time ---------------------------------------------

    def memory(self, features: Tensor) -> CaptionMemory:
        """Features (B, C, h, w) or (B, D) -> what the decoding steps read."""
        cells = features.flatten(2).transpose(1, 2) if features.dim() == 4 else features.unsqueeze(1)
        projected = self.attend_cells(cells) if self.config.attention else None  # (B, N, A)
        return CaptionMemory(cells=cells, projected=projected, mean=cells.mean(dim=1))

    def initial_state(self, memory: CaptionMemory) -> tuple[Tensor, ...]:
        """(h,) for the RNN cell, (h, c) for the LSTM, each (B, H), from the mean feature."""
        hidden = torch.tanh(self.init_hidden(memory.mean))
        if self.init_cell is None:
            return (hidden,)
        return (hidden, torch.tanh(self.init_cell(memory.mean)))

    def step(
        self, words: Tensor, state: tuple[Tensor, ...], memory: CaptionMemory
    ) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
        """Previous words (B,) -> next-word logits (B, V), new state, attention (B, N) or None."""
        state, alpha = self._advance(self.embedding(words), state, memory)
        return self.output(self.dropout(state[0])), state, alpha

    def _advance(
        self, embedded: Tensor, state: tuple[Tensor, ...], memory: CaptionMemory
    ) -> tuple[tuple[Tensor, ...], Tensor | None]:
        """One step of the cell on embedded words (B, E): new state, attention (B, N) or None."""
        hidden = state[0]
        if self.config.attention:
            energy = torch.tanh(memory.projected + self.attend_hidden(hidden).unsqueeze(1))  # (B, N, A)
            alpha = torch.softmax(self.attend_score(energy).squeeze(2), dim=1)  # (B, N)
            context = torch.bmm(alpha.unsqueeze(1), memory.cells).squeeze(1)  # (B, C)
            context = torch.sigmoid(self.gate(hidden)) * context
        else:
            alpha, context = None, memory.mean
        inputs = torch.cat((embedded, context), dim=1)  # (B, E + C)
        if self.init_cell is None:
            return (self.cell(inputs, hidden),), alpha
        return self.cell(inputs, state), alpha

    # --- training: teacher forcing ---------------------------------------------------

    def forward(self, features: Tensor, captions: Tensor, lengths: Tensor) -> CaptionOutput:
        """``captions`` (B, T): ``<start>`` w1 .. wn ``<end>`` then ``<pad>``; ``lengths`` (B,)
        counts ``<start>`` and ``<end>``. Step t reads word t and predicts word t + 1."""
        memory = self.memory(features)
        state = self.initial_state(memory)
        embedded = self.embedding(captions[:, :-1].to(features.device))  # (B, T-1, E)
        hiddens, attention = [], []
        for t in range(embedded.shape[1]):
            state, alpha = self._advance(embedded[:, t], state, memory)
            hiddens.append(state[0])
            attention.append(alpha)
        # One output projection for all steps: a (B*(T-1), H) x (H, V) matmul, not T-1 small ones.
        logits = self.output(self.dropout(torch.stack(hiddens, dim=1)))  # (B, T-1, V)
        if not self.config.attention:
            return CaptionOutput(logits=logits, attention=None)
        # Steps past a caption's <end> are padding: zero their attention so plots and
        # the attention regulariser only see real steps.
        steps = lengths_mask(lengths.to(features.device) - 1, embedded.shape[1])  # (B, T-1)
        stacked_attention = torch.stack(attention, dim=1) * steps.unsqueeze(2)  # (B, T-1, N)
        return CaptionOutput(logits=logits, attention=stacked_attention)

    # --- inference: beam search ----------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        features: Tensor,
        *,
        beam_size: int = 3,
        max_len: int | None = None,
        length_penalty: float = 1.0,
        num_captions: int = 1,
    ) -> list[list[GeneratedCaption]]:
        """Captions for each image, best first: ``num_captions`` distinct ones per image.

        ``beam_size=1`` is greedy decoding; a beam narrower than ``num_captions`` is
        widened to it. ``max_len`` (default ``config.max_len``) caps the words before
        ``<end>``. Runs in eval mode (no dropout) and restores the previous mode.
        """
        beams = max(beam_size, num_captions)
        was_training = self.training
        self.eval()
        try:
            memory = self.memory(features).repeat(beams)

            def step(
                words: Tensor, state: tuple[Tensor, ...]
            ) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
                logits, state, alpha = self.step(words, state, memory)
                logits[:, PAD_ID] = float("-inf")
                logits[:, START_ID] = float("-inf")
                return torch.log_softmax(logits.float(), dim=1), state, alpha

            found = beam_search(
                step, self.initial_state(memory), batch_size=features.shape[0], beam_size=beams,
                max_len=self.config.max_len if max_len is None else max_len, start_id=START_ID,
                end_id=END_ID, length_penalty=length_penalty, num_results=num_captions,
            )
        finally:
            self.train(was_training)
        return [[self._caption(h) for h in per_image] for per_image in found]

    def _caption(self, hypothesis: Hypothesis) -> GeneratedCaption:
        attention = None
        if self.config.attention and self.grid_side is not None:
            side = self.grid_side
            if hypothesis.attention is None:  # a caption of no words has no maps
                attention = torch.zeros(0, side, side)
            else:
                attention = hypothesis.attention.view(-1, side, side).cpu()
        return GeneratedCaption(
            token_ids=hypothesis.token_ids,
            token_probs=[float(np.exp(lp)) for lp in hypothesis.token_log_probs],
            attention=attention,
            log_prob=hypothesis.log_prob,
            score=hypothesis.score,
        )


def caption_loss(
    output: CaptionOutput, captions: Tensor, pad_id: int = PAD_ID, attention_reg: float = 1.0
) -> Tensor:
    """Mean cross entropy over the non-``<pad>`` targets ``captions[:, 1:]``, plus
    ``attention_reg`` x the doubly stochastic attention regulariser (when there is attention)."""
    targets = captions[:, 1:].to(output.logits.device)  # (B, T-1)
    loss = F.cross_entropy(output.logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)
    if output.attention is not None and attention_reg > 0:
        real = (targets != pad_id).unsqueeze(2).to(output.attention.dtype)  # (B, T-1, 1)
        coverage = (output.attention * real).sum(dim=1)  # (B, N) attention each cell got
        loss = loss + attention_reg * ((1.0 - coverage) ** 2).mean()
    return loss


def build_captioner(config: CaptionerConfig) -> Captioner:
    """The captioner ``config`` describes (image encoder weights loaded as configured)."""
    return Captioner(config=config)

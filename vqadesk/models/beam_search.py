"""Batched beam search over any step-by-step decoder.

The decoder is a function ``step(tokens, state) -> (log_probs, state, attention)``:
``tokens`` (N,) are the previous words of N = batch x beam rows, ``state`` a tuple
of tensors with N rows, ``log_probs`` (N, V) the next word's log-probabilities and
``attention`` (N, L) or None. Rows are laid out image by image: row ``b * K + k``
is beam k of image b. The search reorders ``state`` rows itself as beams fork.

How candidates are chosen (the fairseq scheme): at each step the 2K best
continuations of an image's K beams by total log-probability are looked at, best
first; an ``<end>`` among the first K of them finishes a caption, the first K
others become the next beams. An image is done once it has K finished captions,
and captions longer than ``max_len`` words are made to end there (only ``<end>``
is allowed at step ``max_len + 1``), so every caption's log-probability counts
its ``<end>``. Finished captions are ranked by

    score = log p(words, <end>) / (number of words + 1) ** length_penalty

``length_penalty=0`` ranks by raw log-probability, which favours short captions;
1 (the default) by mean log-probability per token, plain length normalisation
(Wu et al. 2016 use ((5 + len) / 6) ** alpha instead; same idea). With K = 1
the search is exactly greedy decoding. Beams are distinct paths of one search
tree, so the captions returned for an image are distinct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

StepFunction = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...], Tensor | None]]
_NEG_INF = float("-inf")


@dataclass(frozen=True)
class Hypothesis:
    """One finished caption: its words (no ``<start>``/``<end>``), their log-probabilities,
    the attention when each word was written (L, N) or None, ``log_prob`` (all words
    and ``<end>``) and the ranking ``score``."""

    token_ids: list[int]
    token_log_probs: list[float]
    end_log_prob: float
    attention: Tensor | None
    log_prob: float
    score: float


def beam_search(
    step: StepFunction,
    state: tuple[Tensor, ...],
    *,
    batch_size: int,
    beam_size: int,
    max_len: int,
    start_id: int,
    end_id: int,
    length_penalty: float = 1.0,
    num_results: int = 1,
) -> list[list[Hypothesis]]:
    """The ``num_results`` best captions of each image, best first (see the module docstring)."""
    if beam_size < 1 or num_results < 1 or max_len < 0:
        raise ValueError("beam_size and num_results must be >= 1 and max_len >= 0")
    if num_results > beam_size:
        raise ValueError(f"num_results ({num_results}) cannot exceed beam_size ({beam_size})")
    batch, beams = batch_size, beam_size
    device = state[0].device
    tokens = torch.full((batch * beams,), start_id, dtype=torch.long, device=device)
    # Only beam 0 is alive at first, so the first step does not pick K copies of one word.
    scores = torch.full((batch, beams), _NEG_INF, device=device)
    scores[:, 0] = 0.0
    history = _History(batch, beams, device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch

    for position in range(max_len + 1):
        log_probs, state, attention = step(tokens, state)  # (B*K, V), (B*K, L) or None
        log_probs = log_probs.float()
        if position == max_len:  # out of room: the only continuation left is <end>
            forced = torch.full_like(log_probs, _NEG_INF)
            forced[:, end_id] = log_probs[:, end_id]
            log_probs = forced
        vocab = log_probs.shape[1]
        totals = scores.unsqueeze(2) + log_probs.view(batch, beams, vocab)  # (B, K, V)
        top_totals, top_index = totals.view(batch, -1).topk(min(2 * beams, beams * vocab), dim=1)
        top_totals_list, top_index_list = top_totals.tolist(), top_index.tolist()
        end_log_probs = log_probs[:, end_id].view(batch, beams).tolist()

        parents = [list(range(beams)) for _ in range(batch)]
        next_tokens = [[end_id] * beams for _ in range(batch)]
        next_scores = [[_NEG_INF] * beams for _ in range(batch)]
        for b in range(batch):
            if done[b]:
                continue
            kept = 0
            for rank, (total, index) in enumerate(zip(top_totals_list[b], top_index_list[b])):
                if total == _NEG_INF or kept == beams:
                    break
                parent, token = divmod(index, vocab)
                if token == end_id:
                    if rank < beams:
                        finished[b].append(
                            history.hypothesis(b, parent, total, end_log_probs[b][parent], length_penalty)
                        )
                    continue
                parents[b][kept], next_tokens[b][kept], next_scores[b][kept] = parent, token, total
                kept += 1
            done[b] = len(finished[b]) >= beams or kept == 0
        if all(done):
            break

        first_rows = torch.arange(batch, device=device).unsqueeze(1) * beams
        rows = (first_rows + torch.tensor(parents, device=device)).view(-1)  # (B*K,) each beam's parent row
        tokens = torch.tensor(next_tokens, device=device).view(-1)
        word_log_probs = log_probs[rows, tokens]  # (B*K,)
        history.extend(rows, tokens, word_log_probs, None if attention is None else attention[rows])
        state = tuple(s.index_select(0, rows) for s in state)
        scores = torch.tensor(next_scores, device=device)

    return [sorted(found, key=lambda h: h.score, reverse=True)[:num_results] for found in finished]


class _History:
    """The words, log-probabilities and attention of every live beam so far."""

    def __init__(self, batch: int, beams: int, device: torch.device):
        self.beams = beams
        self.tokens = torch.zeros(batch * beams, 0, dtype=torch.long, device=device)
        self.log_probs = torch.zeros(batch * beams, 0, device=device)
        self.attention: Tensor | None = None  # (B*K, t, L)

    def extend(self, rows: Tensor, tokens: Tensor, log_probs: Tensor, attention: Tensor | None) -> None:
        self.tokens = torch.cat((self.tokens[rows], tokens.unsqueeze(1)), dim=1)
        self.log_probs = torch.cat((self.log_probs[rows], log_probs.unsqueeze(1)), dim=1)
        if attention is not None:
            if self.attention is None:
                previous = attention.new_zeros(len(rows), 0, attention.shape[1])
            else:
                previous = self.attention[rows]
            self.attention = torch.cat((previous, attention.unsqueeze(1)), dim=1)

    def hypothesis(
        self, image: int, beam: int, total: float, end_log_prob: float, length_penalty: float
    ) -> Hypothesis:
        row = image * self.beams + beam
        words = self.tokens[row].tolist()
        return Hypothesis(
            token_ids=words,
            token_log_probs=self.log_probs[row].tolist(),
            end_log_prob=end_log_prob,
            attention=None if self.attention is None else self.attention[row].clone(),
            log_prob=total,
            score=total / (len(words) + 1) ** length_penalty,
        )

"""Subword tokens -> the words a caption shows, each with the tokens it is made of.

Pretrained captioners write subword tokens: BLIP and GIT BERT's WordPiece (``skate ##board``),
GPT-2 decoders byte-level BPE (``Ġskate board``, where ``Ġ`` is a space byte). The words are the
whitespace-separated pieces of the text the tokenizer's own ``decode`` gives (special tokens
dropped; its own clean-up rules, so the text matches what transformers' pipelines show). Which
tokens make each word is found by incremental decoding: token ``k`` wrote the characters between
the decoded texts of the first ``k - 1`` and the first ``k`` tokens; a word is made of every token
that wrote one of its characters. This needs no knowledge of the tokenizer's scheme, so it holds
for WordPiece, byte-level BPE and SentencePiece alike. A token that wrote only a space joins the
next word; one that wrote nothing new (the second byte of a character split over two byte-level
tokens) joins the word being written.

A word's probability is the product of its tokens' probabilities and its map the mean of its
tokens' maps (``word_records``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vqadesk.engine.torch_free.predictions import CaptionWord

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class TokenWord:
    """One word of the decoded text and the positions (in the token ids given) of the tokens it is made of."""

    text: str
    tokens: tuple[int, ...]


def group_words(tokenizer, token_ids: Sequence[int]) -> list[TokenWord]:
    """The words ``tokenizer`` writes for ``token_ids``; special tokens belong to no word."""
    special = set(tokenizer.all_special_ids)
    positions = [index for index, token in enumerate(token_ids) if token not in special]
    ids = [int(token_ids[index]) for index in positions]
    if not ids:
        return []
    full = _decode(tokenizer, ids)
    ends = []
    for count in range(1, len(ids)):
        # Clamped and never decreasing: a decode that rewrites earlier characters (a clean-up rule,
        # a character completed by its second byte) still gives each token a contiguous stretch.
        end = min(len(_decode(tokenizer, ids[:count])), len(full))
        ends.append(max(end, ends[-1] if ends else 0))
    ends.append(len(full))
    spans = [match.span() for match in _WORD.finditer(full)]
    members: list[list[int]] = [[] for _ in spans]
    waiting: list[int] = []  # tokens that wrote only spaces: they join the next word
    last_word = None
    start = 0
    for token, end in enumerate(ends):
        touched = [word for word, (first, stop) in enumerate(spans) if first < end and start < stop]
        if touched:
            members[touched[0]].extend(waiting)
            waiting = []
            for word in touched:
                members[word].append(token)
            last_word = touched[-1]
        elif end == start and last_word is not None:  # wrote nothing new: part of the word being written
            members[last_word].append(token)
        else:
            waiting.append(token)
        start = end
    if waiting and spans:
        members[-1].extend(waiting)
    return [
        TokenWord(text=full[first:stop], tokens=tuple(positions[token] for token in sorted(set(tokens))))
        for (first, stop), tokens in zip(spans, members)
    ]


def word_records(
    words: Sequence[TokenWord], token_probs: np.ndarray, token_maps: np.ndarray | None
) -> list[CaptionWord]:
    """``CaptionWord`` of each word: the product of its tokens' probabilities and the mean of their maps.

    ``token_probs`` ``(T,)`` and ``token_maps`` ``(T, h, w)`` (each summing to 1, or None for no maps)
    are indexed by the positions ``group_words`` gave.
    """
    records = []
    for word in words:
        index = list(word.tokens)
        prob = float(np.prod(token_probs[index].astype(np.float64)))
        attention = None
        if token_maps is not None:
            mean = token_maps[index].astype(np.float64).mean(axis=0)
            attention = (mean / mean.sum()).astype(np.float32)
        records.append(CaptionWord(word=word.text, prob=prob, attention=attention))
    return records


def _decode(tokenizer, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=True)

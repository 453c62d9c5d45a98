"""Corpus BLEU-1..4 as the COCO caption evaluation computes it (pycocoevalcap ``Bleu``).

Per image: clipped n-gram matches (each candidate n-gram count capped by its
largest count in any one reference), candidate n-gram counts, the candidate
length, and the reference length *closest* to the candidate's (ties go to the
shorter one). The corpus score sums those over images and applies one brevity
penalty to the totals -- it is not the mean of per-image scores:

    BLEU-n = (prod_{k<=n} (matches_k + 1e-15) / (guesses_k + 1e-9)) ** (1/n)
             * exp(1 - r/c)   when c < r (computed as the tool does, with the
                              same 1e-15 / 1e-9 guards on the length ratio)

The tiny constants are the tool's: they keep a zero match count at (nearly)
zero instead of dividing by zero. Per-image scores use the same formula on
one image's counts; the tool reports them as a side output and so do we.
Input is already tokenised: one list of words per sentence.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["BleuScores", "corpus_bleu", "ngram_counts"]

# pycocoevalcap's guards: "tiny" on numerators, "small" on denominators.
_TINY = 1e-15
_SMALL = 1e-9


@dataclass(frozen=True)
class BleuScores:
    """``corpus[n-1]`` is BLEU-n for the whole corpus; ``per_image`` the same per image."""

    corpus: tuple[float, ...]
    per_image: dict[Hashable, tuple[float, ...]]


@dataclass(frozen=True)
class _ImageCounts:
    candidate_length: int
    reference_length: int  # the closest reference length
    guesses: tuple[int, ...]  # candidate n-grams, n = 1..max_n
    matches: tuple[int, ...]  # clipped matches, n = 1..max_n


def ngram_counts(words: Sequence[str], max_n: int) -> Counter[tuple[str, ...]]:
    """Counts of every n-gram of ``words`` for n = 1..max_n."""
    counts: Counter[tuple[str, ...]] = Counter()
    for n in range(1, max_n + 1):
        # zip(w, w[1:], ..., w[n-1:]) yields every n-gram as a tuple; Counter
        # counts an iterable in C, which makes this the fast path of BLEU/CIDEr.
        counts.update(zip(*(words[offset:] for offset in range(n))))
    return counts


def _image_counts(candidate: Sequence[str], references: Sequence[Sequence[str]], max_n: int) -> _ImageCounts:
    max_reference_counts: dict[tuple[str, ...], int] = {}
    for reference in references:
        for ngram, count in ngram_counts(reference, max_n).items():
            max_reference_counts[ngram] = max(max_reference_counts.get(ngram, 0), count)

    candidate_length = len(candidate)
    # Closest reference length; on a tie the shorter wins (the tool takes the
    # min of (|r - c|, r) pairs).
    reference_length = min((len(ref) for ref in references), key=lambda r: (abs(r - candidate_length), r))

    matches = [0] * max_n
    for ngram, count in ngram_counts(candidate, max_n).items():
        matches[len(ngram) - 1] += min(max_reference_counts.get(ngram, 0), count)
    guesses = tuple(max(0, candidate_length - n + 1) for n in range(1, max_n + 1))
    return _ImageCounts(candidate_length, reference_length, guesses, tuple(matches))


def _bleu(matches: Sequence[int], guesses: Sequence[int], candidate_length: int,
          reference_length: int) -> tuple[float, ...]:
    """BLEU-1..n from (summed) counts, with the tool's guards and brevity penalty."""
    scores = []
    precision_product = 1.0
    for n, (matched, guessed) in enumerate(zip(matches, guesses), start=1):
        precision_product *= (matched + _TINY) / (guessed + _SMALL)
        scores.append(precision_product ** (1.0 / n))
    length_ratio = (candidate_length + _TINY) / (reference_length + _SMALL)
    if length_ratio < 1:
        brevity_penalty = math.exp(1 - 1 / length_ratio)
        scores = [score * brevity_penalty for score in scores]
    return tuple(scores)


def corpus_bleu(
    references: Mapping[Hashable, Sequence[Sequence[str]]],
    candidates: Mapping[Hashable, Sequence[str]],
    *,
    max_n: int = 4,
) -> BleuScores:
    """BLEU-1..max_n of tokenised ``candidates`` (image -> words) against ``references``
    (image -> list of word lists). Both must have the same images, each with at
    least one reference; images are taken in ``candidates`` order."""
    if set(references) != set(candidates):
        raise ValueError("references and candidates must cover the same images")
    if not candidates:
        raise ValueError("BLEU needs at least one image")

    per_image: dict[Hashable, tuple[float, ...]] = {}
    total_matches = [0] * max_n
    total_guesses = [0] * max_n
    total_candidate_length = 0
    total_reference_length = 0
    for image_id, candidate in candidates.items():
        if not references[image_id]:
            raise ValueError(f"image {image_id} has no reference sentences")
        counts = _image_counts(candidate, references[image_id], max_n)
        per_image[image_id] = _bleu(counts.matches, counts.guesses, counts.candidate_length, counts.reference_length)
        total_candidate_length += counts.candidate_length
        total_reference_length += counts.reference_length
        for k in range(max_n):
            total_matches[k] += counts.matches[k]
            total_guesses[k] += counts.guesses[k]

    corpus = _bleu(total_matches, total_guesses, total_candidate_length, total_reference_length)
    return BleuScores(corpus=corpus, per_image=per_image)

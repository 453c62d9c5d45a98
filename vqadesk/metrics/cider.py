"""CIDEr-D as the COCO caption evaluation computes it (pycocoevalcap ``Cider``).

For n = 1..4, every sentence becomes a vector of TF-IDF weights over its
n-grams: ``count * (log(N) - log(max(1, df)))`` where N is the number of
images scored together and df the number of those images whose *reference
set* contains the n-gram. A candidate is compared with each reference of its
image by a clipped cosine

    sum_g min(cand_g, ref_g) * ref_g / (|cand| * |ref|)      (0 when a norm is 0)

times a Gaussian length penalty ``exp(-delta^2 / (2 * 6^2))``; the image
score is the mean over n of the sum over references, divided by the number of
references, times 10. The corpus score is the mean of the image scores.

Kept as the tool has them: the score depends on which images are scored
together (df and N), so a corpus of one image scores 0 (log 1 = 0). The
tool measures ``delta`` as the difference of the sentences' *bigram* counts
(it counts length while looping over bigrams); that is the word-length
difference whenever both sentences have a word, and an empty sentence scores
0 whatever its penalty, so it never changes a score -- kept for fidelity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from vqadesk.metrics.bleu import ngram_counts

__all__ = ["CiderScores", "corpus_cider"]


@dataclass(frozen=True)
class CiderScores:
    """The corpus CIDEr-D and each image's."""

    corpus: float
    per_image: dict[Hashable, float]


@dataclass(frozen=True)
class _TfIdfVector:
    weights: tuple[dict[tuple[str, ...], float], ...]  # one dict per n-gram order
    norms: tuple[float, ...]
    length: int  # number of bigrams: the tool's length for the penalty


def _tf_idf(
    counts: Counter[tuple[str, ...]],
    idf: dict[tuple[str, ...], float],
    log_num_images: float,
    max_n: int,
) -> _TfIdfVector:
    weights: list[dict[tuple[str, ...], float]] = [{} for _ in range(max_n)]
    squared_norms = [0.0] * max_n
    length = 0
    for ngram, term_frequency in counts.items():
        order = len(ngram) - 1
        # An n-gram absent from every reference set counts as df 1: idf log(N).
        weight = term_frequency * idf.get(ngram, log_num_images)
        weights[order][ngram] = weight
        squared_norms[order] += weight**2
        if order == 1:
            length += term_frequency
    return _TfIdfVector(tuple(weights), tuple(math.sqrt(s) for s in squared_norms), length)


def _similarity(candidate: _TfIdfVector, reference: _TfIdfVector, sigma: float) -> list[float]:
    """Clipped cosine per n-gram order, times the Gaussian length penalty."""
    delta = float(candidate.length - reference.length)
    penalty = math.exp(-(delta**2) / (2 * sigma**2))
    similarities = []
    for cand_weights, ref_weights, cand_norm, ref_norm in zip(
        candidate.weights, reference.weights, candidate.norms, reference.norms
    ):
        value = 0.0
        for ngram, cand_weight in cand_weights.items():
            ref_weight = ref_weights.get(ngram, 0.0)
            value += min(cand_weight, ref_weight) * ref_weight  # CIDEr-D's clipping
        if cand_norm != 0 and ref_norm != 0:
            value /= cand_norm * ref_norm
        similarities.append(value * penalty)
    return similarities


def corpus_cider(
    references: Mapping[Hashable, Sequence[Sequence[str]]],
    candidates: Mapping[Hashable, Sequence[str]],
    *,
    max_n: int = 4,
    sigma: float = 6.0,
) -> CiderScores:
    """CIDEr-D of tokenised ``candidates`` (image -> words) against ``references``
    (image -> list of word lists); same images in both, each with a reference."""
    if set(references) != set(candidates):
        raise ValueError("references and candidates must cover the same images")
    if not candidates:
        raise ValueError("CIDEr needs at least one image")

    reference_counts = {}
    document_frequency: Counter[tuple[str, ...]] = Counter()
    for image_id in candidates:
        if not references[image_id]:
            raise ValueError(f"image {image_id} has no reference sentences")
        counts = [ngram_counts(reference, max_n) for reference in references[image_id]]
        reference_counts[image_id] = counts
        # df counts images, not sentences: an n-gram once per reference set.
        document_frequency.update({ngram for count in counts for ngram in count})
    log_num_images = math.log(len(candidates))
    idf = {ngram: log_num_images - math.log(float(df)) for ngram, df in document_frequency.items()}

    per_image: dict[Hashable, float] = {}
    for image_id, candidate in candidates.items():
        candidate_vector = _tf_idf(ngram_counts(candidate, max_n), idf, log_num_images, max_n)
        summed = [0.0] * max_n
        for counts in reference_counts[image_id]:
            reference_vector = _tf_idf(counts, idf, log_num_images, max_n)
            for order, value in enumerate(_similarity(candidate_vector, reference_vector, sigma)):
                summed[order] += value
        # Mean over n-gram orders, then over references, then x10 (the tool's order).
        per_image[image_id] = sum(summed) / max_n / len(reference_counts[image_id]) * 10.0

    return CiderScores(corpus=sum(per_image.values()) / len(per_image), per_image=per_image)

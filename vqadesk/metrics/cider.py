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
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from vqadesk.metrics.bleu import ngram_counts

__all__ = ["CiderCorpus", "CiderScores", "corpus_cider"]


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


@dataclass(frozen=True)
class CiderCorpus:
    """The document frequencies CIDEr-D weighs n-grams with, from a set of images' references.

    ``corpus_cider`` builds one from the images it scores, as the tool does.
    The app builds one from a whole split's references, to score one new
    caption as it would score among that split (a corpus of one image gives 0).
    """

    idf: dict[tuple[str, ...], float]
    log_num_images: float
    max_n: int

    @classmethod
    def from_references(cls, reference_sets: Iterable[Sequence[Sequence[str]]], *, max_n: int = 4) -> CiderCorpus:
        return cls._from_counts(([ngram_counts(r, max_n) for r in refs] for refs in reference_sets), max_n)

    @classmethod
    def _from_counts(cls, count_sets: Iterable[list[Counter[tuple[str, ...]]]], max_n: int) -> CiderCorpus:
        document_frequency: Counter[tuple[str, ...]] = Counter()
        num_images = 0
        for counts in count_sets:
            num_images += 1
            # df counts images, not sentences: an n-gram once per reference set.
            document_frequency.update({ngram for count in counts for ngram in count})
        if not num_images:
            raise ValueError("CIDEr needs at least one image")
        log_num_images = math.log(num_images)
        idf = {ngram: log_num_images - math.log(float(df)) for ngram, df in document_frequency.items()}
        return cls(idf=idf, log_num_images=log_num_images, max_n=max_n)

    def score(self, candidate: Sequence[str], references: Sequence[Sequence[str]], *, sigma: float = 6.0) -> float:
        """CIDEr-D of one tokenised caption against its image's tokenised references."""
        if not references:
            raise ValueError("CIDEr needs at least one reference sentence")
        return self._score(ngram_counts(candidate, self.max_n), [ngram_counts(r, self.max_n) for r in references],
                           sigma)

    def _score(self, candidate_counts, reference_counts, sigma: float) -> float:
        candidate_vector = _tf_idf(candidate_counts, self.idf, self.log_num_images, self.max_n)
        summed = [0.0] * self.max_n
        for counts in reference_counts:
            reference_vector = _tf_idf(counts, self.idf, self.log_num_images, self.max_n)
            for order, value in enumerate(_similarity(candidate_vector, reference_vector, sigma)):
                summed[order] += value
        # Mean over n-gram orders, then over references, then x10 (the tool's order).
        return sum(summed) / self.max_n / len(reference_counts) * 10.0


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
    for image_id in candidates:
        if not references[image_id]:
            raise ValueError(f"image {image_id} has no reference sentences")
    reference_counts = {image_id: [ngram_counts(r, max_n) for r in references[image_id]] for image_id in candidates}
    corpus = CiderCorpus._from_counts(reference_counts.values(), max_n)
    per_image = {
        image_id: corpus._score(ngram_counts(candidate, max_n), reference_counts[image_id], sigma)
        for image_id, candidate in candidates.items()
    }
    return CiderScores(corpus=sum(per_image.values()) / len(per_image), per_image=per_image)

"""Caption evaluation: tokenise, then BLEU-1..4 and CIDEr-D over one set of images.

Follows pycocoevalcap's ``COCOEvalCap``: the images scored are the images
that have a candidate caption (CIDEr's document frequencies and N come from
exactly those images), every reference and candidate goes through the same
tokenizer, and each image needs at least one reference.

``evaluate_caption_results`` scores a results file against a COCO captions
file (``vqadesk evaluate captions``), with every check of its input and
messages that name the two files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vqadesk.errors import EvaluationError, list_ids
from vqadesk.metrics.bleu import corpus_bleu
from vqadesk.metrics.caption_tokenize import tokenize_for_evaluation
from vqadesk.metrics.cider import CiderCorpus, corpus_cider
from vqadesk.metrics.results_io import CaptionResult, by_id
from vqadesk.text.counts import noun_for, plural

__all__ = [
    "CaptionEvaluation",
    "METRIC_NAMES",
    "evaluate_caption_results",
    "evaluate_captions",
    "read_reference_captions",
    "reference_corpus",
    "score_one_caption",
]

METRIC_NAMES: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr")


@dataclass(frozen=True)
class CaptionEvaluation:
    """Corpus scores (fractions, not percent, as the reference tool reports them)."""

    bleu: tuple[float, float, float, float]
    cider: float
    per_image_bleu: dict[int, tuple[float, float, float, float]]
    per_image_cider: dict[int, float]

    @property
    def num_images(self) -> int:
        return len(self.per_image_cider)

    def scores(self) -> dict[str, float]:
        """``{"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr"}``."""
        return dict(zip(METRIC_NAMES, (*self.bleu, self.cider)))


def _verbs(count: int) -> tuple[str, str]:
    """"is"/"are" and "has"/"have" agreeing with ``count``."""
    return noun_for(count, "is", "are"), noun_for(count, "has", "have")


def evaluate_captions(
    references: Mapping[int, Sequence[str]],
    candidates: Mapping[int, str],
    *,
    pretokenized: bool = False,
) -> CaptionEvaluation:
    """Score ``candidates`` (image id -> caption) against ``references`` (image id -> captions).

    Only the candidates' images are scored. ``pretokenized=True`` takes every
    string as already tokenised (split on whitespace), which is what the
    equality tests against pycocoevalcap feed both tools.
    """
    _check_candidates(references, candidates)
    return _score(references, candidates, pretokenized)


def _score(
    references: Mapping[int, Sequence[str]], candidates: Mapping[int, str], pretokenized: bool = False
) -> CaptionEvaluation:
    tokenize = str.split if pretokenized else tokenize_for_evaluation
    tokenized_candidates = {image_id: tokenize(caption) for image_id, caption in candidates.items()}
    tokenized_references = {
        image_id: [tokenize(caption) for caption in references[image_id]] for image_id in candidates
    }
    bleu = corpus_bleu(tokenized_references, tokenized_candidates)
    cider = corpus_cider(tokenized_references, tokenized_candidates)
    return CaptionEvaluation(
        bleu=bleu.corpus,  # type: ignore[arg-type]  # max_n=4 gives four scores
        cider=cider.corpus,
        per_image_bleu=bleu.per_image,  # type: ignore[arg-type]
        per_image_cider=cider.per_image,  # type: ignore[arg-type]
    )


class _Files(NamedTuple):
    results: str | os.PathLike[str]
    annotations: str | os.PathLike[str]


def _check_candidates(
    references: Mapping[int, Sequence[str]], candidates: Mapping[int, str], files: _Files | None = None
) -> None:
    """Raise ``EvaluationError`` unless every candidate's image has references (COCOEvalCap's input).

    With ``files`` the messages name the results and annotations files they are about.
    """
    if not candidates:
        message = "no captions to evaluate: the results are empty"
        raise EvaluationError(f"{files.results}: {message}" if files else message)
    unknown = [image_id for image_id in candidates if image_id not in references]
    if unknown:
        are, have = _verbs(len(unknown))
        raise EvaluationError(
            f"{files.results}: {plural(len(unknown), 'image')} {are} not in {files.annotations}: "
            f"image_id {list_ids(unknown)}"
            if files else f"{plural(len(unknown), 'result image')} {have} no reference captions: "
                          f"image_id {list_ids(unknown)}"
        )
    uncaptioned = [image_id for image_id in candidates if not references[image_id]]
    if uncaptioned:
        count, have = len(uncaptioned), _verbs(len(uncaptioned))[1]
        raise EvaluationError(
            f"{files.annotations}: {plural(count, 'result image')} {have} no reference caption: "
            f"image_id {list_ids(uncaptioned)}"
            if files else f"{plural(count, 'image')} {have} an empty reference list: image_id {list_ids(uncaptioned)}"
        )


# -- a results file against a captions file (``vqadesk evaluate captions``) ----------------


def read_reference_captions(path: str | os.PathLike[str]) -> dict[int, list[str]]:
    """image id -> its reference captions, for every image of a COCO captions file."""
    from vqadesk.data.coco import CocoIndex  # the COCO reader only for the files that need it

    index = CocoIndex(path)
    if index.caption_count == 0:
        raise EvaluationError(f"{path}: no reference captions (expected a COCO captions_<split>.json file)")
    return {image_id: [c.caption for c in index.captions(image_id)] for image_id in index.image_ids}


def evaluate_caption_results(
    references: Mapping[int, Sequence[str]],
    results: Iterable[CaptionResult],
    *,
    results_path: str | os.PathLike[str],
    annotations_path: str | os.PathLike[str],
) -> CaptionEvaluation:
    """Score a results file's captions, at most one per image, each of an image with references.

    ``references`` come from ``annotations_path`` (``read_reference_captions``), ``results``
    from ``results_path`` (``read_caption_results``); an ``EvaluationError`` names the file at fault.
    """
    candidates, repeated = by_id(results, lambda result: result.image_id, lambda result: result.caption)
    if repeated:
        raise EvaluationError(
            f"{results_path}: {plural(len(repeated), 'image')} {_verbs(len(repeated))[1]} more than one caption: "
            f"image_id {list_ids(repeated)}"
        )
    _check_candidates(references, candidates, _Files(results_path, annotations_path))
    return _score(references, candidates)


# -- one caption at a time (the app's Caption panel) ---------------------------------------


def reference_corpus(reference_sets: Iterable[Sequence[str]]) -> CiderCorpus:
    """The CIDEr-D document frequencies of a split's reference captions (one list per image)."""
    return CiderCorpus.from_references([tokenize_for_evaluation(c) for c in refs] for refs in reference_sets)


def score_one_caption(candidate: str, references: Sequence[str], corpus: CiderCorpus) -> tuple[float, float]:
    """BLEU-4 and CIDEr-D of one caption against its image's references.

    BLEU-4 is the image's own (a corpus of one image); CIDEr-D weighs n-grams
    with ``corpus`` (the split's references), so the score is the one this
    caption would get in the split -- CIDEr over a single image is always 0.
    """
    if not references:
        raise EvaluationError("no reference captions to score against")
    words = tokenize_for_evaluation(candidate)
    tokenized = [tokenize_for_evaluation(reference) for reference in references]
    bleu4 = corpus_bleu({0: tokenized}, {0: words}).corpus[3]
    return bleu4, corpus.score(words, tokenized)

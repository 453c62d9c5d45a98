"""Optional starting values for word embeddings from a spaCy pipeline's vectors.

The original VQA baselines initialised their question embeddings with GloVe
vectors, which they read through spaCy. An installed spaCy pipeline that
ships static vectors (``en_core_web_md``: 300-d, ``en_core_web_lg``: 300-d,
both trained on Common Crawl) gives the same head start. This is never
required and never downloads anything: when the pipeline is missing, or has
no vectors, ``load_pipeline_vectors`` says why and the model keeps its random
initialisation.

The matrix has one row per vocabulary id:

* words the pipeline knows: its vector (looked up as the lowercase word, then
  Capitalised, then UPPER, since names and acronyms are often stored so);
* ``<pad>``: zeros, like ``nn.Embedding(padding_idx=0)``;
* ``<unk>``, ``<start>``, ``<end>`` and words without a vector: small random
  values from a seeded generator, N(0, (0.1 s)^2) where s is the standard
  deviation of the vectors found, so they start near the origin but distinct.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vqadesk.text.vocabulary import PAD_ID, SPECIAL_TOKENS, Vocabulary

if TYPE_CHECKING:
    from spacy.language import Language

DEFAULT_PIPELINE = "en_core_web_md"
RANDOM_ROW_SCALE = 0.1

# The vectors live in the pipeline's vocab; skipping its components makes
# loading en_core_web_lg take a fraction of the time. Names a pipeline does
# not have are ignored by spaCy.
_COMPONENTS_NOT_NEEDED = (
    "tok2vec", "transformer", "tagger", "morphologizer", "parser", "senter",
    "attribute_ruler", "lemmatizer", "ner", "entity_ruler", "textcat", "spancat",
)


@dataclass(frozen=True)
class PipelineVectors:
    """Embedding rows from a spaCy pipeline, or the reason there are none.

    ``matrix`` is ``(len(vocab), dim)`` float32, or ``None`` with ``reason``
    saying why (not installed, no vectors, no word found).
    """

    pipeline: str
    matrix: np.ndarray | None
    reason: str | None
    words_found: int
    words_total: int

    @property
    def coverage(self) -> float:
        """Share of the vocabulary's words that got a pipeline vector."""
        return self.words_found / self.words_total if self.words_total else 0.0


def load_pipeline_vectors(
    vocab: Vocabulary,
    pipeline: str | os.PathLike[str] = DEFAULT_PIPELINE,
    *,
    nlp: Language | None = None,
    seed: int = 0,
) -> PipelineVectors:
    """Initial embeddings for ``vocab`` from the spaCy ``pipeline`` (a package name or folder).

    ``nlp`` passes an already loaded pipeline instead (tests, or a caller
    that has one); ``pipeline`` then only names it in messages.
    """
    words_total = len(vocab) - len(SPECIAL_TOKENS)
    if isinstance(pipeline, os.PathLike):
        pipeline = os.fspath(pipeline)
        is_path = True
    else:
        is_path = _looks_like_path(pipeline)
    if nlp is None:
        nlp, reason = _load_vectors_only(pipeline, is_path=is_path)
        if nlp is None:
            return PipelineVectors(pipeline, None, reason, 0, words_total)
    dim = int(nlp.vocab.vectors_length)
    if dim == 0:
        reason = (
            f"spaCy pipeline {pipeline!r} has no word vectors; "
            "use en_core_web_md or en_core_web_lg"
        )
        return PipelineVectors(pipeline, None, reason, 0, words_total)

    found_rows: dict[int, np.ndarray] = {}
    for token_id in range(len(SPECIAL_TOKENS), len(vocab)):
        vector = _lookup(nlp, vocab.id_to_token(token_id))
        if vector is not None:
            found_rows[token_id] = vector
    if not found_rows:
        reason = f"none of the {words_total} vocabulary words has a vector in {pipeline!r}"
        return PipelineVectors(pipeline, None, reason, 0, words_total)

    found = np.stack(list(found_rows.values())).astype(np.float32)
    scale = RANDOM_ROW_SCALE * float(found.std()) or RANDOM_ROW_SCALE
    # One draw for the whole matrix, so a row's random values do not depend
    # on which other words happened to have vectors.
    matrix = np.random.default_rng(seed).normal(0.0, scale, size=(len(vocab), dim))
    matrix = matrix.astype(np.float32)
    matrix[list(found_rows)] = found
    matrix[PAD_ID] = 0.0
    return PipelineVectors(pipeline, matrix, None, len(found_rows), words_total)


def _lookup(nlp: Language, word: str) -> np.ndarray | None:
    for form in dict.fromkeys((word, word.capitalize(), word.upper())):
        if nlp.vocab.has_vector(form):
            return np.asarray(nlp.vocab.get_vector(form), dtype=np.float32)
    return None


def _load_vectors_only(pipeline: str, *, is_path: bool) -> tuple[Language | None, str]:
    """The pipeline without its components, or ``None`` and why not."""
    try:
        import spacy  # deferred: only this optional feature needs a full pipeline
    except ImportError:
        return None, "spaCy is not installed, so no pipeline vectors can be used"
    try:
        return spacy.load(pipeline, exclude=list(_COMPONENTS_NOT_NEEDED)), ""
    except OSError as exc:
        if "E050" in str(exc) and is_path:  # spaCy's "Can't find model"
            return None, f"no spaCy pipeline found at {pipeline}"
        if "E050" in str(exc):
            return None, (
                f"spaCy pipeline {pipeline!r} is not installed; install it with "
                f"`python -m spacy download {pipeline}` to initialise embeddings from its vectors"
            )
        return None, f"spaCy pipeline {pipeline!r} could not be loaded: {exc}"
    except Exception as exc:  # noqa: BLE001 - optional: a broken package must not stop training
        return None, f"spaCy pipeline {pipeline!r} could not be loaded: {exc}"


def _looks_like_path(pipeline: str) -> bool:
    return "/" in pipeline or "\\" in pipeline or pipeline.startswith(".")

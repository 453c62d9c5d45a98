"""What the Predictor returns: plain, frozen records of numbers, strings and numpy arrays.

Torch-free, so the GUI can import and render them without loading torch.
Attention maps are ``float32`` numpy arrays over the image encoder's grid
(8 x 8 for the Shapes CNN at 128 px), row 0 at the top of the image; each map
sums to 1. ``to_json`` gives the documented ``--json`` documents of
``vqadesk ask`` and ``vqadesk caption`` (docs/inference.md).

Records holding arrays compare by identity (``eq=False``): numpy arrays have
no single truth value, so a generated ``==`` would raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Which part of the photo an attention map covers: the centre square that ``fit_square`` keeps (the
# own models, and pretrained models whose processor crops the centre), or the whole photo (a
# processor that resizes the whole image, as BLIP's and ViLT's do).
CENTRE_SQUARE = "centre-square"
WHOLE_IMAGE = "whole-image"

# Attention cells in JSON: 6 decimals keep the maps exact enough to plot and the output short.
_JSON_DECIMALS = 6


@dataclass(frozen=True)
class Answer:
    """One candidate answer and its softmax probability over the whole answer vocabulary."""

    text: str
    prob: float


@dataclass(frozen=True, eq=False, kw_only=True)
class ModelResult:
    """What every prediction carries: the model's name, the timings of making it
    (``timings_ms``, per step and ``total``), and whether the image's features came
    from the cache. ``attention_region`` says which part of the photo its attention maps cover
    (``CENTRE_SQUARE`` or ``WHOLE_IMAGE``); ``precision`` the arithmetic that made it (``fp32``,
    ``bf16``, ``fp16``: the model's resolved ``--precision``, own models and pretrained ones alike)."""

    model: str
    timings_ms: dict[str, float]
    cached: bool
    attention_region: str = CENTRE_SQUARE
    precision: str = "fp32"

    def _model_json(self) -> dict[str, Any]:
        """The last entries of ``to_json``: ``{"attention_region", "model", "timings_ms"}``."""
        return {
            "attention_region": self.attention_region,
            "model": self.model,
            "timings_ms": _timings_json(self.timings_ms),
        }


@dataclass(frozen=True, eq=False)
class VqaPrediction(ModelResult):
    """The answer to one question about one image.

    ``answers``: the top-k, best first. ``attention``: ``(h, w)``, the mean of
    the glimpses, summing to 1; ``glimpses``: ``(G, h, w)``, each summing to 1;
    both None for models without attention (``bow``, ``lstm``). ``timings_ms``:
    ``load_image`` (hashing the file, and decoding it unless cached), ``encode``
    (0 when the features came from the cache), ``answer`` (tokenising the
    question and the answer head) and ``total``; for a batched ``ask_many``
    they are the whole batch's.
    """

    question: str
    answers: list[Answer]
    attention: np.ndarray | None
    glimpses: np.ndarray | None

    @property
    def best(self) -> Answer:
        return self.answers[0]

    def to_json(self) -> dict[str, Any]:
        """``{"question", "answers": [{"answer", "score"}], "attention", "model", "timings_ms"}``."""
        return {
            "question": self.question,
            "answers": [{"answer": a.text, "score": float(a.prob)} for a in self.answers],
            "attention": _grid_json(self.attention),
            **self._model_json(),
        }


@dataclass(frozen=True, eq=False)
class CaptionWord:
    """One generated word, its probability, and where the decoder looked when writing it (h, w)."""

    word: str
    prob: float
    attention: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Caption:
    """One caption: its text (the words joined by spaces), its words, and its beam-search
    ``score`` (log-probability per token, length-normalised) and total ``log_prob``."""

    text: str
    words: list[CaptionWord]
    score: float
    log_prob: float


@dataclass(frozen=True, eq=False)
class CaptionPrediction(ModelResult):
    """Captions of one image, best first. ``timings_ms``: ``load_image``, ``encode`` (0 when
    cached), ``decode`` and ``total`` (for ``caption_many``, the batch's)."""

    captions: list[Caption]

    @property
    def best(self) -> Caption:
        return self.captions[0]

    def to_json(self) -> dict[str, Any]:
        """``{"captions": [{"caption", "score", "words": [{"word", "prob"}]}], "model", "timings_ms"}``."""
        return {
            "captions": [
                {
                    "caption": c.text,
                    "score": float(c.score),
                    "words": [{"word": w.word, "prob": float(w.prob)} for w in c.words],
                }
                for c in self.captions
            ],
            **self._model_json(),
        }


def _grid_json(grid: np.ndarray | None) -> list[list[float]] | None:
    if grid is None:
        return None
    return np.round(grid.astype(np.float64), _JSON_DECIMALS).tolist()


def _timings_json(timings: dict[str, float]) -> dict[str, float]:
    return {key: round(float(value), 3) for key, value in timings.items()}

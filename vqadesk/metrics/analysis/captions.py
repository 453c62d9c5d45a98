"""What a caption evaluation says beyond the corpus scores: each image's CIDEr-D and their spread.

The histogram has 20 equal-width bins from 0 to the highest image score
rounded up to a multiple of 0.5 (at least 1.0), so a model's scores fill the
plot whatever their range; the last bin holds its upper edge.
``CaptionAnalysis.to_json()`` gives the keys ``vqadesk evaluate captions
--json`` adds to the scores (docs/evaluate.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HISTOGRAM_BINS = 20
_HISTOGRAM_STEP = 0.5


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]  # bins + 1 edges
    counts: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts)}


@dataclass(frozen=True)
class CaptionAnalysis:
    per_image_cider: dict[int, float]
    histogram: Histogram

    def to_json(self) -> dict[str, Any]:
        return {
            "numImages": len(self.per_image_cider),
            "perImageCIDEr": {str(image_id): score for image_id, score in self.per_image_cider.items()},
            "ciderHistogram": self.histogram.to_json(),
        }


def histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> Histogram:
    """Equal-width bins from 0 to ``max(values)`` rounded up to 0.5 (at least 1.0)."""
    top = max(1.0, math.ceil(max(values, default=0.0) / _HISTOGRAM_STEP) * _HISTOGRAM_STEP)
    counts = [0] * bins
    for value in values:
        counts[min(max(int(value / top * bins), 0), bins - 1)] += 1
    return Histogram(tuple(round(top * index / bins, 6) for index in range(bins + 1)), tuple(counts))


def analyse_captions(per_image_cider: Mapping[int, float]) -> CaptionAnalysis:
    """The per-image CIDEr-D scores (as ``CaptionEvaluation.per_image_cider``) and their histogram."""
    scores = {int(image_id): float(score) for image_id, score in per_image_cider.items()}
    return CaptionAnalysis(scores, histogram(list(scores.values())))

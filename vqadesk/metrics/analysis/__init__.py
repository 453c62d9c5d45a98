"""Analyses of an evaluation beyond the official numbers (pure Python, no Qt, no torch).

``vqa``: calibration, yes/no and counting confusion matrices, correctness;
``captions``: per-image CIDEr-D and its histogram; ``diff``: two evaluations
of the same questions or images side by side. docs/evaluate.md.
"""

from __future__ import annotations

from vqadesk.metrics.analysis.captions import CaptionAnalysis, Histogram, analyse_captions
from vqadesk.metrics.analysis.diff import DiffRow, EvaluationDiff, diff_evaluations
from vqadesk.metrics.analysis.vqa import (
    RIGHT,
    Calibration,
    CalibrationBin,
    Confusion,
    VqaAnalysis,
    analyse_vqa,
    calibration,
    majority_answer,
)

__all__ = [
    "RIGHT", "Calibration", "CalibrationBin", "CaptionAnalysis", "Confusion", "DiffRow", "EvaluationDiff",
    "Histogram", "VqaAnalysis", "analyse_captions", "analyse_vqa", "calibration", "diff_evaluations",
    "majority_answer",
]

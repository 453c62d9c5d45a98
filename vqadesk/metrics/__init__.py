"""Official evaluation metrics: VQA accuracy, BLEU-1..4 and CIDEr-D.

Each metric reproduces the reference tool's numbers (GT-Vision-Lab/VQA's
``vqaEval.py``, pycocoevalcap's ``Bleu`` and ``Cider``); docs/metrics.md says
how, and where the tools' quirks are kept on purpose. Pure Python, no Qt,
no torch.
"""

from __future__ import annotations

from vqadesk.metrics.bleu import BleuScores, corpus_bleu
from vqadesk.metrics.captions import CaptionEvaluation, evaluate_captions
from vqadesk.metrics.cider import CiderScores, corpus_cider
from vqadesk.metrics.vqa_accuracy import VqaEvaluation, answer_accuracy, evaluate_vqa

__all__ = [
    "BleuScores",
    "CaptionEvaluation",
    "CiderScores",
    "VqaEvaluation",
    "answer_accuracy",
    "corpus_bleu",
    "corpus_cider",
    "evaluate_captions",
    "evaluate_vqa",
]

"""The ``--json`` documents of ``vqadesk evaluate``: the official keys, then the analysis keys.

One function per kind, used by the CLI and by the evaluation runner for
``metrics.json``, so the two print the same document for the same results
file by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vqadesk.metrics.analysis.captions import CaptionAnalysis, analyse_captions
from vqadesk.metrics.analysis.vqa import VqaAnalysis, analyse_vqa
from vqadesk.metrics.captions import CaptionEvaluation
from vqadesk.metrics.results_io import VqaResult
from vqadesk.metrics.vqa_accuracy import VqaEvaluation
from vqadesk.text.counts import plural


def vqa_analysis(
    evaluation: VqaEvaluation,
    question_ids: Sequence[int],
    annotations: Mapping[int, Any],
    results: Iterable[VqaResult],
) -> tuple[VqaAnalysis, str | None]:
    """The analysis of results ``evaluate_vqa`` accepted, and a note when there is no calibration.

    Calibration needs a ``score`` in every result; otherwise the note says how
    many lack one.
    """
    results = list(results)
    answers = {result.question_id: result.answer for result in results}
    scores = {result.question_id: result.score for result in results if result.score is not None}
    note = None
    if len(scores) < len(question_ids):
        missing = len(question_ids) - len(scores)
        note = (f"no calibration: {plural(missing, 'result')} of {len(question_ids):,} "
                f"{'has' if missing == 1 else 'have'} no \"score\" (the model's probability of its answer)")
    analysis = analyse_vqa(question_ids, annotations, answers, evaluation.per_question, None if note else scores)
    return analysis, note


def vqa_document(evaluation: VqaEvaluation, analysis: VqaAnalysis) -> dict[str, Any]:
    """The official keys (``overall``, ``perAnswerType``, ``perQuestionType``, ``perQuestion``), then ours."""
    return evaluation.to_official_json() | analysis.to_json()


def caption_analysis(evaluation: CaptionEvaluation) -> CaptionAnalysis:
    return analyse_captions(evaluation.per_image_cider)


def caption_document(evaluation: CaptionEvaluation, analysis: CaptionAnalysis) -> dict[str, Any]:
    """``BLEU-1`` … ``CIDEr`` as before, then the per-image CIDEr-D and its histogram."""
    return evaluation.scores() | analysis.to_json()

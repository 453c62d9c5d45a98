"""The ``--json`` documents of ``vqadesk evaluate``: the official keys, then the analysis keys.

One function per kind, used by the CLI and by the evaluation runner for
``metrics.json``, so the two print the same document for the same results
file by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vqadesk.metrics.analysis.captions import CaptionAnalysis, analyse_captions
from vqadesk.metrics.analysis.vqa import Calibration, CalibrationBin, Confusion, VqaAnalysis, analyse_vqa
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
    """The official keys (``overall``, ``perAnswerType``, ``perQuestionType``, ``perQuestion``), then ours
    (``rules``: the normalisation rules used, then the analysis's keys)."""
    return evaluation.to_official_json() | {"rules": evaluation.rules} | analysis.to_json()


def caption_analysis(evaluation: CaptionEvaluation) -> CaptionAnalysis:
    return analyse_captions(evaluation.per_image_cider)


def caption_document(evaluation: CaptionEvaluation, analysis: CaptionAnalysis) -> dict[str, Any]:
    """``BLEU-1`` … ``CIDEr`` as before, then the per-image CIDEr-D and its histogram."""
    return evaluation.scores() | analysis.to_json()


def read_vqa_document(document: Mapping[str, Any]) -> tuple[VqaEvaluation, VqaAnalysis]:
    """The evaluation and analysis a ``vqa_document`` holds (to print a stored ``metrics.json`` again).

    Raises ``KeyError`` / ``TypeError`` / ``ValueError`` for a document that is not one; the caller
    names its file.
    """
    per_question = {int(qid): float(acc) for qid, acc in document["perQuestion"].items()}
    correctness = document["correctness"]
    calibration_doc = document.get("calibration")
    calibration = None if calibration_doc is None else Calibration(
        tuple(CalibrationBin(b["low"], b["high"], int(b["count"]), b["accuracy"], b["meanScore"])
              for b in calibration_doc["bins"]), float(calibration_doc["ece"]))
    evaluation = VqaEvaluation(
        overall=float(document["overall"]), per_answer_type=dict(document["perAnswerType"]),
        per_question_type=dict(document["perQuestionType"]), per_question=per_question,
        answer_type_counts=dict(document["answerTypeCounts"]),
        question_type_counts=dict(document["questionTypeCounts"]),
        rules=str(document.get("rules", "official")))
    analysis = VqaAnalysis(
        calibration=calibration, yes_no=_read_confusion(document["yesNoConfusion"]),
        counts=_read_confusion(document["countConfusion"]), right=int(correctness["right"]),
        partial=int(correctness["partial"]), wrong=int(correctness["wrong"]),
        answer_type_counts=evaluation.answer_type_counts, question_type_counts=evaluation.question_type_counts)
    return evaluation, analysis


def _read_confusion(block: Mapping[str, Any]) -> Confusion:
    labels = tuple(str(label) for label in block["labels"])
    matrix = tuple(tuple(int(n) for n in row) for row in block["matrix"])
    if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        raise ValueError("a confusion matrix that does not match its labels")
    return Confusion(labels, matrix)


def read_caption_document(document: Mapping[str, Any]) -> tuple[CaptionEvaluation, CaptionAnalysis]:
    """The scores and analysis a ``caption_document`` holds (per-image BLEU is not kept: empty)."""
    bleu = tuple(float(document[f"BLEU-{n}"]) for n in range(1, 5))
    per_image = {int(image): float(score) for image, score in document["perImageCIDEr"].items()}
    evaluation = CaptionEvaluation(bleu=bleu, cider=float(document["CIDEr"]),  # type: ignore[arg-type]
                                   per_image_bleu={}, per_image_cider=per_image)
    return evaluation, analyse_captions(per_image)

"""Evaluations as short readable tables, for the command line and the training routines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vqadesk.text.counts import plural

if TYPE_CHECKING:
    from vqadesk.metrics.captions import CaptionEvaluation
    from vqadesk.metrics.vqa_accuracy import VqaEvaluation

_WORST_QUESTION_TYPES = 10


def format_vqa_evaluation(evaluation: VqaEvaluation) -> str:
    """The readable table: overall, per answer type, the worst question types.

    Printed by ``vqadesk evaluate vqa`` and ``python -m training.evaluate``.
    """
    lines = [
        f"VQA accuracy ({evaluation.rules} rules), {plural(evaluation.num_questions, 'question')}",
        f"  overall  {evaluation.overall:6.2f}",
        "Per answer type:",
    ]
    for name, accuracy in evaluation.per_answer_type.items():
        lines.append(f"  {name:<24} {accuracy:6.2f}  ({plural(evaluation.answer_type_counts[name], 'question')})")
    worst = sorted(evaluation.per_question_type.items(), key=lambda item: (item[1], item[0]))
    shown = worst[:_WORST_QUESTION_TYPES]
    lines.append(f"Worst question types ({len(shown)} of {len(worst)}):")
    for name, accuracy in shown:
        lines.append(f"  {name:<24} {accuracy:6.2f}  ({plural(evaluation.question_type_counts[name], 'question')})")
    return "\n".join(lines)


def format_caption_evaluation(evaluation: CaptionEvaluation, coverage: str) -> str:
    """The readable table of BLEU-1..4 and CIDEr-D; ``coverage`` says which images were scored.

    Printed by ``vqadesk evaluate captions`` and ``python -m training.evaluate``.
    """
    lines = [f"Caption metrics on {coverage}"]
    lines += [f"  {name:<7} {value:.4f}" for name, value in evaluation.scores().items()]
    return "\n".join(lines)

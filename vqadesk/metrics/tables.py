"""Evaluations as short readable tables, for the command line and the training routines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vqadesk.text.counts import plural

if TYPE_CHECKING:
    from vqadesk.metrics.analysis import CaptionAnalysis, Confusion, EvaluationDiff, VqaAnalysis
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


def format_vqa_analysis(analysis: VqaAnalysis) -> str:
    """Correctness, calibration (non-empty bins) and the two confusion matrices, for ``vqadesk evaluate vqa``."""
    lines = [f"Correctness: {analysis.right:,} right (accuracy 100), {analysis.partial:,} partly right, "
             f"{analysis.wrong:,} wrong"]
    if analysis.calibration is not None:
        lines.append(f"Calibration (accuracy by the answer's probability), ECE {analysis.calibration.ece:.4f}:")
        for b in analysis.calibration.bins:
            if b.count:
                lines.append(f"  {b.low:.1f}-{b.high:.1f}  {plural(b.count, 'question'):>16}  "
                             f"accuracy {b.accuracy:6.2f}  mean probability {b.mean_score:.3f}")
    lines += _confusion_lines("Yes/no", analysis.yes_no)
    lines += _confusion_lines("Counting", analysis.counts)
    return "\n".join(lines)


def _confusion_lines(title: str, confusion: Confusion) -> list[str]:
    """The matrix with only the labels that occur (rows: human majority; columns: prediction)."""
    if not confusion.count:
        return []
    used = [i for i, label in enumerate(confusion.labels)
            if any(confusion.matrix[i]) or any(row[i] for row in confusion.matrix)]
    width = max(6, *(len(confusion.labels[i]) + 1 for i in used))
    lines = [f"{title} confusion ({plural(confusion.count, 'question')}; rows: human majority, columns: prediction):",
             "  " + " " * width + "".join(f"{confusion.labels[j]:>{width}}" for j in used)]
    for i in used:
        lines.append(f"  {confusion.labels[i]:<{width}}" + "".join(f"{confusion.matrix[i][j]:>{width}}" for j in used))
    return lines


def format_caption_analysis(analysis: CaptionAnalysis) -> str:
    """The per-image CIDEr-D spread: quartiles and the histogram's non-empty bins."""
    scores = sorted(analysis.per_image_cider.values())
    if not scores:
        return ""
    quartiles = [scores[min(len(scores) - 1, int(q * len(scores)))] for q in (0.25, 0.5, 0.75)]
    lines = [f"Per-image CIDEr-D: min {scores[0]:.3f}, quartiles {quartiles[0]:.3f} / {quartiles[1]:.3f} / "
             f"{quartiles[2]:.3f}, max {scores[-1]:.3f}"]
    edges, counts = analysis.histogram.edges, analysis.histogram.counts
    lines += [f"  {edges[i]:5.2f}-{edges[i + 1]:<5.2f} {counts[i]:>8,}" for i in range(len(counts)) if counts[i]]
    return "\n".join(lines)


def format_diff(diff: EvaluationDiff, names: tuple[str, str]) -> str:
    """``vqadesk compare-results``: the table of A, B and B - A, then the sizes of the two lists."""
    def row(r) -> str:
        cell = lambda v: "     -" if v is None else f"{v:6.2f}" if diff.kind == "vqa" else f"{v:6.4f}"  # noqa: E731
        count = "" if r.count is None else f"  ({plural(r.count, 'question' if diff.kind == 'vqa' else 'image')})"
        change = "      -" if r.difference is None else f"{r.difference:+7.2f}" if diff.kind == "vqa" \
            else f"{r.difference:+7.4f}"
        return f"  {r.name:<24} {cell(r.a)} {cell(r.b)} {change}{count}"

    header = f"  {'':<24} {'A':>6} {'B':>6} {'B - A':>7}"
    lines = [f"A: {names[0]}", f"B: {names[1]}", header, *map(row, diff.overall)]
    if diff.kind == "vqa":
        lines += ["Per answer type:", *map(row, diff.per_answer_type),
                  "Per question type (biggest change first):",
                  *map(row, sorted(diff.per_question_type, key=lambda r: -abs(r.difference or 0.0))),
                  f"Right in A, wrong in B: {plural(len(diff.a_only), 'question')}",
                  f"Right in B, wrong in A: {plural(len(diff.b_only), 'question')}"]
    else:
        lines += [f"Higher CIDEr-D in A: {plural(len(diff.a_only), 'image')}",
                  f"Higher CIDEr-D in B: {plural(len(diff.b_only), 'image')}"]
    return "\n".join(lines)

"""Two evaluations side by side: the diff the Evaluate tab and ``vqadesk compare-results`` show.

Both must be of the same kind and split, and cover the same questions
(images): a subset drawn with another size or seed, or another split, is one
``EvaluationError`` saying how they differ. The numbers come from each
folder's ``metrics.json`` (``vqadesk.metrics.analysis.diff``).
"""

from __future__ import annotations

from vqadesk.engine.torch_free.evaluations.store import Evaluation
from vqadesk.errors import EvaluationError
from vqadesk.metrics.analysis.diff import EvaluationDiff, diff_evaluations


def compare_evaluations(a: Evaluation, b: Evaluation) -> EvaluationDiff:
    """The diff of ``a`` and ``b`` (B - A), checked to be evaluations of the same questions or images."""
    names = (a.path.name, b.path.name)
    if a.kind != b.kind:
        raise EvaluationError(f"{names[0]} evaluates a {a.kind} model and {names[1]} a {b.kind} one: "
                              "only evaluations of the same kind can be compared")
    if a.manifest.split != b.manifest.split:
        raise EvaluationError(f"{names[0]} is on the split {a.manifest.split!r} and {names[1]} on "
                              f"{b.manifest.split!r}: only evaluations of the same split can be compared")
    return diff_evaluations(a.kind, a.metrics, b.metrics, names)

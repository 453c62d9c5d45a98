"""The analysis keys of ``metrics.json`` (eval-core's ``vqadesk/metrics/analysis``) as the charts' inputs.

``metrics.json`` is what ``vqadesk evaluate … --json`` prints: the official
keys, then ``calibration`` (``{"bins": [{"low", "high", "count", "accuracy",
"meanScore"}], "ece"}``, only when the results carry scores), ``yesNoConfusion``
and ``countConfusion`` (``{"labels", "matrix", "count"}``) for VQA, and
``ciderHistogram`` (``{"edges", "counts"}``) for captions. A folder written
before those keys existed still opens: each reader returns "none" and the
view says why. Nothing here is computed: the GUI shows the command line's numbers.
"""

from __future__ import annotations

import numpy as np

from vqadesk.gui.evaluate.plots import CalibrationBin
from vqadesk.gui.evaluate.rows_table import RowsTable

NO_SCORES = "No calibration: the results carry no \"score\" (the model's probability of its answer)."


def calibration(metrics: dict) -> tuple[list[CalibrationBin], str, str]:
    """(bins, title, note): the calibration plot's input; no bins and a note when there is none."""
    found = metrics.get("calibration")
    if not isinstance(found, dict) or not isinstance(found.get("bins"), list):
        return [], "Calibration", NO_SCORES
    bins = [CalibrationBin(float(b["low"]), float(b["high"]), int(b["count"]),
                           None if b.get("accuracy") is None else float(b["accuracy"]),
                           None if b.get("meanScore") is None else float(b["meanScore"]))
            for b in found["bins"]]
    ece = found.get("ece")
    ece_text = f" — ECE {float(ece) * 100:.1f} points" if isinstance(ece, (int, float)) else ""
    return bins, f"Calibration: accuracy against the model's confidence (dashed: a calibrated model){ece_text}", ""


def confusion(metrics: dict, name: str) -> tuple[list[str], list[list[int]]] | None:
    """``name`` "yes_no" or "counts": (labels, matrix) when the evaluation has such questions."""
    found = metrics.get("yesNoConfusion" if name == "yes_no" else "countConfusion")
    if not isinstance(found, dict) or not found.get("count"):
        return None
    return [str(label) for label in found["labels"]], [[int(v) for v in row] for row in found["matrix"]]


def cider_histogram(metrics: dict, table: RowsTable | None) -> tuple[list[float], list[int]]:
    """The per-image CIDEr-D histogram (edges, counts) of ``metrics.json``, else of the rows' scores."""
    found = metrics.get("ciderHistogram")
    if isinstance(found, dict) and isinstance(found.get("counts"), list):
        return [float(e) for e in found["edges"]], [int(c) for c in found["counts"]]
    if table is None or not len(table):
        return [], []
    counts, edges = np.histogram(table.accuracy, bins=10)
    return edges.tolist(), counts.tolist()

"""Evaluation folders: the store the Evaluate tab and ``vqadesk evaluations`` read (no Qt, no torch).

docs/evaluate.md describes the folder format; ``store`` lists, opens and
deletes folders; ``manifest``, ``rows`` (``rows_parse``: one line; ``rows_index``:
the columnar index) and ``maps`` read its files; ``compare`` diffs two,
``report`` (with ``svg``) and ``export`` write the HTML report and the CSV.
"""

from __future__ import annotations

from vqadesk.engine.torch_free.evaluations.manifest import (
    FORMAT,
    MANIFEST_FILE,
    MAPS_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    ROWS_FILE,
    VERSION,
    EvaluationManifest,
    Subset,
    read_manifest,
)
from vqadesk.engine.torch_free.evaluations.rows import CaptionRow, EvaluationRows, VqaRow, read_rows
from vqadesk.engine.torch_free.evaluations.store import (
    PARTIAL_SUFFIX,
    Evaluation,
    EvaluationEntry,
    delete_evaluation,
    evaluations_root,
    folder_name,
    list_evaluations,
    open_evaluation,
    partial_folder,
    slug,
)

__all__ = [
    "FORMAT", "MANIFEST_FILE", "MAPS_FILE", "METRICS_FILE", "PARTIAL_SUFFIX", "RESULTS_FILE", "ROWS_FILE",
    "VERSION", "CaptionRow", "Evaluation", "EvaluationEntry", "EvaluationManifest", "EvaluationRows", "Subset",
    "VqaRow", "delete_evaluation", "evaluations_root", "folder_name", "list_evaluations", "open_evaluation",
    "partial_folder", "read_manifest", "read_rows", "slug",
]

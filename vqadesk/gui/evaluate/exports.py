"""The Evaluate tab's exports: the HTML report and the CSV of the rows, written by eval-core's Qt-free code.

``export_job`` runs in the tab's worker process (``InferenceClient(models=False)``,
the one that reads maps): the report reads maps and decodes photos, the CSV
walks every row (200k rows: seconds of Python), and none of it should share the
window's interpreter lock. ``suggested_name`` is the file name the save dialog
proposes, after the evaluation folder.
"""

from __future__ import annotations

from pathlib import Path

from vqadesk.engine.torch_free.evaluations import open_evaluation
from vqadesk.engine.torch_free.evaluations.export import write_rows_csv
from vqadesk.engine.torch_free.evaluations.report import write_html_report


def suggested_name(evaluation, kind: str) -> str:
    """``<folder name>.html`` or ``.csv`` in the home folder."""
    return str(Path.home() / f"{evaluation.path.name}.{'html' if kind == 'html' else 'csv'}")


def export_job(_pool, folder: str, kind: str, target: str) -> str:
    """Worker-process job: write ``folder``'s HTML report (``kind`` "html") or CSV to ``target``."""
    evaluation = open_evaluation(folder)
    try:
        if kind == "html":
            write_html_report(evaluation, target)
        else:
            write_rows_csv(evaluation, target)
    finally:
        evaluation.close()
    return target

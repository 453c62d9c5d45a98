"""The Evaluate tab's exports: the HTML report and the CSV of the rows, written by eval-core's Qt-free code.

The tab calls these in a pool thread (the report decodes photos and draws
maps for its sample of mistakes); ``suggested_name`` is the file name the save
dialog proposes, after the evaluation folder.
"""

from __future__ import annotations

from pathlib import Path

from vqadesk.engine.torch_free.evaluations.export import write_rows_csv
from vqadesk.engine.torch_free.evaluations.report import write_html_report


def suggested_name(evaluation, kind: str) -> str:
    """``<folder name>.html`` or ``.csv`` in the home folder."""
    return str(Path.home() / f"{evaluation.path.name}.{'html' if kind == 'html' else 'csv'}")


def export_html(evaluation, target: str) -> str:
    write_html_report(evaluation, target)
    return target


def export_csv(evaluation, target: str) -> str:
    write_rows_csv(evaluation, target)
    return target

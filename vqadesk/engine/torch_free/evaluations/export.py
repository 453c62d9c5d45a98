"""CSV of an evaluation's rows: one line per question (VQA) or image (captions), for spreadsheets.

VQA columns: ids, image, question, types, the answer and its probability, the
official accuracy, ``right`` (accuracy 100), the top-k as ``answer:score``
joined by ``|``, the ten human answers joined by ``|``. Captions: ids, image,
caption, CIDEr-D, BLEU-4, the references joined by ``|``. Written atomically.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from vqadesk.engine.torch_free.evaluations.rows import CaptionRow, VqaRow
from vqadesk.engine.torch_free.evaluations.store import Evaluation
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import atomic_file
from vqadesk.metrics.analysis.vqa import RIGHT

VQA_COLUMNS = ("question_id", "image_id", "image", "question", "question_type", "answer_type", "answer", "score",
               "accuracy", "right", "top_k", "human_answers")
CAPTION_COLUMNS = ("image_id", "image", "caption", "cider", "bleu4", "references")


def _vqa_line(row: VqaRow) -> list[Any]:
    top_k = "|".join(f"{answer}:{score:.4f}" for answer, score in row.top_k)
    score = "" if row.score is None else f"{row.score:.6f}"
    return [row.question_id, row.image_id, row.image, row.question, row.question_type, row.answer_type, row.answer,
            score, row.accuracy, int(row.accuracy >= RIGHT), top_k, "|".join(row.human_answers)]


def _caption_line(row: CaptionRow) -> list[Any]:
    return [row.image_id, row.image, row.caption, f"{row.cider:.6f}", f"{row.bleu4:.6f}", "|".join(row.references)]


def write_rows_csv(evaluation: Evaluation, path: str | os.PathLike[str],
                   rows: Iterable[VqaRow | CaptionRow] | None = None) -> int:
    """Write the rows (all, or ``rows``: a filtered list) to ``path``; returns how many lines were written."""
    vqa = evaluation.kind == "vqa"
    line: Callable[[Any], list[Any]] = _vqa_line if vqa else _caption_line
    written = 0

    def write(handle: IO[str]) -> None:
        nonlocal written
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(VQA_COLUMNS if vqa else CAPTION_COLUMNS)
        for row in evaluation.rows if rows is None else rows:  # one at a time: 200k rows never all in memory
            writer.writerow(line(row))
            written += 1

    write_export(path, write, "CSV")
    return written


def write_export(path: str | os.PathLike[str], write: Callable[[IO[str]], None], what: str) -> None:
    """Write a text file atomically; a missing folder or a failed write is one line naming ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise VqadeskError(f"{path}: the folder {path.parent} does not exist")
    try:
        with atomic_file(path, "w") as handle:
            write(handle)
    except OSError as exc:
        raise VqadeskError(f"{path}: could not write the {what} ({exc.strerror or exc})") from None

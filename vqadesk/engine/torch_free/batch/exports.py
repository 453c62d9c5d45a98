"""A job's results file, written from its progress file in one of four formats.

* ``json``: one document, ``{"format": "vqadesk.batch-results", "version": 1,
  "settings": {...}, "rows": [...], "failed": [{"file_name", "reason"}]}``;
* ``jsonl``: one row per line, nothing else (the shape of a Hugging Face
  image folder's ``metadata.jsonl``: ``file_name`` is the photo's path
  relative to the folder);
* ``csv``: one line per photo (captions) or per photo and question (VQA):
  ``file_name, coco_id, caption|question,answer, score, edited, model,
  precision``, then the other captions or the top-k answers as numbered
  column pairs (``caption_2, score_2, ...``);
* ``coco``: the official results format, ``[{"image_id", "caption"}]``
  sorted by id, for captions only (VQA results need the question ids of a
  questions file: ``vqadesk predict vqa --questions Q.json``). Photos without
  a COCO id in their name, and a second photo with an id already written,
  are left out and counted.

A row of ``json`` / ``jsonl``: ``{"file_name", "coco_id", "caption", "score",
"edited", "captions": [{"caption", "score"}], "model", "precision"}`` or
``{"file_name", "coco_id", "question", "answer", "score", "edited", "top_k":
[{"answer", "score"}], "model", "precision"}``. ``caption`` / ``answer`` is
the text that counts (a person's edit when ``edited``), ``score`` the
model's best; ``captions`` / ``top_k`` are the model's own, best first.

Files are written atomically (``jsonio.atomic_file``) and streamed from the
progress file, so a job of 100,000 photos is never held in memory (``coco``
holds its ids and captions, to sort them). ``readers.read_batch_results``
reads every format back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vqadesk.engine.torch_free.batch.photos import PhotoSurvey
from vqadesk.engine.torch_free.batch.progress import iter_results
from vqadesk.engine.torch_free.batch.records import CAPTIONS, AnswerRow, BatchSettings, CaptionRow, FailedPhoto, Row
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import PathLike, atomic_file

FORMATS = ("json", "jsonl", "csv", "coco")
RESULTS_FORMAT = "vqadesk.batch-results"
RESULTS_VERSION = 1
_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
_EXAMPLES = 5  # keys a report names before counting the rest


class ExportError(VqadeskError):
    """A format that cannot hold these results (coco for VQA), or a file that cannot be written."""


@dataclass
class ExportReport:
    """What an export wrote: rows, the photos in them, failed photos, and photos left out (coco)."""

    format: str
    out: Path
    rows: int = 0
    photos: int = 0
    failed: int = 0
    left_out: int = 0
    left_out_examples: list[str] = field(default_factory=list)


def default_format(settings: BatchSettings, survey: PhotoSurvey | None, out: PathLike | None = None) -> str:
    """``csv`` / ``jsonl`` for an ``out`` of that suffix; else ``coco`` for captions of a COCO-named
    folder (most of its photos carry an id: a stray photo is left out, as it always was), else ``json``."""
    suffix_format = _SUFFIX_FORMATS.get(Path(out).suffix.lower()) if out is not None else None
    if suffix_format is not None:
        return suffix_format
    if settings.kind == CAPTIONS and survey is not None and survey.coco_named * 2 > survey.photos:
        return "coco"
    return "json"


def check_export_format(fmt: str, settings: BatchSettings) -> None:
    """Refuse, before any work, a format that cannot hold the job's results."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown results format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "coco" and settings.kind != CAPTIONS:
        raise ExportError("--format coco holds captions only: COCO VQA results need the question ids of a "
                          "questions file (use `vqadesk predict vqa --questions Q.json`), or pick json, jsonl or csv")


def export_results(progress: PathLike, out: PathLike, fmt: str) -> ExportReport:
    """Write the results in ``progress`` (a progress file) to ``out`` in ``fmt``."""
    out = Path(out)
    settings, results = iter_results(progress)
    check_export_format(fmt, settings)
    report = ExportReport(format=fmt, out=out)
    writer = {"json": _write_json, "jsonl": _write_jsonl, "csv": _write_csv, "coco": _write_coco}[fmt]
    try:
        with atomic_file(out, "w") as handle:
            writer(handle, settings, _counted(results, report), report)
    except OSError as exc:
        raise ExportError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    return report


def row_dict(row: Row) -> dict[str, Any]:
    """A row as ``json`` and ``jsonl`` write it."""
    if isinstance(row, CaptionRow):
        return {"file_name": row.key, "coco_id": row.coco_id, "caption": row.caption, "score": row.score,
                "edited": row.edit is not None,
                "captions": [{"caption": text, "score": score} for text, score in row.captions],
                "model": row.model, "precision": row.precision}
    return {"file_name": row.key, "coco_id": row.coco_id, "question": row.question, "answer": row.answer_text,
            "score": row.score, "edited": row.edit is not None,
            "top_k": [{"answer": text, "score": score} for text, score in row.top_k],
            "model": row.model, "precision": row.precision}


def csv_header(settings: BatchSettings) -> list[str]:
    """The columns of a ``csv`` export of a job with ``settings``."""
    if settings.kind == CAPTIONS:
        first, more = ["file_name", "coco_id", "caption", "score"], settings.num_captions
        numbered = "caption"
    else:
        first, more = ["file_name", "coco_id", "question", "answer", "score"], settings.top_k
        numbered = "answer"
    extra = [name for n in range(2, more + 1) for name in (f"{numbered}_{n}", f"score_{n}")]
    return [*first, "edited", "model", "precision", *extra]


def _counted(results: Iterable[Row | FailedPhoto], report: ExportReport) -> Iterator[Row | FailedPhoto]:
    last_key = None
    for result in results:
        if isinstance(result, FailedPhoto):
            report.failed += 1
        elif result.key != last_key:
            report.photos += 1
            last_key = result.key
        yield result


def _write_json(handle: IO[str], settings: BatchSettings, results: Iterable[Row | FailedPhoto],
                report: ExportReport) -> None:
    header = {"format": RESULTS_FORMAT, "version": RESULTS_VERSION, "settings": settings.to_dict()}
    handle.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "rows": [')
    failed: list[dict[str, str]] = []
    for result in results:
        if isinstance(result, FailedPhoto):
            failed.append({"file_name": result.key, "reason": result.reason})  # few, and last in the stream
            continue
        handle.write(("\n" if report.rows == 0 else ",\n") + json.dumps(row_dict(result), ensure_ascii=False))
        report.rows += 1
    handle.write('\n], "failed": ' + json.dumps(failed, ensure_ascii=False) + "}\n")


def _write_jsonl(handle: IO[str], settings: BatchSettings, results: Iterable[Row | FailedPhoto],
                 report: ExportReport) -> None:
    for result in results:
        if not isinstance(result, FailedPhoto):
            handle.write(json.dumps(row_dict(result), ensure_ascii=False) + "\n")
            report.rows += 1


def _write_csv(handle: IO[str], settings: BatchSettings, results: Iterable[Row | FailedPhoto],
               report: ExportReport) -> None:
    writer = csv.writer(handle)
    writer.writerow(csv_header(settings))
    for result in results:
        if isinstance(result, FailedPhoto):
            continue
        if isinstance(result, CaptionRow):
            first = [result.key, _blank(result.coco_id), result.caption, result.score]
            others = result.captions[1:]
        else:
            assert isinstance(result, AnswerRow)
            first = [result.key, _blank(result.coco_id), result.question, result.answer_text, result.score]
            others = result.top_k[1:]
        flags = ["yes" if result.edit is not None else "no", result.model, result.precision]
        writer.writerow([*first, *flags, *(value for pair in others for value in pair)])
        report.rows += 1


def _write_coco(handle: IO[str], settings: BatchSettings, results: Iterable[Row | FailedPhoto],
                report: ExportReport) -> None:
    by_id: dict[int, str] = {}
    for result in results:
        if isinstance(result, FailedPhoto):
            continue
        assert isinstance(result, CaptionRow)
        if result.coco_id is None or result.coco_id in by_id:
            report.left_out += 1
            if len(report.left_out_examples) < _EXAMPLES:
                report.left_out_examples.append(result.key)
            continue
        by_id[result.coco_id] = result.caption
    entries = [{"image_id": image_id, "caption": by_id[image_id]} for image_id in sorted(by_id)]
    handle.write(json.dumps(entries, ensure_ascii=False))
    report.rows = len(entries)


def _blank(value: int | None) -> int | str:
    return "" if value is None else value

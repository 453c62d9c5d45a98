"""Batch results files read back, whatever their format (``exports`` writes them).

``read_batch_results(path, fmt=None)`` returns ``BatchResults``: the settings
(``json`` only: the other formats do not carry them), the rows, and the
failed photos (``json`` only). The format is ``fmt``, else the suffix
(``.csv``, ``.jsonl``), else what a ``.json`` file holds (a results document,
or the list of the ``coco`` format).

What each format gives back: ``json`` and ``jsonl`` everything (an edited
row keeps the model's own text in ``captions`` / ``top_k``); ``csv`` the text
that counts (an edited row reads back with its edit as ``edit`` and as its
best), the scores, model and precision; ``coco`` ids and captions only
(``key`` is the id as text, ``model`` and ``precision`` are empty, scores 0).
A photo's ``path`` is its key under the settings' root when known, else the key itself.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from vqadesk.engine.torch_free.batch.exports import RESULTS_FORMAT, RESULTS_VERSION
from vqadesk.engine.torch_free.batch.records import AnswerRow, BatchResults, BatchSettings, CaptionRow, FailedPhoto, Row
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import PathLike, check_format, expect, field, optional_field, read_json


def read_batch_results(path: PathLike, fmt: str | None = None) -> BatchResults:
    """The results in ``path``, written by ``exports.export_results`` in any format."""
    path = Path(path)
    fmt = fmt or {".csv": "csv", ".jsonl": "jsonl"}.get(path.suffix.lower())
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "jsonl":
        return _read_jsonl(path)
    data = read_json(path)
    if fmt == "coco" or (fmt is None and isinstance(data, list)):
        return _read_coco(data, path)
    return _read_json(data, path)


def _read_json(data: Any, path: Path) -> BatchResults:
    check_format(data, name=RESULTS_FORMAT, version=RESULTS_VERSION, source=path, what="a vqadesk batch results file")
    settings = BatchSettings.from_dict(field(data, "settings", dict, path), source=path)
    root = Path(settings.root) if settings.root else None
    rows = [_row(entry, path, f"rows[{n}]", root) for n, entry in enumerate(field(data, "rows", list, path))]
    failed = [
        FailedPhoto(key=field(entry, "file_name", str, path, f"failed[{n}]"),
                    reason=field(entry, "reason", str, path, f"failed[{n}]"))
        for n, entry in enumerate(field(data, "failed", list, path))
    ]
    return BatchResults(settings, rows, failed)


def _read_jsonl(path: Path) -> BatchResults:
    rows: list[Row] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataFormatError(path, f"line {number}: malformed JSON ({exc.msg})") from None
                    rows.append(_row(entry, path, f"line {number}", None))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"cannot be read ({exc})") from None
    return BatchResults(None, rows, [])


def _row(entry: Any, path: Path, where: str, root: Path | None) -> Row:
    key = field(entry, "file_name", str, path, where)
    common = {"key": key, "path": root / key if root else Path(key),
              "coco_id": optional_field(entry, "coco_id", int, path, where),
              "model": field(entry, "model", str, path, where),
              "precision": field(entry, "precision", str, path, where)}
    edited = field(entry, "edited", bool, path, where)
    if "caption" in entry:
        captions = [(field(c, "caption", str, path, f"{where}.captions[{n}]"),
                     float(field(c, "score", (int, float), path, f"{where}.captions[{n}]")))
                    for n, c in enumerate(field(entry, "captions", list, path, where))]
        caption = field(entry, "caption", str, path, where)
        return CaptionRow(captions=captions, edit=caption if edited else None, **common)
    top_k = [(field(a, "answer", str, path, f"{where}.top_k[{n}]"),
              float(field(a, "score", (int, float), path, f"{where}.top_k[{n}]")))
             for n, a in enumerate(field(entry, "top_k", list, path, where))]
    answer = field(entry, "answer", str, path, where)
    return AnswerRow(question=field(entry, "question", str, path, where),
                     answer=top_k[0][0] if top_k else answer,
                     score=float(field(entry, "score", (int, float), path, where)), top_k=top_k,
                     edit=answer if edited else None, **common)


def _read_csv(path: Path) -> BatchResults:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            lines = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(path, f"cannot be read as CSV ({exc})") from None
    return BatchResults(None, [_csv_row(line, path, number) for number, line in enumerate(lines, start=2)], [])


def _csv_row(line: dict[str, str], path: Path, number: int) -> Row:
    try:
        key = line["file_name"]
        edited = line["edited"] == "yes"
        common = {"key": key, "path": Path(key), "coco_id": int(line["coco_id"]) if line["coco_id"] else None,
                  "model": line["model"], "precision": line["precision"]}
        numbered = "caption" if "caption" in line else "answer"
        best = (line[numbered], float(line["score"]))
        others = []
        n = 2
        while f"{numbered}_{n}" in line and line[f"{numbered}_{n}"] is not None:
            others.append((line[f"{numbered}_{n}"], float(line[f"score_{n}"])))
            n += 1
    except (KeyError, ValueError, TypeError) as exc:
        raise DataFormatError(path, f"line {number}: not a vqadesk batch results row ({exc})") from None
    edit = best[0] if edited else None
    if numbered == "caption":
        return CaptionRow(captions=[best, *others], edit=edit, **common)
    return AnswerRow(question=line["question"], answer=best[0], score=best[1], top_k=[best, *others],
                     edit=edit, **common)


def _read_coco(data: Any, path: Path) -> BatchResults:
    expect(data, list, path, "")
    rows: list[Row] = []
    for n, entry in enumerate(data):
        image_id = field(entry, "image_id", int, path, f"[{n}]")
        caption = field(entry, "caption", str, path, f"[{n}]")
        rows.append(CaptionRow(key=str(image_id), path=Path(str(image_id)), captions=[(caption, 0.0)],
                               model="", precision="", coco_id=image_id))
    return BatchResults(None, rows, [])

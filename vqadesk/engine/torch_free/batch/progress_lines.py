"""The lines of a progress file, as JSON objects: one per finished photo, one per edit.

    {"format": "vqadesk.batch-progress", "version": 1, "settings": {...}}          the first line
    {"photo": KEY, "path": P, "coco_id": ID|null, "model": M, "precision": "fp32",
     "captions": [[TEXT, SCORE], ...]}                                              a captioned photo
    {"photo": KEY, ..., "answers": [{"question": Q, "answer": A, "score": S,
                                     "top_k": [[A, S], ...]}, ...]}                 a questioned photo
    {"photo": KEY, "path": P, "failed": REASON}                                     a photo that failed
    {"edit": KEY, "question": Q|null, "text": T}                                    a person's edit

``encode_photo`` turns one photo's results into its line, ``decode_line``
reads any line but the first back (errors name the file and the line).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vqadesk.engine.torch_free.batch.records import AnswerRow, CaptionRow, FailedPhoto, PhotoResult, RowEdit
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import PathLike, expect, field, optional_field

FORMAT = "vqadesk.batch-progress"
VERSION = 1


def encode_photo(results: Sequence[PhotoResult]) -> dict[str, Any]:
    """The line of one photo: its ``CaptionRow``, its ``AnswerRow`` s (one per question) or its ``FailedPhoto``."""
    first = results[0]
    if isinstance(first, FailedPhoto):
        return {"photo": first.key, "path": None if first.path is None else str(first.path), "failed": first.reason}
    line: dict[str, Any] = {"photo": first.key, "path": str(first.path), "coco_id": first.coco_id,
                            "model": first.model, "precision": first.precision}
    if isinstance(first, CaptionRow):
        line["captions"] = [[text, float(score)] for text, score in first.captions]
        return line
    line["answers"] = [
        {"question": row.question, "answer": row.answer, "score": float(row.score),
         "top_k": [[text, float(score)] for text, score in row.top_k]}
        for row in results if isinstance(row, AnswerRow)
    ]
    return line


def encode_edit(edit: RowEdit) -> dict[str, Any]:
    return {"edit": edit.key, "question": edit.question, "text": edit.text}


def decode_line(data: Any, source: PathLike, line: int) -> list[PhotoResult] | RowEdit:
    """A photo's results (rows, or one ``FailedPhoto``) or an edit, from the object on ``line``."""
    where = f"line {line}"
    if isinstance(data, dict) and "edit" in data:
        return RowEdit(key=field(data, "edit", str, source, where), text=field(data, "text", str, source, where),
                       question=optional_field(data, "question", str, source, where))
    key = field(data, "photo", str, source, where)
    raw_path = optional_field(data, "path", str, source, where)
    path = Path(raw_path) if raw_path is not None else None
    if "failed" in data:
        return [FailedPhoto(key=key, reason=field(data, "failed", str, source, where), path=path)]
    if path is None:
        raise DataFormatError(source, "missing", f"{where}.path")
    common = {"key": key, "path": path, "coco_id": optional_field(data, "coco_id", int, source, where),
              "model": field(data, "model", str, source, where),
              "precision": field(data, "precision", str, source, where)}
    if "captions" in data:
        captions = _scored(field(data, "captions", list, source, where), source, f"{where}.captions")
        if not captions:
            raise DataFormatError(source, "no captions", f"{where}.captions")
        return [CaptionRow(captions=captions, **common)]
    answers = field(data, "answers", list, source, where)
    rows: list[PhotoResult] = []
    for position, answer in enumerate(answers):
        at = f"{where}.answers[{position}]"
        rows.append(AnswerRow(
            question=field(answer, "question", str, source, at), answer=field(answer, "answer", str, source, at),
            score=float(field(answer, "score", (int, float), source, at)),
            top_k=_scored(field(answer, "top_k", list, source, at), source, f"{at}.top_k"), **common,
        ))
    return rows


def _scored(pairs: list[Any], source: PathLike, where: str) -> list[tuple[str, float]]:
    """``[[text, score], ...]`` checked, as tuples."""
    found = []
    for position, pair in enumerate(pairs):
        expect(pair, list, source, f"{where}[{position}]")
        if len(pair) != 2:
            raise DataFormatError(source, "expected [text, score]", f"{where}[{position}]")
        text = expect(pair[0], str, source, f"{where}[{position}][0]")
        score = expect(pair[1], (int, float), source, f"{where}[{position}][1]")
        found.append((text, float(score)))
    return found

"""Official results files: read them with clear errors, write them atomically.

A VQA results file is ``[{"question_id": int, "answer": str}, ...]`` and a
caption results file ``[{"image_id": int, "caption": str}, ...]`` -- the
formats the official evaluation servers and tools take. Extra keys in an entry
are ignored, as the official tools do. Readers check types only; whether the
ids fit the ground truth is the evaluation's business (``EvaluationError``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import describe_type, field, read_json, write_json_atomic

__all__ = [
    "CaptionResult",
    "VqaResult",
    "read_caption_results",
    "read_vqa_results",
    "write_caption_results",
    "write_vqa_results",
]


@dataclass(frozen=True)
class VqaResult:
    """One predicted answer."""

    question_id: int
    answer: str


@dataclass(frozen=True)
class CaptionResult:
    """One generated caption."""

    image_id: int
    caption: str


def _read_entries(path: str | os.PathLike[str]) -> list:
    data = read_json(path)
    # The official loaders assert the results are a list; say so in words.
    if not isinstance(data, list):
        raise DataFormatError(path, f"expected a list of results, got {describe_type(data)}")
    return data


def read_vqa_results(path: str | os.PathLike[str]) -> list[VqaResult]:
    """Entries of a VQA results file, in file order (duplicates kept for the evaluator)."""
    return [
        VqaResult(
            question_id=field(entry, "question_id", int, path, f"[{index}]"),
            answer=field(entry, "answer", str, path, f"[{index}]"),
        )
        for index, entry in enumerate(_read_entries(path))
    ]


def read_caption_results(path: str | os.PathLike[str]) -> list[CaptionResult]:
    """Entries of a caption results file, in file order."""
    return [
        CaptionResult(
            image_id=field(entry, "image_id", int, path, f"[{index}]"),
            caption=field(entry, "caption", str, path, f"[{index}]"),
        )
        for index, entry in enumerate(_read_entries(path))
    ]


def write_vqa_results(path: str | os.PathLike[str], results: Iterable[VqaResult]) -> None:
    """Write ``[{"question_id", "answer"}]`` via a temporary file and a rename."""
    entries = [{"question_id": int(r.question_id), "answer": str(r.answer)} for r in results]
    write_json_atomic(path, entries)


def write_caption_results(path: str | os.PathLike[str], results: Iterable[CaptionResult]) -> None:
    """Write ``[{"image_id", "caption"}]`` via a temporary file and a rename."""
    entries = [{"image_id": int(r.image_id), "caption": str(r.caption)} for r in results]
    write_json_atomic(path, entries)

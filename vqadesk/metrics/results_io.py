"""Official results files: read them with clear errors, write them atomically.

A VQA results file is ``[{"question_id": int, "answer": str}, ...]`` and a
caption results file ``[{"image_id": int, "caption": str}, ...]`` -- the
formats the official evaluation servers and tools take. Extra keys in an entry
are ignored, as the official tools do. Readers check types only; whether the
ids fit the ground truth is the evaluation's business (``EvaluationError``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import describe_type, field, optional_field, read_json, write_json_atomic

__all__ = [
    "CaptionResult",
    "VqaResult",
    "by_id",
    "read_caption_results",
    "read_vqa_results",
    "write_caption_results",
    "write_vqa_results",
]


Entry = TypeVar("Entry")
Value = TypeVar("Value")
Result = TypeVar("Result")


@dataclass(frozen=True)
class VqaResult:
    """One predicted answer."""

    question_id: int
    answer: str
    score: float | None = None  # the model's probability of ``answer``, when the file gives it


@dataclass(frozen=True)
class CaptionResult:
    """One generated caption."""

    image_id: int
    caption: str


def read_vqa_results(path: str | os.PathLike[str]) -> list[VqaResult]:
    """Entries of a VQA results file, in file order (duplicates kept for the evaluator).

    An entry's optional ``"score"`` must be a number in [0, 1] (or null).
    """
    return _read_entries(path, lambda qid, answer, entry, where: VqaResult(qid, answer, _score(entry, path, where)),
                         "question_id", "answer")


def read_caption_results(path: str | os.PathLike[str]) -> list[CaptionResult]:
    """Entries of a caption results file, in file order."""
    return _read_entries(path, lambda image_id, caption, _entry, _where: CaptionResult(image_id, caption),
                         "image_id", "caption")


def _score(entry: dict, path: str | os.PathLike[str], where: str) -> float | None:
    score = optional_field(entry, "score", float, path, where)
    if score is not None and not 0.0 <= score <= 1.0:
        raise DataFormatError(path, f"expected a probability in [0, 1], got {score}", f"{where}.score")
    return None if score is None else float(score)


def _read_entries(path: str | os.PathLike[str], make: Callable[[int, str, dict, str], Result], id_key: str,
                  text_key: str) -> list[Result]:
    """``make(entry[id_key], entry[text_key], entry, where)`` for each entry of a results file, types checked."""
    data = read_json(path)
    # The official loaders assert the results are a list; say so in words.
    if not isinstance(data, list):
        raise DataFormatError(path, f"expected a list of results, got {describe_type(data)}")
    return [
        make(field(entry, id_key, int, path, f"[{index}]"), field(entry, text_key, str, path, f"[{index}]"),
             entry, f"[{index}]")
        for index, entry in enumerate(data)
    ]


def by_id(entries: Iterable[Entry], id_of: Callable[[Entry], int],
          value_of: Callable[[Entry], Value]) -> tuple[dict[int, Value], list[int]]:
    """id -> value of ``entries`` (the last one wins), and the ids given more than once, in order."""
    values: dict[int, Value] = {}
    repeated: dict[int, None] = {}
    for entry in entries:
        entry_id = id_of(entry)
        if entry_id in values:
            repeated[entry_id] = None
        values[entry_id] = value_of(entry)
    return values, list(repeated)


def write_vqa_results(path: str | os.PathLike[str], results: Iterable[VqaResult]) -> None:
    """Write ``[{"question_id", "answer"}]`` (and ``"score"`` where known) via a temporary file and a rename."""
    entries = [{"question_id": int(r.question_id), "answer": str(r.answer)}
               | ({} if r.score is None else {"score": float(r.score)}) for r in results]
    write_json_atomic(path, entries)


def write_caption_results(path: str | os.PathLike[str], results: Iterable[CaptionResult]) -> None:
    """Write ``[{"image_id", "caption"}]`` via a temporary file and a rename."""
    entries = [{"image_id": int(r.image_id), "caption": str(r.caption)} for r in results]
    write_json_atomic(path, entries)

"""A columnar index of ``rows.jsonl``, so an evaluation of 200k questions reopens at once.

Parsing 200k JSON lines costs seconds of pure Python (docs/evaluate.md,
"Speed"), too slow for reopening an evaluation. The first read parses and
checks every line once and keeps what lists, filters and sorts need as
arrays: each line's byte range, the numeric fields, the short repeated
strings (question type, answer type, answer) as codes into a table of names,
and the long ones (question or caption, image path) as one UTF-8 blob with
end offsets. It is saved beside the rows as ``.rows-index.safetensors``
(NumPy arrays, no pickle), tagged with the rows file's size and modification
time: a later open reads it in milliseconds, and a stale, damaged or foreign
index is simply rebuilt. A row's other fields (top-k, human answers,
references) are parsed from its line when the row is asked for.
"""

from __future__ import annotations

import gc
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from vqadesk.engine.torch_free.evaluations.rows_parse import parse_row
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import atomic_file, refuse_lone_surrogates

INDEX_FILE = ".rows-index.safetensors"
_FORMAT, _VERSION = "vqadesk-rows-index", "1"

NUMERIC = {"vqa": ("question_id", "image_id", "score", "accuracy"), "captioning": ("image_id", "cider", "bleu4")}
CATEGORIES = {"vqa": ("question_type", "answer_type", "answer"), "captioning": ()}
STRINGS = {"vqa": ("question", "image"), "captioning": ("caption", "image")}
_INTEGERS = ("question_id", "image_id")


@dataclass
class RowsIndex:
    starts: np.ndarray  # int64: each row's first byte in rows.jsonl
    ends: np.ndarray  # int64: one past its last byte
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categories: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)  # codes, names
    strings: dict[str, tuple[bytes, np.ndarray]] = field(default_factory=dict)  # blob, end offsets

    def __len__(self) -> int:
        return len(self.starts)


def line_ranges(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and 1-based line number of every non-blank line of ``raw``."""
    newlines = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
    ends = np.concatenate((newlines, [len(raw)])).astype(np.int64)
    numbers = np.arange(1, len(starts) + 1, dtype=np.int64)
    keep = np.array([bool(raw[s:e].strip()) for s, e in zip(starts.tolist(), ends.tolist())], dtype=bool) \
        if len(starts) else np.zeros(0, dtype=bool)
    return starts[keep], ends[keep], numbers[keep]


def build_index(raw: bytes, kind: str, path: Path) -> RowsIndex:
    """Parse and check every line of ``raw`` (the rows file at ``path``); raise naming the first bad one."""
    starts, ends, numbers = line_ranges(raw)
    lines = [raw[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    with gc_paused():
        try:
            entries = json.loads(b"[" + b",".join(lines) + b"]")
        except (ValueError, RecursionError):
            _raise_bad_line(path, lines, numbers)
        rows = [parse_row(kind, entry, path, int(number)) for entry, number in zip(entries, numbers.tolist())]
        try:  # text that cannot be encoded or shown; one search of the whole file when there is none
            refuse_lone_surrogates(raw, entries, path)
        except DataFormatError:
            for line, entry, number in zip(lines, entries, numbers.tolist()):
                refuse_lone_surrogates(line, entry, path, f"line {number}")
    index = RowsIndex(starts, ends)
    for name in NUMERIC[kind]:
        values = [getattr(row, name) for row in rows]
        if name in _INTEGERS:
            index.numeric[name] = np.array(values, dtype=np.int64)
        else:
            index.numeric[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    for name in CATEGORIES[kind]:
        table: dict[str, int] = {}
        codes = np.array([table.setdefault(getattr(row, name), len(table)) for row in rows], dtype=np.int32)
        index.categories[name] = (codes, tuple(table))
    for name in STRINGS[kind]:
        index.strings[name] = _blob([getattr(row, name) for row in rows])
    return index


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while millions of small, acyclic objects are made.

    Each of them would count towards a collection that walks them all again:
    about 40% of the time of parsing and checking the rows (docs/evaluate.md, "Speed").
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _blob(texts: list[str]) -> tuple[bytes, np.ndarray]:
    encoded = [text.encode("utf-8") for text in texts]
    return b"".join(encoded), np.cumsum([len(e) for e in encoded], dtype=np.int64)


def blob_strings(blob: bytes, ends: np.ndarray) -> list[str]:
    """The strings a ``_blob`` holds."""
    starts = [0, *ends[:-1].tolist()]
    return [blob[s:e].decode("utf-8") for s, e in zip(starts, ends.tolist())]


def _raise_bad_line(path: Path, lines: list[bytes], numbers: np.ndarray) -> NoReturn:
    for line, number in zip(lines, numbers.tolist()):
        try:
            json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(path, f"line {number} is not valid JSON ({exc})") from None
    raise DataFormatError(path, "not valid JSON lines")  # the joined lines failed but none alone: not reached


def _stamp(rows_stat: os.stat_result, kind: str) -> dict[str, str]:
    return {"format": _FORMAT, "version": _VERSION, "kind": kind, "rows_size": str(rows_stat.st_size),
            "rows_mtime_ns": str(rows_stat.st_mtime_ns)}


def save_index(index: RowsIndex, path: Path, rows_stat: os.stat_result, kind: str) -> None:
    """Write ``index`` atomically; a folder that cannot be written only loses the speed-up."""
    from safetensors.numpy import save

    tensors: dict[str, np.ndarray] = {"starts": index.starts, "ends": index.ends, **index.numeric}
    for name, (codes, names) in index.categories.items():
        blob, ends = _blob(list(names))
        tensors |= {f"{name}.codes": codes, f"{name}.names": np.frombuffer(blob, np.uint8), f"{name}.ends": ends}
    for name, (blob, ends) in index.strings.items():
        tensors |= {f"{name}.blob": np.frombuffer(blob, np.uint8), f"{name}.ends": ends}
    try:
        data = save({key: np.ascontiguousarray(value) for key, value in tensors.items()},
                    metadata=_stamp(rows_stat, kind))
        with atomic_file(path, "wb") as handle:
            handle.write(data)
    except OSError:
        pass  # a read-only evaluation folder: the next open parses the rows again


def load_index(path: Path, rows_stat: os.stat_result, kind: str) -> RowsIndex | None:
    """The saved index if it is there, whole, and made from this very rows file; else None."""
    from safetensors import SafetensorError, safe_open

    try:
        if not stat.S_ISREG(path.stat().st_mode):  # safetensors would wait forever on a FIFO
            return None
        with safe_open(str(path), framework="numpy") as handle:
            if handle.metadata() != _stamp(rows_stat, kind):
                return None
            tensors: dict[str, Any] = {key: handle.get_tensor(key) for key in handle.keys()}
        index = RowsIndex(tensors["starts"], tensors["ends"], {name: tensors[name] for name in NUMERIC[kind]})
        for name in CATEGORIES[kind]:
            names = blob_strings(tensors[f"{name}.names"].tobytes(), tensors[f"{name}.ends"])
            index.categories[name] = (tensors[f"{name}.codes"], tuple(names))
        for name in STRINGS[kind]:
            index.strings[name] = (tensors[f"{name}.blob"].tobytes(), tensors[f"{name}.ends"])
    except (OSError, SafetensorError, KeyError, ValueError, UnicodeDecodeError):
        return None
    if not all(len(column) == len(index) for column in index.numeric.values()):
        return None
    return index

"""The progress file of a batch job: what is finished, kept on disk as it happens.

``OUT.progress.jsonl`` beside the results file (``progress_path``) holds the
job's settings on its first line, then one JSON line per finished photo and
one per edit (``progress_lines``). ``ProgressFile.open`` starts one or takes
up an existing one:

* the same settings: the photos already done (``done``) are skipped by the
  job; a last line torn by a kill is cut off and that photo is done again;
  photos that failed are tried again (the file may have been fixed);
* other settings: ``SettingsMismatchError``, one line saying what differs;
  ``restart=True`` empties the file and starts afresh.

Each ``append`` writes a chunk's lines, flushes and fsyncs them, so Ctrl-C or
a kill loses at most the chunk being predicted. One job writes a file at a
time: a second ``open`` of a file in use is refused (an advisory lock, on
systems that have ``fcntl``).

``iter_results`` reads a file back as the job's final results, streaming:
rows in the order they were finished, with edits applied, then the photos
whose last attempt failed. Only the edits and failures are held in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from vqadesk.engine.torch_free.batch import progress_lines
from vqadesk.engine.torch_free.batch.records import (
    AnswerRow,
    BatchResults,
    BatchSettings,
    FailedPhoto,
    PhotoResult,
    Row,
    RowEdit,
    with_edit,
)
from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import PathLike, check_format, field

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one job per file is then the user's care
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".progress.jsonl"


class SettingsMismatchError(VqadeskError):
    """An existing progress file was made with other settings; ``differences`` lists them."""

    def __init__(self, path: Path, differences: list[str]):
        self.path = path
        self.differences = differences
        super().__init__(f"{path}: made with other settings ({'; '.join(differences)}); "
                         "--restart starts afresh")


def progress_path(out: PathLike) -> Path:
    """``results.json`` -> ``results.json.progress.jsonl``, beside it."""
    out = Path(out)
    return out.with_name(out.name + SUFFIX)


class ProgressFile:
    """An open progress file, locked for this job; ``done`` holds the keys of the photos finished."""

    def __init__(self, path: Path, handle: IO[bytes], settings: BatchSettings, done: set[str]):
        self.path = path
        self.settings = settings
        self.done = done
        self._handle = handle

    @classmethod
    def open(cls, path: PathLike, settings: BatchSettings | None = None, *, restart: bool = False) -> ProgressFile:
        """Start ``path`` with ``settings``, or take it up; ``settings`` None takes up an existing file
        with its own (to add edits to a finished job)."""
        path = Path(path)
        try:
            handle = open(path, "a+b")  # noqa: SIM115 - held open until close()
        except OSError as exc:
            raise VqadeskError(f"{path}: cannot be written ({exc.strerror or exc})") from None
        try:
            _lock(handle, path)
            handle.seek(0)
            found: BatchSettings | None = None
            done: set[str] = set()
            if not restart and handle.read(1):
                found, done, good_end = _read_done(path, handle)
                handle.truncate(good_end)  # a torn last line: the photo is done again
            if found is None:
                if settings is None:
                    raise VqadeskError(f"{path}: no batch job to take up (the file is missing or empty)")
                handle.truncate(0)
                _write_lines(handle, [{"format": progress_lines.FORMAT, "version": progress_lines.VERSION,
                                       "settings": settings.to_dict()}], path)
                found = settings
            elif settings is not None:
                differences = settings.differences(found)
                if differences:
                    raise SettingsMismatchError(path, differences)
            return cls(path, handle, found, done)
        except BaseException:
            handle.close()
            raise

    def append(self, results: Sequence[PhotoResult]) -> None:
        """Write a chunk's results (grouped per photo, in order) and fsync them."""
        lines = [progress_lines.encode_photo(group) for group in group_by_photo(results)]
        _write_lines(self._handle, lines, self.path)
        for group in group_by_photo(results):
            if not isinstance(group[0], FailedPhoto):
                self.done.add(group[0].key)

    def append_edit(self, edit: RowEdit) -> None:
        """Keep a person's edit of a caption or answer; later reads and exports show the edit."""
        _write_lines(self._handle, [progress_lines.encode_edit(edit)], self.path)

    def close(self) -> None:
        try:
            self._handle.close()  # closing releases the lock
        except OSError:
            pass  # a write that failed already said so; its bytes are lost either way

    def __enter__(self) -> ProgressFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def group_by_photo(results: Sequence[PhotoResult]) -> list[list[PhotoResult]]:
    """Consecutive results of the same photo together (a photo's answer rows, one per question)."""
    groups: list[list[PhotoResult]] = []
    for result in results:
        if groups and groups[-1][0].key == result.key and not isinstance(result, FailedPhoto):
            groups[-1].append(result)
        else:
            groups.append([result])
    return groups


def read_settings(path: PathLike) -> BatchSettings:
    """The settings on a progress file's first line."""
    path = Path(path)
    with _open_for_reading(path) as handle:
        settings, _ = _header(path, handle.readline())
    return settings


def iter_results(path: PathLike) -> tuple[BatchSettings, Iterator[Row | FailedPhoto]]:
    """A progress file's settings and its final results, streamed: rows with edits applied, in the order
    they were finished, then the photos whose last attempt failed."""
    path = Path(path)
    edits: dict[tuple[str, str | None], RowEdit] = {}
    failed: dict[str, FailedPhoto] = {}
    settings = read_settings(path)
    for entry in _entries(path):
        if isinstance(entry, RowEdit):
            edits[(entry.key, entry.question)] = entry
        elif isinstance(entry[0], FailedPhoto):
            failed[entry[0].key] = entry[0]
        else:
            failed.pop(entry[0].key, None)

    def results() -> Iterator[Row | FailedPhoto]:
        for entry in _entries(path):
            if isinstance(entry, RowEdit) or isinstance(entry[0], FailedPhoto):
                continue
            for row in entry:
                assert not isinstance(row, FailedPhoto)
                question = row.question if isinstance(row, AnswerRow) else None
                yield with_edit(row, edits.get((row.key, question)))
        yield from failed.values()

    return settings, results()


def load_results(path: PathLike) -> BatchResults:
    """``iter_results`` in memory (the app's results table)."""
    settings, results = iter_results(path)
    rows: list[Row] = []
    failed: list[FailedPhoto] = []
    for result in results:
        (failed if isinstance(result, FailedPhoto) else rows).append(result)  # type: ignore[arg-type]
    return BatchResults(settings, rows, failed)


# -- reading ---------------------------------------------------------------------------------------


def _open_for_reading(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read ({exc.strerror or exc})") from None


def _header(path: Path, raw: bytes) -> tuple[BatchSettings, Any]:
    data = _parse(raw, path, 1)
    check_format(data, name=progress_lines.FORMAT, version=progress_lines.VERSION, source=path,
                 what="a vqadesk batch progress file", where="line 1")
    return BatchSettings.from_dict(field(data, "settings", dict, path, "line 1"), source=path,
                                   where="line 1.settings"), data


def _entries(path: Path) -> Iterator[list[PhotoResult] | RowEdit]:
    """Every complete line after the first, decoded; a torn last line is left out."""
    with _open_for_reading(path) as handle:
        handle.readline()
        for number, raw in enumerate(handle, start=2):
            if not raw.endswith(b"\n"):
                return  # torn by a kill: the photo was not finished
            yield progress_lines.decode_line(_parse(raw, path, number), path, number)


def _read_done(path: Path, handle: IO[bytes]) -> tuple[BatchSettings | None, set[str], int]:
    """The settings, the keys of the photos finished, and where the last complete line ends."""
    handle.seek(0)
    first = handle.readline()
    if not first.endswith(b"\n"):
        return None, set(), 0  # killed while writing the header: start afresh
    settings, _ = _header(path, first)
    done: set[str] = set()
    good_end = handle.tell()
    for number, raw in enumerate(handle, start=2):
        if not raw.endswith(b"\n"):
            break
        entry = progress_lines.decode_line(_parse(raw, path, number), path, number)
        if not isinstance(entry, RowEdit) and not isinstance(entry[0], FailedPhoto):
            done.add(entry[0].key)
        good_end += len(raw)
    return settings, done, good_end


def _parse(raw: bytes, path: Path, line: int) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DataFormatError(path, f"line {line} is not valid JSON (damaged; --restart starts afresh)") from None


# -- writing ---------------------------------------------------------------------------------------


def _write_lines(handle: IO[bytes], lines: list[dict[str, Any]], path: Path) -> None:
    """Append ``lines`` and fsync; a full disk or a lost drive is one line naming the file."""
    data = b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in lines)
    try:
        handle.seek(0, os.SEEK_END)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as exc:
        raise VqadeskError(f"{path}: cannot be written ({exc.strerror or exc}); the photos finished before "
                           "are kept") from None


def _lock(handle: IO[bytes], path: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise VqadeskError(f"{path}: another batch job is writing it; wait for it to end or stop it") from None

"""Caption files beside the photos: ``IMG_1234.jpg`` -> ``IMG_1234.txt``.

The convention trainers of image models read: one UTF-8 text file per photo,
named after it, holding its caption (the text that counts: a person's edit,
else the model's best). For a VQA job it holds one ``question: answer`` line
per question.

* A sidecar that already holds exactly that text is left as it is
  (``unchanged``); one with other text is kept (``kept``) unless
  ``overwrite``, so a caption someone wrote by hand is never lost by accident.
* Two photos of one folder with the same stem (``a.jpg``, ``a.png``) would
  share ``a.txt``: the first one's is written, the second is counted in
  ``clashes``.
* A folder that cannot be written (read-only, permissions) is named once in
  ``failed_folders`` with the reason, and its photos are skipped; the others
  go on.

Each file is written to a temporary name and renamed, so a crash never
leaves half a caption; there is no fsync per file (100,000 of them would
take minutes), the results file and progress file stay the record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vqadesk.engine.torch_free.batch.records import AnswerRow, CaptionRow, FailedPhoto, Row

SIDECAR_SUFFIX = ".txt"


@dataclass
class SidecarReport:
    """Counts of what ``write_sidecars`` did, and the folders it could not write (folder -> reason)."""

    written: int = 0
    unchanged: int = 0
    kept: int = 0
    clashes: int = 0
    failed_folders: dict[str, str] = field(default_factory=dict)


def sidecar_path(photo: Path) -> Path:
    """Where a photo's sidecar goes: beside it, same stem, ``.txt``."""
    return photo.with_suffix(SIDECAR_SUFFIX)


def sidecar_text(rows: list[Row]) -> str:
    """A photo's sidecar: its caption, or its ``question: answer`` lines; one newline at the end."""
    if isinstance(rows[0], CaptionRow):
        return rows[0].caption.strip() + "\n"
    return "".join(f"{row.question.strip()}: {row.answer_text.strip()}\n" for row in rows if isinstance(row, AnswerRow))


def write_sidecars(results: Iterable[Row | FailedPhoto], *, overwrite: bool = False) -> SidecarReport:
    """Write the sidecar of every photo in ``results`` (a job's final results: a photo's rows together)."""
    report = SidecarReport()
    folder: Path | None = None
    names_here: set[str] = set()  # sidecars written in the current folder this time: clashes
    writable = True
    for rows in _photos(results):
        target = sidecar_path(rows[0].path)
        if target.parent != folder:
            folder, names_here = target.parent, set()
            writable = _check_folder(folder, report)
        if not writable:
            continue
        if target.name in names_here:
            report.clashes += 1
            continue
        names_here.add(target.name)
        try:
            _write_one(target, sidecar_text(rows), overwrite, report)
        except OSError as exc:
            report.failed_folders[str(folder)] = exc.strerror or str(exc)
            writable = False
    return report


def _photos(results: Iterable[Row | FailedPhoto]) -> Iterator[list[Row]]:
    """Each photo's rows together (failed photos have no sidecar)."""
    current: list[Row] = []
    for result in results:
        if isinstance(result, FailedPhoto):
            continue
        if current and current[0].key != result.key:
            yield current
            current = []
        current.append(result)
    if current:
        yield current


def _check_folder(folder: Path, report: SidecarReport) -> bool:
    if str(folder) in report.failed_folders:
        return False
    if not os.access(folder, os.W_OK | os.X_OK):
        report.failed_folders[str(folder)] = "cannot be written (read-only or no permission)"
        return False
    return True


def _write_one(target: Path, text: str, overwrite: bool, report: SidecarReport) -> None:
    try:
        existing = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError):
        existing = ""  # something unreadable is there: keep it unless asked to overwrite
    if existing == text:
        report.unchanged += 1
        return
    if existing is not None and not overwrite:
        report.kept += 1
        return
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    report.written += 1

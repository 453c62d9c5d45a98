"""Deleting a training run from the Training tab without losing work by accident.

A run in the runs folder (a folder the tab made) goes to the desktop's trash
(``QFile.moveToTrash``: the freedesktop.org trash on Linux, the Recycle Bin on
Windows, the Trash on macOS), so a click too many can be undone from the file
manager. Where there is no trash (a file system without one, a sandbox), the
user is asked once more and the folder is deleted for good.

A run in a folder the user chose is only taken off the list: that folder may
hold other files of theirs, so the tab never deletes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QFile

from vqadesk.engine.torch_free.training_runs import RunRecord

# (title, text) -> the user's yes; the tab asks with a dialog, tests answer directly.
Confirm = Callable[[str, str], bool]


@dataclass(frozen=True)
class Outcome:
    """What happened: ``done`` (the run is off the list), and a line for the status or the report."""

    done: bool
    message: str
    failed: bool = False


def is_managed(folder: Path, runs_root: Path) -> bool:
    """True for a run folder the tab made itself (directly inside the runs folder)."""
    try:
        return folder.resolve().parent == runs_root.resolve()
    except OSError:
        return False


def move_to_trash(folder: Path) -> bool:
    return QFile.moveToTrash(str(folder))


def delete_run(record: RunRecord, runs_root: Path, confirm: Confirm) -> Outcome:
    """Trash (or, asked again, delete) a managed run; only forget an external one (the caller does)."""
    folder = record.folder
    if not is_managed(folder, runs_root):
        if not confirm("Remove run from the list",
                       f"Remove the run {record.label} from the list?\n\nIts files stay where they are:\n{folder}"):
            return Outcome(False, "")
        return Outcome(True, f"Removed {record.name} from the list; its files stay in {folder}")
    if not confirm("Delete run", f"Move the run {record.label} ({record.status}) to the trash?\n\n{folder}"):
        return Outcome(False, "")
    if not folder.exists():
        return Outcome(True, f"{folder} was already gone")
    if move_to_trash(folder):
        return Outcome(True, f"Moved {record.name} to the trash")
    if not confirm("Delete run for good",
                   f"{folder} cannot be moved to a trash on this system.\n\n"
                   "Delete it for good? This cannot be undone."):
        return Outcome(False, "")
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        # Whatever could not be removed stays listed (its run.json may be gone: then it drops off).
        return Outcome(False, f"{folder}: {exc.strerror or exc}", failed=True)
    return Outcome(True, f"Deleted {folder}")

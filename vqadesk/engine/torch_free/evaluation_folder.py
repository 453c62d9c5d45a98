"""Making an evaluation folder: written whole in a hidden ``.partial`` sibling, then renamed into place.

``<evaluations root>/<YYYYmmdd-HHMMSS>-<model slug>-<split>/`` (the root: ``evaluations/`` in the
user data folder unless given) is made as ``.<name>.partial/`` and renamed when every file is
written, so a folder without ``.partial`` is always whole (docs/evaluate.md lists its files).

While a ``PartialFolder`` is open its process holds an OS lock on ``.lock`` inside it (``flock``
on POSIX, ``msvcrt.locking`` on Windows; the OS drops it when the process dies, however it
dies). ``remove_abandoned(root)``, called by every new evaluation, removes the partial folders no
live process holds: a cancelled or killed run's leftovers, never a running one's. A partial
folder without its lock file (killed between making the folder and locking it) is removed once
it is a minute old.

Every failure to write (a full disk, a read-only folder) removes the partial folder and is one
``EvaluationWriteError`` line naming the folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from vqadesk.errors import VqadeskError
from vqadesk.jsonio import atomic_file, write_json_atomic
from vqadesk.paths import user_data_dir

PARTIAL_SUFFIX = ".partial"
LOCK_NAME = ".lock"
_UNLOCKED_GRACE_S = 60.0
_SLUG = re.compile(r"[^a-z0-9]+")


class EvaluationWriteError(VqadeskError):
    """The evaluation folder could not be written (full disk, no permission...)."""


def evaluations_root() -> Path:
    """``<user data folder>/evaluations``: where the app and ``vqadesk evaluations`` keep them."""
    return user_data_dir() / "evaluations"


def slug(text: str) -> str:
    """``"hf:Salesforce/blip-vqa-base"`` -> ``"hf-salesforce-blip-vqa-base"`` (at most 40 characters)."""
    return _SLUG.sub("-", text.lower()).strip("-")[:40].strip("-") or "model"


def folder_name(created: datetime, label: str, split: str) -> str:
    return f"{created.astimezone(UTC):%Y%m%d-%H%M%S}-{slug(label)}-{slug(split)}"


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the disk"
    return exc.strerror or str(exc)


class PartialFolder:
    """``.<name>.partial`` under ``root``, locked for this process until ``finish`` or ``discard``."""

    def __init__(self, root: Path, name: str):
        self.root = root
        self.name = name
        self.path = root / f".{name}{PARTIAL_SUFFIX}"
        self._lock: IO[bytes] | None = None
        try:
            root.mkdir(parents=True, exist_ok=True)
            remove_abandoned(root)
            self.path.mkdir()
            self._lock = open(self.path / LOCK_NAME, "a+b")  # noqa: SIM115 - held until finish/discard
            _lock(self._lock)
        except OSError as exc:
            self.discard()
            raise EvaluationWriteError(f"{self.path}: cannot make the evaluation folder ({describe_os_error(exc)})") \
                from None

    def write_json(self, name: str, document: Any) -> None:
        self._guarded(lambda: write_json_atomic(self.path / name, document), name)

    def write_lines(self, name: str, lines: list[str]) -> None:
        def write() -> None:
            with atomic_file(self.path / name, "w") as handle:
                handle.write("\n".join(lines) + ("\n" if lines else ""))

        self._guarded(write, name)

    def write_with(self, name: str, write) -> None:
        """``write(path)`` for a file another library writes (the maps)."""
        self._guarded(lambda: write(self.path / name), name)

    def finish(self) -> Path:
        """Rename into place (``-2``, ``-3``... if the name is taken); the final folder's path."""
        final = self.root / self.name
        number = 2
        while final.exists():
            final = self.root / f"{self.name}-{number}"
            number += 1
        try:
            os.replace(self.path, final)
        except OSError as exc:
            self.discard()
            raise EvaluationWriteError(f"{final}: cannot move the evaluation into place ({describe_os_error(exc)})") \
                from None
        (final / LOCK_NAME).unlink(missing_ok=True)
        self._unlock()
        return final

    def discard(self) -> None:
        """Remove the partial folder (a cancelled or failed run); harmless when already gone."""
        self._unlock()
        shutil.rmtree(self.path, ignore_errors=True)

    def _guarded(self, write, name: str) -> None:
        try:
            write()
        except OSError as exc:
            self.discard()
            raise EvaluationWriteError(
                f"{self.root / self.name}: cannot write {name} ({describe_os_error(exc)}); nothing was kept"
            ) from None

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def remove_abandoned(root: Path) -> list[Path]:
    """Remove the partial folders under ``root`` that no live process holds; those removed."""
    removed = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX)]
    except OSError:
        return removed
    for folder in candidates:
        if folder.is_dir() and not folder.is_symlink() and not _in_use(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _in_use(folder: Path) -> bool:
    try:
        handle = open(folder / LOCK_NAME, "rb")  # noqa: SIM115 - closed below
    except OSError:
        try:  # no lock file yet: a run between mkdir and lock, unless it is old
            return time.time() - folder.stat().st_mtime < _UNLOCKED_GRACE_S
        except OSError:
            return False
    with handle:
        try:
            _lock(handle)
        except OSError:
            return True
    return False


def _lock(handle: IO[bytes]) -> None:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

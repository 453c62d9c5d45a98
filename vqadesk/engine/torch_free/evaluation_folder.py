"""Making an evaluation folder: written whole in a hidden ``.partial`` sibling, then renamed into place.

``<evaluations root>/<YYYYmmdd-HHMMSS>-<model slug>-<split>/`` (the store's ``folder_name``; the
root: ``evaluations/`` in the user data folder unless given) is made as ``.<name>.partial/``
(the store's ``partial_folder``) and renamed when every file is written, so a folder without
``.partial`` is always whole (docs/evaluate.md lists its files). A name already taken (two
evaluations in one second) gets ``-2``, ``-3``...

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
import shutil
import time
from pathlib import Path
from typing import IO, Any

from vqadesk.engine.torch_free.evaluations import PARTIAL_SUFFIX, partial_folder
from vqadesk.engine.torch_free.file_lock import lock_exclusive
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import atomic_file, write_json_atomic

LOCK_NAME = ".lock"
_UNLOCKED_GRACE_S = 60.0


class EvaluationWriteError(VqadeskError):
    """The evaluation folder could not be written (full disk, no permission...)."""


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the disk"
    return exc.strerror or str(exc)


class PartialFolder:
    """``.<name>.partial`` beside ``final``, locked for this process until ``finish`` or ``discard``."""

    def __init__(self, final: Path):
        self.root = final.parent
        self.name = final.name
        self.path = partial_folder(final)
        self._lock: IO[bytes] | None = None
        self._made = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            remove_abandoned(self.root)
            number = 2
            while True:  # another run of the same model on the same split in the same second
                try:
                    self.path.mkdir()
                    break
                except FileExistsError:
                    self.name = f"{final.name}-{number}"
                    self.path = partial_folder(self.root / self.name)
                    number += 1
            self._made = True
            self._lock = open(self.path / LOCK_NAME, "a+b")  # noqa: SIM115 - held until finish/discard
            lock_exclusive(self._lock)
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
        if os.name == "nt":  # pragma: no cover - Windows cannot rename a folder holding an open file
            self._unlock()
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
        if self._made:
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
            lock_exclusive(handle)
        except OSError:
            return True
    return False

"""One owner per run folder, and the repair of saves a crash interrupted.

A training run writes its checkpoints into ``--out``. This module makes that
folder safe to share with crashes and with other runs:

* ``lock_run_folder`` takes an OS lock (``fcntl.flock`` on POSIX,
  ``msvcrt.locking`` on Windows) on ``DIR/.vqadesk-run.lock`` for the run's
  life. The OS drops it when the process dies, however it dies, so a killed
  run never leaves a stale lock; a second run into the same folder is refused.
* ``recover_interrupted_saves`` runs under that lock at the start of every
  run. ``save_checkpoint`` renames the tensors file into place and then the
  JSON; a kill between the two renames leaves the new ``NAME.safetensors``
  beside the old ``NAME.json`` and the new JSON still staged as
  ``.NAME.json.*.tmp`` (fully written and flushed before the first rename).
  The staged JSON whose recorded SHA-256 and size match ``NAME.safetensors``
  is renamed into place, completing the save. Every other staged file is a
  leftover of a killed save and is removed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import IO

from vqadesk.engine.checkpoints.checkpoint_files import remove_quietly, sha256_of_file, sync_folder
from vqadesk.engine.torch_free.file_lock import lock_exclusive
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json

LOCK_FILE = ".vqadesk-run.lock"
CHECKPOINT_NAMES = ("last", "best")
# What checkpoint_files.staged_path names its temporaries: ".<final name>.<random>.tmp".
_STAGED = re.compile(r"\.(?P<final>[^/\\]+?\.(?:json|safetensors))\.[^.]+\.tmp")


class RunFolderError(VqadeskError):
    """The run folder is in use by another run, or holds a run that this one would overwrite."""


def lock_run_folder(folder: Path) -> IO[bytes]:
    """Lock ``folder`` for this process; keep the returned handle open for the run's life.

    Raises ``RunFolderError`` when another live process holds the lock.
    """
    path = folder / LOCK_FILE
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held open (and locked) until the run ends
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot create the run's lock file ({exc.strerror or exc})") from None
    try:
        lock_exclusive(handle)
    except OSError:
        handle.close()
        raise RunFolderError(
            f"{folder}: another training run is writing to this folder; wait for it to finish or choose "
            "another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n".encode())  # informational: which process holds it
    handle.flush()
    return handle


def unlock_run_folder(handle: IO[bytes]) -> None:
    """Release the lock (closing the handle does it; the lock file itself stays, harmlessly)."""
    handle.close()


def recover_interrupted_saves(folder: Path) -> list[str]:
    """Complete saves interrupted between their two renames; remove other leftovers.

    Call only while holding the folder's lock (another run's staged files are
    not leftovers). Returns one human line per repair or removal, for stderr.
    """
    notes: list[str] = []
    staged = sorted(p for p in folder.iterdir() if _STAGED.fullmatch(p.name) and p.is_file())
    for name in CHECKPOINT_NAMES:
        json_path, tensors_path = folder / f"{name}.json", folder / f"{name}.safetensors"
        candidates = [p for p in staged if _STAGED.fullmatch(p.name).group("final") == json_path.name]
        if not candidates or not tensors_path.is_file() or _recorded_matches(json_path, tensors_path):
            continue
        for candidate in candidates:
            if _recorded_matches(candidate, tensors_path):
                os.replace(candidate, json_path)
                sync_folder(folder)
                staged.remove(candidate)
                notes.append(f"{json_path}: completed a save that was interrupted between its two renames")
                break
    for path in staged:
        remove_quietly(path)
        notes.append(f"{path}: removed, left over from an interrupted save")
    return notes


def _recorded_matches(json_path: Path, tensors_path: Path) -> bool:
    """Whether the checkpoint JSON ``json_path`` records exactly ``tensors_path``'s size and SHA-256."""
    try:
        recorded = read_json(json_path)["tensors"]
        size = tensors_path.stat().st_size
        if not isinstance(recorded, dict) or recorded.get("bytes") != size:
            return False
        return recorded.get("sha256") == sha256_of_file(tensors_path)[0]
    except (VqadeskError, OSError, KeyError, TypeError):
        return False


def existing_checkpoints(folder: Path) -> list[Path]:
    """The checkpoint files of a previous run in ``folder`` (``last``/``best``, either half)."""
    return [folder / f"{name}{suffix}" for name in CHECKPOINT_NAMES for suffix in (".json", ".safetensors")
            if (folder / f"{name}{suffix}").exists()]


def clear_checkpoints(folder: Path) -> None:
    """``--overwrite``: remove a previous run's ``last`` and ``best`` before a fresh run."""
    for path in existing_checkpoints(folder):
        path.unlink()
    sync_folder(folder)

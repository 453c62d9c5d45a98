"""File-level safety for checkpoints: staged atomic writes, hashes, pickle sniffing.

A checkpoint is two files published together: each is first written in full
to a temporary file in the destination folder and flushed to disk (fsync),
and only then renamed over the old one (``os.replace``, atomic on POSIX and
Windows). Until the renames, the previous checkpoint is untouched.

Pickled PyTorch files (``torch.save`` output, ``.pt``/``.pth``/``.ckpt``...)
are recognised by name and by their first bytes and refused: unpickling runs
whatever code the file names, so vqadesk never does it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

from vqadesk.errors import VqadeskError

PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar"})

_HASH_CHUNK = 1 << 20
_SNIFF_BYTES = 4096


class CheckpointError(VqadeskError):
    """A checkpoint that cannot be loaded: missing half, mismatched pair, corrupt, pickled."""

    def __init__(self, message: str, *, path: str | os.PathLike[str]):
        self.path = str(path)
        super().__init__(message)


def pickle_refusal(path: str | os.PathLike[str]) -> CheckpointError:
    """The one error for every pickled file, with the way out."""
    return CheckpointError(
        f"{path} is a pickled PyTorch file; vqadesk never unpickles files (they can run code). "
        "Convert it: if you trust it, load it in your own Python session with "
        "torch.load(FILE, weights_only=True) and save it with "
        "vqadesk.engine.checkpoints.checkpoint.save_checkpoint (see docs/checkpoints.md)",
        path=path,
    )


def refuse_if_pickled(path: Path) -> None:
    """Raise ``pickle_refusal`` if ``path`` is named or shaped like a pickle.

    The content check catches a pickle under any name, including one renamed
    to ``.safetensors`` or ``.json``.
    """
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise pickle_refusal(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return  # the caller reports a missing or unreadable file in its own words
    if looks_pickled(head, path):
        raise pickle_refusal(path)


def looks_pickled(data: bytes, path: Path | None = None) -> bool:
    """Whether ``data`` (a file's first bytes or all of it) is a pickle or a torch archive.

    Pickle protocol 2-5 streams start with 0x80 and the protocol number.
    ``torch.save`` writes a zip whose first member is ``<name>/data.pkl``: the
    first local header's name tells, even for a truncated archive; otherwise
    the archive (``path``, else ``data``) is listed for any ``.pkl`` member.
    """
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    if not data.startswith(b"PK\x03\x04"):
        return False
    if len(data) >= 30:
        name_length = int.from_bytes(data[26:28], "little")
        if data[30 : 30 + name_length].endswith(b".pkl"):
            return True
    try:
        with zipfile.ZipFile(path if path is not None else io.BytesIO(data)) as archive:
            return any(name.endswith(".pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False  # a broken zip of something else: not a checkpoint, reported as such later


def staged_path(final: Path) -> Path:
    """A new, empty temporary file beside ``final`` (same folder, so the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(name)


def finish_staged(path: Path) -> None:
    """Flush a staged file to disk and give it ordinary permissions (mkstemp makes 0600)."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(path, 0o666 & ~_UMASK)


def write_staged_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o666 & ~_UMASK)


def sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; Windows has no folder fsync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# A header larger than this is no checkpoint's (ours are a few hundred kB at most).
MAX_SAFETENSORS_HEADER = 100 * 2**20


def safetensors_header_problem(path: Path, size: int) -> str | None:
    """Why the safetensors file ``path`` (``size`` bytes) cannot be what its header says, or None.

    Reads only the 8-byte length and the JSON header: the tensors' byte
    ranges must end exactly at the end of the file. Checked before the file
    is read, so a truncated file or one padded to gigabytes is refused cheaply.
    """
    try:
        with open(path, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if size < 8 or length > min(MAX_SAFETENSORS_HEADER, size - 8):
                return f"its header length ({length} bytes) does not fit the file's {size} bytes"
            header = json.loads(handle.read(length))
    except (OSError, ValueError) as exc:
        return f"its header is not readable JSON ({exc})"
    if not isinstance(header, dict):
        return "its header is not a JSON object"
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            return f"tensor {name!r} has no valid data_offsets"
        end = max(end, offsets[1])
    if 8 + length + end != size:
        return f"its header describes {8 + length + end} bytes but the file has {size}"
    return None


def sha256_of_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_umask() -> int:
    # os.umask can only be read by setting it; once, at import time.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()

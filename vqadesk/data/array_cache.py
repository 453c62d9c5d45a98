"""Compact arrays made once from big JSON files, cached beside them.

VQA v2 train is 443,757 questions in a 20 MB questions file and a 330 MB
annotations file: parsing, validating and tokenising them takes tens of
seconds and gigabytes of Python objects. The training data are built from
arrays instead (ids, token ids, answer ids into string tables), made from
the JSON the first time and read back from here afterwards in a fraction of
a second.

An entry is a folder ``.vqadesk-cache/<kind>-<first input's stem>-<hash>/``
beside the first input file (``<hash>`` names the inputs' absolute paths), or
under ``user_data_dir()/cache/`` when that folder cannot be written (a
read-only dataset share)::

    arrays.npz   numeric arrays and strings packed as UTF-8 bytes + offsets (np.savez;
                 read back with allow_pickle=False: nothing here is ever unpickled)
    entry.json   written last: the inputs' size, mtime and SHA-256, the builder's version

An entry is used when every input has the recorded size and modification
time, or the same size and SHA-256 (a file copied or touched without
change); otherwise, or when the entry is damaged, it is rebuilt. Deleting
``.vqadesk-cache`` is always safe.

The inputs' identity is taken *before* they are parsed and checked again
after: a file edited while it was being parsed gives arrays that are used
once but never cached under the old identity (else every later run would
read the old data). Cache files get the permissions a plain ``open()`` gives
(0666 less the umask), like every file vqadesk writes, so one user's cache
beside a shared dataset serves the others. A ``.vqadesk-cache`` that is a
symbolic link is not followed: a dataset folder cannot redirect the cache's
writes elsewhere; the user data folder is used instead. A user data folder
that cannot be created only means no second place to cache.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any

import numpy as np

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import atomic_file, kind_of_file, read_json, write_json_atomic
from vqadesk.paths import user_data_dir

PathLike = str | os.PathLike[str]

CACHE_FOLDER = ".vqadesk-cache"
ENTRY_FORMAT = "vqadesk.array_cache"
ENTRY_VERSION = 1
ARRAYS = "arrays.npz"
ENTRY = "entry.json"


@dataclass(frozen=True)
class CacheInfo:
    """Where a set of arrays came from: for the training routine's ``start`` event."""

    path: Path
    built: bool  # True when made from the JSON in this call, False when read from the cache
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "built": self.built, "seconds": round(self.seconds, 3)}


def cached_arrays(
    kind: str,
    inputs: Sequence[PathLike],
    build: Callable[[], dict[str, np.ndarray]],
    *,
    builder_version: int,
    validate: Callable[[dict[str, np.ndarray]], bool] | None = None,
) -> tuple[dict[str, np.ndarray], CacheInfo]:
    """The arrays ``build()`` makes from ``inputs``, from the cache when it is current.

    ``builder_version`` is bumped whenever ``build`` changes what it makes,
    which invalidates every older entry. A problem with the inputs is raised by
    ``build`` itself (it reads them); a problem with the cache only rebuilds it.
    ``validate(arrays)``, when given, vets an entry's arrays before they are
    used (names, shapes, offsets in range): False treats the entry as damaged.
    """
    started = time.perf_counter()
    inputs = [Path(p).resolve() for p in inputs]
    places = _places(kind, inputs)
    nowhere = inputs[0].parent / CACHE_FOLDER / _entry_name(kind, inputs)  # reported when nothing is cached
    for place in places:
        arrays = _read_entry(place, kind, inputs, builder_version)
        if arrays is not None and (validate is None or _passes(validate, arrays)):
            return arrays, CacheInfo(place, built=False, seconds=time.perf_counter() - started)
    identities = [_identity(path, with_sha=True) for path in inputs]  # before parsing: see the docstring
    arrays = build()
    if not all(_unchanged(identity, path) for identity, path in zip(identities, inputs)):
        return arrays, CacheInfo(nowhere, built=True, seconds=time.perf_counter() - started)  # edited meanwhile
    for place in places:
        try:
            _write_entry(place, kind, identities, arrays, builder_version)
        except OSError:
            continue  # not writable here: try the user data folder
        return arrays, CacheInfo(place, built=True, seconds=time.perf_counter() - started)
    return arrays, CacheInfo(nowhere, built=True, seconds=time.perf_counter() - started)  # not cached


def entry_looks_current(kind: str, inputs: Sequence[PathLike], *, builder_version: int) -> bool:
    """Whether ``cached_arrays`` would find a current entry, judged by a quick look at its
    ``entry.json`` (the inputs' paths, sizes and times as recorded) without hashing the inputs
    or reading the arrays. A wrong False costs a rebuild that finds the entry after all; a
    wrong True (a damaged archive) a rebuild by ``cached_arrays`` itself."""
    try:
        inputs = [Path(p).resolve() for p in inputs]
    except OSError:
        return False
    for place in _places(kind, inputs):
        try:
            entry = read_json(place / ENTRY)
            if not _entry_describes(entry, kind, inputs, builder_version):
                continue
            unchanged = all(
                (recorded["size"], recorded["mtime_ns"]) == ((stat := path.stat()).st_size, stat.st_mtime_ns)
                for recorded, path in zip(entry["inputs"], inputs)
            )
            if unchanged and (place / ARRAYS).is_file():
                return True
        except (DataFormatError, OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # no entry, or a damaged or foreign one
    return False


def _passes(validate: Callable[[dict[str, np.ndarray]], bool], arrays: dict[str, np.ndarray]) -> bool:
    try:
        return bool(validate(arrays))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False  # arrays too odd to even check: damaged


def pack_strings(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one ``uint8`` UTF-8 array and ``int64`` offsets (``len + 1``)."""
    encoded = [text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def unpack_strings(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    bounds = offsets.tolist()
    return [raw[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]


def token_counts(tokens: Sequence[str], token_ids: np.ndarray, token_offsets: np.ndarray,
                 rows: np.ndarray) -> dict[str, int]:
    """``{token: times seen}`` over texts ``rows`` of a packed token list (ids into ``tokens``,
    text i's ids at ``token_ids[token_offsets[i]:token_offsets[i + 1]]``): a vocabulary's input."""
    starts, ends = token_offsets[rows], token_offsets[rows + 1]
    lengths = ends - starts
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    counts = np.bincount(token_ids[np.repeat(starts, lengths) + within], minlength=len(tokens))
    return {token: count for token, count in zip(tokens, counts.tolist()) if count}


# -- entries ------------------------------------------------------------------------------------


def _places(kind: str, inputs: list[Path]) -> list[Path]:
    """Where an entry for ``inputs`` may be, in the order tried: beside the first input (unless
    the cache folder there is a symbolic link), then the user data folder (when the inputs'
    folder is read-only, or when that folder cannot be made: then no second place)."""
    name = _entry_name(kind, inputs)
    beside = inputs[0].parent / CACHE_FOLDER
    places = [] if beside.is_symlink() or (beside / name).is_symlink() else [beside / name]
    try:
        places.append(user_data_dir() / "cache" / name)
    except OSError:
        pass
    return places


def _entry_describes(entry: Any, kind: str, inputs: list[Path], builder_version: int) -> bool:
    """Whether ``entry`` (a parsed entry.json) is one of ours, of this kind and builder, for these input paths."""
    return (
        entry.get("format") == ENTRY_FORMAT and entry.get("version") == ENTRY_VERSION
        and entry.get("kind") == kind and entry.get("builder_version") == builder_version
        and [i.get("path") for i in entry["inputs"]] == [str(p) for p in inputs]
    )


def _entry_name(kind: str, inputs: list[Path]) -> str:
    digest = hashlib.sha256("\n".join(str(p) for p in inputs).encode()).hexdigest()[:12]
    return f"{kind}-{inputs[0].stem}-{digest}"


def _identity(path: Path, *, with_sha: bool) -> dict[str, Any]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not S_ISREG(stat.st_mode):  # hashing a FIFO would wait forever, a device never end
        raise DataFormatError(path, f"is not a regular file ({kind_of_file(stat.st_mode)})")
    identity: dict[str, Any] = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if with_sha:
        identity["sha256"] = _sha256(path)
    return identity


def _unchanged(identity: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` still has the size and modification time ``identity`` recorded."""
    try:
        now = path.stat()
    except OSError:
        return False
    return (now.st_size, now.st_mtime_ns) == (identity["size"], identity["mtime_ns"])


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read_entry(place: Path, kind: str, inputs: list[Path], builder_version: int) -> dict[str, np.ndarray] | None:
    """The entry's arrays when it is current and intact, else None (rebuild)."""
    entry_path = place / ENTRY
    if not entry_path.is_file():
        return None
    try:
        entry = read_json(entry_path)
        if not _entry_describes(entry, kind, inputs, builder_version):
            return None
        touched = False
        for recorded, path in zip(entry["inputs"], inputs):
            now = _identity(path, with_sha=False)
            if now["size"] != recorded["size"]:
                return None
            if now["mtime_ns"] != recorded["mtime_ns"]:
                if _sha256(path) != recorded["sha256"]:
                    return None
                recorded["mtime_ns"] = now["mtime_ns"]  # same bytes, newer time: keep the entry
                touched = True
        with np.load(place / ARRAYS, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if touched:
            try:
                write_json_atomic(entry_path, entry)
            except OSError:
                pass  # the entry is still right; it will be checked by hash again next time
        return arrays
    except (DataFormatError, OSError, ValueError, KeyError, TypeError, AttributeError, EOFError,
            zipfile.BadZipFile):
        return None  # a damaged or foreign entry (a truncated or bit-flipped archive fails its CRC): rebuild it


def _write_entry(place: Path, kind: str, identities: list[dict[str, Any]], arrays: dict[str, np.ndarray],
                 builder_version: int) -> None:
    place.mkdir(parents=True, exist_ok=True)
    (place / ENTRY).unlink(missing_ok=True)  # no moment where an old entry describes new arrays
    with atomic_file(place / ARRAYS, "wb") as handle:
        np.savez(handle, **arrays)
    write_json_atomic(place / ENTRY, {
        "format": ENTRY_FORMAT, "version": ENTRY_VERSION, "kind": kind, "builder_version": builder_version,
        "inputs": identities, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })

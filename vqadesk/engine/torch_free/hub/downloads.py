"""Fetching a pretrained model from the Hub into the Hugging Face cache: first a plan, then the download.

``plan_download(reference)`` asks the Hub which files the revision holds and how big they are,
keeps those loading needs (``repo_files.choose_files``: safetensors weights only), and tells the
total, what the cache already holds, the commit and the free disk space, so the user sees the
cost before agreeing. ``download(plan, cancel)`` is a generator of ``DownloadProgress`` events
that the command line (a tqdm bar) and the window (a progress bar) both wrap; it is Qt-free and
torch-free.

Why vqadesk writes the bytes itself rather than calling ``hf_hub_download`` for them:
huggingface_hub 2.4 writes each file under a temporary name unique to its process and deletes it
when the download fails, so an interrupted or cancelled download starts again from zero (it
resumes only within one call, after a dropped connection). Here each file goes to
``blobs/<etag>.incomplete`` (the name the cache's own scanner knows as a partial download); a
dropped connection, a cancel, Ctrl+C or a closed laptop leave it there, and the next attempt asks
for the rest with a Range request. A finished file is checked against the Hub's hash, renamed to
its blob and handed to ``hf_hub_download``, which links it into the revision's snapshot exactly
as huggingface_hub lays out its cache; at the end the revision's name (``main``,
``refs/pr/9``...) is recorded in ``refs/`` so ``hf:ORG/NAME`` loads offline.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.torch_free.hub.hub_errors import (
    DiskFullError,
    DownloadCancelledError,
    DownloadFailedError,
    HubDownloadError,
    NotEnoughSpaceError,
    http_library,
    hub_endpoint,
    hub_errors,
    offline_refusal,
)
from vqadesk.engine.torch_free.hub.references import (
    BadReferenceError,
    HubReference,
    cache_dir,
    offline,
    parse_reference,
    read_architecture,
    repo_folder,
)
from vqadesk.engine.torch_free.hub.repo_files import CONFIG, RemoteFile, choose_files
from vqadesk.engine.torch_free.hub.sizes import format_bytes

# Kept free beyond the download itself: the snapshot's links, the refs, and room for the system.
DISK_MARGIN_BYTES = 100_000_000
# How often a file's progress is reported: each time this many more bytes are on disk.
PROGRESS_STEP_BYTES = 256 * 1024
# A dropped connection is retried (from where it stopped) this many times in a row without new bytes.
RETRIES = 5
RETRY_PAUSE_S = 1.0
PARTIAL_SUFFIX = ".incomplete"

_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # a git blob id or an LFS sha256
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_LOCK_WAIT_S = 1.0


@dataclass(frozen=True)
class PlannedFile:
    """One file to fetch; ``cached_bytes`` is how much of it the cache already holds."""

    name: str
    size: int
    etag: str
    cached_bytes: int


@dataclass(frozen=True)
class DownloadPlan:
    """What ``download`` will fetch, and what it costs on disk."""

    reference: HubReference
    revision: str  # as asked: a branch, a tag, refs/pr/N or a commit
    commit: str  # what that revision pointed to when the plan was made
    files: tuple[PlannedFile, ...]
    cache_folder: Path
    free_bytes: int  # free space on the cache folder's disk when the plan was made

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)

    @property
    def cached_bytes(self) -> int:
        return sum(file.cached_bytes for file in self.files)

    @property
    def remaining_bytes(self) -> int:
        return self.total_bytes - self.cached_bytes

    @property
    def complete(self) -> bool:
        """Whether every file is already in the cache (a download would only link them)."""
        return self.remaining_bytes == 0

    @property
    def fits_on_disk(self) -> bool:
        return self.complete or self.remaining_bytes + DISK_MARGIN_BYTES <= self.free_bytes


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands: the current file's bytes on disk, and the whole model's."""

    file: str
    file_done: int
    file_total: int
    done: int
    total: int


def as_reference(reference: HubReference | str) -> HubReference:
    """``reference`` as a ``HubReference``; text must be ``hf:ORG/NAME[@REVISION]``."""
    if isinstance(reference, HubReference):
        return reference
    parsed = parse_reference(reference)
    if parsed is None:
        raise BadReferenceError(f"{reference!r} is not a Hugging Face model reference: expected hf:ORG/NAME[@REVISION]")
    return parsed


def plan_download(reference: HubReference | str) -> DownloadPlan:
    """Ask the Hub what ``reference`` holds and choose what to fetch (see the module docstring)."""
    reference = as_reference(reference)
    if offline():
        raise offline_refusal(reference)
    from huggingface_hub import HfApi

    revision = reference.resolved_revision
    with hub_errors(reference, revision):
        info = HfApi(endpoint=hub_endpoint()).model_info(reference.repo_id, revision=revision, files_metadata=True)
    if not isinstance(info.sha, str) or not _COMMIT.match(info.sha):
        raise HubDownloadError(f"{reference.text}: the Hub did not say which commit revision {revision!r} is")
    remote = [_remote_file(reference, sibling) for sibling in info.siblings or []]
    blobs = repo_folder(reference.repo_id) / "blobs"
    files = tuple(
        PlannedFile(file.name, file.size, file.etag, _bytes_on_disk(blobs, file))
        for file in choose_files(reference, revision, [file for file in remote if file is not None])
    )
    folder = cache_dir()
    return DownloadPlan(reference, revision, info.sha, files, folder, free_space(folder))


def download(plan: DownloadPlan, cancel: threading.Event | None = None) -> Iterator[DownloadProgress]:
    """Fetch what ``plan`` lists into the cache, yielding progress; setting ``cancel`` stops it.

    A cancel raises ``DownloadCancelledError``; a full disk ``DiskFullError``; a connection that
    stays down ``DownloadFailedError``. Each leaves the partial file for the next run to resume.
    """
    if offline():
        raise offline_refusal(plan.reference)
    check_free_space(plan)
    storage = repo_folder(plan.reference.repo_id)
    # snapshots/ first: the cache's scanner skips a repository without it, even one with partial files.
    (storage / "snapshots").mkdir(parents=True, exist_ok=True)
    (storage / "blobs").mkdir(exist_ok=True)
    on_disk = {file.name: file.cached_bytes for file in plan.files}
    with _download_lock(plan):
        for file in plan.files:
            _raise_if_cancelled(cancel, plan, on_disk)
            try:
                yield from _fetch(plan, file, on_disk, cancel)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise _disk_full(plan, file, on_disk) from None
                raise
            if file.name == CONFIG:  # refuse an unsupported architecture before fetching the weights
                read_architecture(storage / "snapshots" / plan.commit, plan.reference.text)
        _record_ref(storage, plan.revision, plan.commit)


def check_free_space(plan: DownloadPlan) -> None:
    """Refuse (one line, with the figures) when the rest of the download would not fit on the disk."""
    free = free_space(plan.cache_folder)
    remaining = plan.remaining_bytes
    if remaining and remaining + DISK_MARGIN_BYTES > free:
        raise NotEnoughSpaceError(
            f"{plan.reference.text} needs {format_bytes(remaining)} more (and {format_bytes(DISK_MARGIN_BYTES)} "
            f"to spare), but the disk holding {plan.cache_folder} has {format_bytes(free)} free"
        )


def free_space(folder: Path) -> int:
    """Free bytes on the disk that holds ``folder`` (or would hold it: the nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return 0


def partial_path(blobs: Path, etag: str) -> Path:
    """Where a file's bytes gather until it is complete."""
    return blobs / f"{etag}{PARTIAL_SUFFIX}"


# -- one file -------------------------------------------------------------------------------------


def _fetch(
    plan: DownloadPlan, file: PlannedFile, on_disk: dict[str, int], cancel: threading.Event | None
) -> Generator[DownloadProgress, None, None]:
    """Make ``file`` a complete blob of the cache and link it into the snapshot."""
    blob = repo_folder(plan.reference.repo_id) / "blobs" / file.etag
    if not blob.is_file():
        partial = partial_path(blob.parent, file.etag)
        yield from _receive(plan, file, partial, on_disk, cancel)
        if _hash_of(partial, file.etag) != file.etag:
            partial.unlink(missing_ok=True)
            on_disk[file.name] = 0
            raise DownloadFailedError(
                f"{file.name} of {plan.reference.text} arrived damaged (it does not match the Hub's hash); "
                "run the download again"
            )
        os.replace(partial, blob)
    on_disk[file.name] = file.size
    _link(plan, file)
    yield _progress(plan, file, on_disk)


def _receive(
    plan: DownloadPlan, file: PlannedFile, partial: Path, on_disk: dict[str, int], cancel: threading.Event | None
) -> Generator[DownloadProgress, None, None]:
    """Append the missing bytes of ``file`` to ``partial``, resuming after each dropped connection."""
    from huggingface_hub import hf_hub_url

    url = hf_hub_url(plan.reference.repo_id, file.name, revision=plan.commit, endpoint=hub_endpoint())
    attempts_without_progress = 0
    while True:
        have = partial.stat().st_size if partial.exists() else 0
        if have > file.size:  # not this file's bytes: start again
            partial.unlink()
            have = 0
        on_disk[file.name] = have
        yield _progress(plan, file, on_disk)
        if have == file.size:
            return
        try:
            yield from _stream(plan, file, url, partial, have, on_disk, cancel)
            failure = None
        except _transport_errors() as exc:
            failure = exc
        gained = on_disk[file.name] > have
        attempts_without_progress = 0 if gained else attempts_without_progress + 1
        if attempts_without_progress > RETRIES:
            kept = format_bytes(sum(on_disk.values()))
            reason = f" ({failure})" if failure is not None else ""
            raise DownloadFailedError(
                f"the connection to the Hub ({hub_endpoint()}) dropped while downloading {file.name} of "
                f"{plan.reference.text}{reason}; {kept} kept: run the download again to resume"
            )
        if failure is not None:
            time.sleep(RETRY_PAUSE_S)


def _stream(
    plan: DownloadPlan,
    file: PlannedFile,
    url: str,
    partial: Path,
    have: int,
    on_disk: dict[str, int],
    cancel: threading.Event | None,
) -> Generator[DownloadProgress, None, None]:
    """One GET of the bytes from ``have`` on, appended to ``partial`` as they arrive."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"  # byte ranges of the file itself, never of a compressed body
    if have:
        headers["Range"] = f"bytes={have}-"
    session = get_session()
    with session.stream("GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as response:
        with hub_errors(plan.reference, plan.revision):
            hf_raise_for_status(response)
        if have and response.status_code != 206:  # the server ignored the range: it sends the whole file
            have = 0
        reported = have
        with open(partial, "ab" if have else "wb") as out:
            for chunk in response.iter_bytes():
                write_chunk(out, chunk)
                have += len(chunk)
                on_disk[file.name] = have
                if have - reported >= PROGRESS_STEP_BYTES:
                    reported = have
                    yield _progress(plan, file, on_disk)
                _raise_if_cancelled(cancel, plan, on_disk)


def write_chunk(out, chunk: bytes) -> None:
    """Append ``chunk`` (one place for every write, so a test can make the disk full)."""
    out.write(chunk)


def _link(plan: DownloadPlan, file: PlannedFile) -> None:
    """Link the finished blob into the snapshot, as huggingface_hub does (a symlink, else a copy)."""
    from huggingface_hub import hf_hub_download

    with hub_errors(plan.reference, plan.revision):
        hf_hub_download(
            plan.reference.repo_id,
            file.name,
            revision=plan.commit,
            cache_dir=plan.cache_folder,
            endpoint=hub_endpoint(),
        )


def _record_ref(storage: Path, revision: str, commit: str) -> None:
    """``refs/<revision>`` names the commit, so the revision resolves offline (what huggingface_hub writes)."""
    if revision == commit:
        return
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    staged = ref.with_name(f"{ref.name}.{os.getpid()}.tmp")
    staged.write_text(commit, encoding="utf-8")
    os.replace(staged, ref)


# -- helpers --------------------------------------------------------------------------------------


def _remote_file(reference: HubReference, sibling) -> RemoteFile | None:
    """A sibling of the Hub's listing as a ``RemoteFile``; None for one without size or hash."""
    lfs = sibling.lfs
    size = lfs.size if lfs is not None else sibling.size
    etag = lfs.sha256 if lfs is not None else sibling.blob_id
    if size is None or etag is None:
        return None
    if not _HASH.match(etag):
        raise HubDownloadError(f"{reference.text}: the Hub gave {sibling.rfilename} an unexpected hash {etag!r}")
    return RemoteFile(name=sibling.rfilename, size=int(size), etag=etag)


def _bytes_on_disk(blobs: Path, file: RemoteFile) -> int:
    if (blobs / file.etag).is_file():
        return file.size
    partial = partial_path(blobs, file.etag)
    return min(partial.stat().st_size, file.size) if partial.is_file() else 0


def _hash_of(path: Path, etag: str) -> str:
    """The hash ``etag`` is: sha256 of the bytes (an LFS file), else the git blob id (sha1 of a header + bytes)."""
    if len(etag) == 64:
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _progress(plan: DownloadPlan, file: PlannedFile, on_disk: dict[str, int]) -> DownloadProgress:
    return DownloadProgress(file.name, on_disk[file.name], file.size, sum(on_disk.values()), plan.total_bytes)


def _raise_if_cancelled(cancel: threading.Event | None, plan: DownloadPlan, on_disk: dict[str, int]) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelledError(
            f"download of {plan.reference.text} cancelled; {format_bytes(sum(on_disk.values()))} of "
            f"{format_bytes(plan.total_bytes)} kept: download it again to resume"
        )


def _disk_full(plan: DownloadPlan, file: PlannedFile, on_disk: dict[str, int]) -> DiskFullError:
    return DiskFullError(
        f"the disk holding the Hugging Face cache ({plan.cache_folder}) is full while writing {file.name} of "
        f"{plan.reference.text}; {format_bytes(sum(on_disk.values()))} kept: free some space and download again"
    )


def _transport_errors() -> tuple[type[BaseException], ...]:
    return (http_library().TransportError,)


@contextmanager
def _download_lock(plan: DownloadPlan) -> Iterator[None]:
    """One download per repository at a time: a second one (the window and a command) is refused."""
    from filelock import Timeout
    from huggingface_hub.utils import WeakFileLock

    folder = plan.cache_folder / ".locks" / repo_folder(plan.reference.repo_id).name
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        try:
            stack.enter_context(WeakFileLock(folder / "vqadesk-download.lock", timeout=_LOCK_WAIT_S))
        except Timeout:
            raise HubDownloadError(
                f"{plan.reference.text} is already being downloaded (by the window or another command); "
                "wait for that download to finish"
            ) from None
        yield

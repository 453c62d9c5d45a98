"""The pretrained models in the Hugging Face cache: which ones vqadesk can load, and removing them.

``downloaded_models()`` lists every cached revision whose ``config.json`` names an architecture
vqadesk supports and whose weights are safetensors, with its size on disk, from
``huggingface_hub.scan_cache_dir`` (so models other tools downloaded count too).
``remove(reference)`` deletes a repository (every revision, partial downloads included) or, with
``@REVISION``, that one revision, and says how many bytes it freed.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.torch_free.hub.catalogue import default_revision
from vqadesk.engine.torch_free.hub.downloads import as_reference
from vqadesk.engine.torch_free.hub.hub_errors import NotInCacheError
from vqadesk.engine.torch_free.hub.references import (
    ARCHITECTURES,
    HubReference,
    PretrainedModelError,
    cache_dir,
    check_safetensors,
    read_architecture,
    repo_folder,
)
from vqadesk.engine.torch_free.model_kind import ModelKind

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class DownloadedModel:
    """One cached revision vqadesk can load; ``reference`` is the shortest name that means it."""

    reference: HubReference
    commit: str
    refs: tuple[str, ...]  # the revision names that point to it: main, refs/pr/9...
    architecture: str
    kind: ModelKind
    size_on_disk: int
    folder: Path  # the snapshot folder

    @property
    def repo_id(self) -> str:
        return self.reference.repo_id


@dataclass(frozen=True)
class Removal:
    """What ``remove`` deleted."""

    reference: HubReference
    commits: tuple[str, ...]
    freed_bytes: int


def downloaded_models() -> list[DownloadedModel]:
    """The loadable revisions in the cache, by repository then reference; [] when there is no cache."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        scanned = scan_cache_dir(cache_dir())
    except CacheNotFound:
        return []
    found = []
    for repo in scanned.repos:
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            model = _loadable(repo.repo_id, revision)
            if model is not None:
                found.append(model)
    return sorted(found, key=lambda model: (model.repo_id.casefold(), model.reference.text))


def removal_bytes(reference: HubReference | str) -> int:
    """How many bytes ``remove(reference)`` would free (what to show before asking)."""
    reference = as_reference(reference)
    folder = _cached_folder(reference)
    if reference.revision is None:
        return _bytes_under(folder)
    return _revision_deletion(reference, folder)[1].expected_freed_size


def remove(reference: HubReference | str) -> Removal:
    """Delete ``reference`` from the cache: the whole repository, or one revision when it names one."""
    reference = as_reference(reference)
    folder = _cached_folder(reference)
    if reference.revision is None:
        commits = tuple(sorted(path.name for path in (folder / "snapshots").glob("*") if path.is_dir()))
        freed = _bytes_under(folder)
        shutil.rmtree(folder)
        shutil.rmtree(cache_dir() / ".locks" / folder.name, ignore_errors=True)
        return Removal(reference, commits, freed)
    commit, strategy = _revision_deletion(reference, folder)
    strategy.execute()
    return Removal(reference, (commit,), strategy.expected_freed_size)


def _cached_folder(reference: HubReference) -> Path:
    folder = repo_folder(reference.repo_id)
    if not folder.is_dir():
        raise NotInCacheError(f"{reference.text} is not in the Hugging Face cache ({cache_dir()})")
    return folder


def _revision_deletion(reference: HubReference, folder: Path):
    """The revision's commit and huggingface_hub's plan to delete it (its blobs no other revision uses)."""
    from huggingface_hub import scan_cache_dir

    commit = _commit_of(folder, reference.revision or "")
    if commit is None or not (folder / "snapshots" / commit).is_dir():
        raise NotInCacheError(
            f"{reference.text}: revision {reference.revision!r} is not in the Hugging Face cache ({cache_dir()})"
        )
    return commit, scan_cache_dir(cache_dir()).delete_revisions(commit)


def _loadable(repo_id: str, revision) -> DownloadedModel | None:
    folder = Path(revision.snapshot_path)
    refs = tuple(sorted(revision.refs))
    reference = _reference_for(repo_id, revision.commit_hash, refs)
    try:
        architecture = read_architecture(folder, reference.text)
        check_safetensors(folder, reference.text)
    except PretrainedModelError:
        return None  # another architecture, pickled weights, or a download still under way
    return DownloadedModel(
        reference=reference,
        commit=revision.commit_hash,
        refs=refs,
        architecture=architecture,
        kind=ARCHITECTURES[architecture],
        size_on_disk=revision.size_on_disk,
        folder=folder,
    )


def _reference_for(repo_id: str, commit: str, refs: tuple[str, ...]) -> HubReference:
    """``hf:ORG/NAME`` when that is what the revision is, else ``@`` its first ref, else ``@`` its commit."""
    if default_revision(repo_id) in refs:
        return HubReference(repo_id)
    return HubReference(repo_id, refs[0] if refs else commit)


def _commit_of(folder: Path, revision: str) -> str | None:
    if _COMMIT.match(revision):
        return revision
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if _COMMIT.match(commit) else None


def _bytes_under(folder: Path) -> int:
    """Bytes of the files under ``folder``, links not followed (the blobs are counted once)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total

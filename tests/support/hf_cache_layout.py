"""A saved model folder put into the Hugging Face hub cache's layout, as a download leaves it.

    $HF_HUB_CACHE/models--ORG--NAME/
        blobs/<sha256 of each file>          the files' bytes
        snapshots/<40-hex commit>/<file>     symbolic links to the blobs (copies where links fail)
        refs/<revision>                      the commit hash the revision pointed at

so that ``hf:ORG/NAME@REVISION`` (and ``hf:ORG/NAME@<commit>``) resolves offline through the same
code as a real download. ``tests/conftest.py`` gives every test its own ``HF_HUB_CACHE``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def cache_root() -> Path:
    """The hub cache folder the test's environment names (``HF_HUB_CACHE``, set per test)."""
    return Path(os.environ["HF_HUB_CACHE"])


def commit_of(repo_id: str, revision: str) -> str:
    """A stable 40-hex commit hash for ``repo_id`` at ``revision`` (what the Hub would have named)."""
    return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()


def put_in_cache(folder: Path, repo_id: str, revision: str = "main", *, cache: Path | None = None) -> Path:
    """Place every file of ``folder`` as ``repo_id`` at ``revision``; return the snapshot folder."""
    repo = (cache or cache_root()) / ("models--" + repo_id.replace("/", "--"))
    commit = commit_of(repo_id, revision)
    snapshot = repo / "snapshots" / commit
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for source in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = source.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            blob.write_bytes(data)
        target = snapshot / source.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.symlink_to(os.path.relpath(blob, target.parent))
        except OSError:  # file systems without symbolic links: the Hub's own client copies too
            shutil.copyfile(blob, target)
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")
    return snapshot

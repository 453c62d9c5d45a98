"""A batch job shared by the processes of a torchrun job: one progress file per rank, merged by rank 0.

``torchrun --nproc-per-node N -m vqadesk predict captions|vqa --images DIR --out FILE`` runs
``N`` copies of the command (``cli/predict_shards.py`` drives them). Each rank
writes its own progress file, ``FILE.rank-00003.progress.jsonl`` (the same
format as ``FILE.progress.jsonl``: settings, then one line per photo,
fsync'ed), so no two processes ever append to one file. Rank 0 alone writes
the job's own progress file, by ``merge_rank_files``: every rank file's
final results (``iter_results``) whose photo the job's file does not hold
yet are appended to it, photo by photo (a photo's answer rows stay on one
line), then the rank file is removed. Merging twice appends nothing twice,
so a kill during a merge loses nothing. ``take_up`` does it before any run,
with or without torchrun, so a job whose ranks were killed goes on however
it is run again.

``share`` is the rule that splits the photos still to do: rank ``r`` takes
every ``N``-th of them from the ``r``-th, so ranks get the same number of
photos within one, whatever the folder's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vqadesk.engine.torch_free.batch.photos import Photo
from vqadesk.engine.torch_free.batch.progress import (
    SUFFIX,
    ProgressFile,
    SettingsMismatchError,
    group_by_photo,
    iter_results,
)
from vqadesk.engine.torch_free.batch.records import BatchSettings, FailedPhoto, PhotoResult
from vqadesk.jsonio import PathLike

MERGE_PHOTOS = 256  # photos appended (and fsync'ed) at a time while merging


def rank_progress_path(out: PathLike, rank: int) -> Path:
    """``results.json`` -> ``results.json.rank-00003.progress.jsonl``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.name}.rank-{rank:05d}{SUFFIX}")


def rank_files(out: PathLike) -> list[Path]:
    """The rank progress files beside ``out`` that earlier or current ranks left, in rank order."""
    out = Path(out)
    return sorted(out.parent.glob(f"{_glob_escape(out.name)}.rank-[0-9][0-9][0-9][0-9][0-9]{SUFFIX}"))


def merge_rank_files(job: ProgressFile, out: PathLike) -> int:
    """Append every rank file's results that ``job`` lacks, then remove the rank file; returns how
    many photos were added. A rank file made with other settings is refused (``SettingsMismatchError``)."""
    added = 0
    for path in rank_files(out):
        settings, results = iter_results(path)
        differences = job.settings.differences(settings)
        if differences:
            raise SettingsMismatchError(path, differences)
        pending: list[PhotoResult] = []
        photos = 0
        for group in group_by_photo(list(results)):
            if group[0].key in job.done:
                continue
            pending.extend(group)
            photos += 1
            if not isinstance(group[0], FailedPhoto):
                added += 1
            if photos == MERGE_PHOTOS:
                job.append(pending)
                pending, photos = [], 0
        if pending:
            job.append(pending)
        path.unlink(missing_ok=True)
    return added


def take_up(progress: PathLike, settings: BatchSettings, out: PathLike, *, restart: bool) -> None:
    """The job's progress file started or taken up (``restart``: emptied, rank files removed), with
    what the ranks of an interrupted torchrun job finished merged into it."""
    with ProgressFile.open(progress, settings, restart=restart) as job:
        if restart:
            for path in rank_files(out):
                path.unlink(missing_ok=True)
        else:
            merge_rank_files(job, out)


def share(photos: Iterable[Photo], done: set[str], rank: int, world_size: int) -> list[Photo]:
    """Rank ``rank``'s photos among those not in ``done``: every ``world_size``-th, from the ``rank``-th."""
    todo = [photo for photo in photos if photo.key not in done]
    return todo[rank::world_size]


def done_keys(path: PathLike) -> set[str]:
    """The photos a progress file holds results for (its failures are tried again)."""
    if not Path(path).exists():
        return set()
    _, results = iter_results(path)
    return {result.key for result in results if not isinstance(result, FailedPhoto)}


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "[]*?" else c for c in name)

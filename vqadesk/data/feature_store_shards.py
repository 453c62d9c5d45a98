"""Which rows of a feature store several processes have finished: the bookkeeping of a sharded extraction.

A plain extraction finishes rows in order, so ``progress.json`` needs one
number (``committed``). Under ``torchrun`` each process (rank) writes its
own rows into the store's preallocated ``features.npy`` (disjoint byte
ranges of one file; on several machines the store must be on a shared file
system) and records them in its own file, so no two processes ever write
the same file::

    STORE/shards/rank-00003.json   rows rank 3 finished in this run: [[first, end], ...] and its skipped images
    STORE/shards/earlier.json      rows finished by earlier runs above progress.json's committed count

Both follow the store's rule: the rows are written and fsync'ed *before* the
file naming them is replaced (atomically). ``consolidate`` folds every such
file into ``progress.json``: the rows finished from row 0 on, without a gap,
become ``committed``; whatever lies beyond a gap (a rank killed halfway
through its share) goes to ``earlier.json``; the rank files are removed.
It is idempotent (a union of row sets), so a kill during it loses nothing.
When every row is done the ``shards`` folder is gone and the store is an
ordinary complete store. ``FeatureStore`` only ever reads ``progress.json``:
rows finished above a gap count as not extracted until a run fills the gap.

``shares`` splits the rows still to do into contiguous blocks, one per rank,
so each rank reads its photos in order and writes one region of the file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqadesk.data.feature_store import PROGRESS, FeatureStoreError, SkippedImage, StoreProgress
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import check_format, field, read_json, write_json_atomic

SHARDS = "shards"
EARLIER = "earlier.json"
SHARD_FORMAT = "vqadesk.feature_store.shard"
SHARD_VERSION = 1

Interval = tuple[int, int]  # rows first..end-1


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, non-overlapping, non-touching intervals covering the same rows."""
    merged: list[list[int]] = []
    for first, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([first, end])
    return [(first, end) for first, end in merged]


def missing_intervals(done: list[Interval], count: int) -> list[Interval]:
    """The rows of ``0..count-1`` that ``done`` (merged) does not cover."""
    missing, position = [], 0
    for first, end in done:
        if first > position:
            missing.append((position, first))
        position = max(position, end)
    if position < count:
        missing.append((position, count))
    return missing


def shares(todo: list[Interval], world_size: int, limit: int | None = None) -> list[list[Interval]]:
    """``todo`` (at most ``limit`` rows of it, from the start) cut into ``world_size`` contiguous
    blocks of equal size (within one row), in row order: rank r's is ``shares(...)[r]``."""
    total = sum(end - first for first, end in todo)
    total = total if limit is None else min(total, limit)
    bounds = [total * rank // world_size for rank in range(world_size + 1)]
    result: list[list[Interval]] = [[] for _ in range(world_size)]
    offset = 0  # position of the interval's first row in the sequence of rows to do
    for first, end in todo:
        for rank in range(world_size):
            low, high = max(bounds[rank], offset), min(bounds[rank + 1], offset + end - first)
            if low < high:
                result[rank].append((first + low - offset, first + high - offset))
        offset += end - first
    return result


@dataclass
class ShardRecord:
    """Rows finished (merged intervals) and the skipped images among them."""

    done: list[Interval]
    skipped: list[SkippedImage]

    @property
    def rows(self) -> int:
        return sum(end - first for first, end in self.done)

    def add(self, first: int, end: int, skipped: Iterable[SkippedImage] = ()) -> None:
        self.done = merge_intervals([*self.done, (first, end)])
        self.skipped.extend(skipped)

    def to_dict(self, count: int) -> dict[str, Any]:
        return {"format": SHARD_FORMAT, "version": SHARD_VERSION, "count": count,
                "done": [list(i) for i in self.done], "skipped": [s.to_dict() for s in self.skipped]}

    def write(self, path: Path, count: int) -> None:
        """Replace ``path`` atomically: call only once the rows it names are on disk (fsync'ed)."""
        write_json_atomic(path, self.to_dict(count))

    @classmethod
    def read(cls, path: Path, count: int) -> ShardRecord:
        data = read_json(path)
        check_format(data, name=SHARD_FORMAT, version=SHARD_VERSION, source=path,
                     what="a vqadesk feature store shard file", version_label="feature store version")
        if field(data, "count", int, path) != count:
            raise FeatureStoreError(f"{path}: made for a store of {data['count']:,} images, this one holds {count:,}")
        done = []
        for index, pair in enumerate(field(data, "done", list, path)):
            if not (isinstance(pair, list) and len(pair) == 2 and all(type(v) is int for v in pair)
                    and 0 <= pair[0] <= pair[1] <= count):
                raise DataFormatError(path, f"expected [first, end] rows within 0..{count}, got {pair!r}",
                                      f"done[{index}]")
            done.append((pair[0], pair[1]))
        skipped = []
        for index, raw in enumerate(field(data, "skipped", list, path)):
            where = f"skipped[{index}]"
            skipped.append(SkippedImage(
                row=field(raw, "row", int, path, where), image_id=field(raw, "image_id", int, path, where),
                file=field(raw, "file", str, path, where), reason=field(raw, "reason", str, path, where),
            ))
        return cls(merge_intervals(done), skipped)


def rank_path(store: Path, rank: int) -> Path:
    return store / SHARDS / f"rank-{rank:05d}.json"


def read_done(store: Path, progress: StoreProgress, count: int) -> ShardRecord:
    """Every row finished: ``progress.json``'s committed prefix, ``earlier.json`` and any rank file."""
    record = ShardRecord(merge_intervals([(0, progress.committed)]), list(progress.skipped))
    folder = store / SHARDS
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            found = ShardRecord.read(path, count)
            record.add(0, 0, found.skipped)
            record.done = merge_intervals([*record.done, *found.done])
    by_row = {s.row: s for s in record.skipped}  # a row skipped in two files is listed once
    record.skipped = [by_row[row] for row in sorted(by_row)]
    return record


def consolidate(store: Path, progress: StoreProgress, count: int) -> tuple[StoreProgress, ShardRecord]:
    """Fold the shard files into ``progress.json``; returns the new progress and every finished row.

    Order (each step safe to repeat after a kill): ``earlier.json`` with all
    rows beyond the gap-free prefix, then ``progress.json``, then the rank
    files are removed (the folder too once nothing lies beyond the prefix).
    """
    folder = store / SHARDS
    if not folder.is_dir():
        return progress, ShardRecord(merge_intervals([(0, progress.committed)]), list(progress.skipped))
    done = read_done(store, progress, count)
    prefix = done.done[0][1] if done.done and done.done[0][0] == 0 else 0
    beyond = ShardRecord([(max(first, prefix), end) for first, end in done.done if end > prefix],
                         [s for s in done.skipped if s.row >= prefix])
    if beyond.done:
        beyond.write(folder / EARLIER, count)
    new = StoreProgress(committed=prefix, skipped=tuple(s for s in done.skipped if s.row < prefix))
    write_json_atomic(store / PROGRESS, new.to_dict(count))
    if beyond.done:
        for path in folder.glob("rank-*.json"):
            path.unlink(missing_ok=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return new, done

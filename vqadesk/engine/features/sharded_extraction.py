"""A feature extraction shared by the processes of a torchrun job: one store, rows written by their owners.

    torchrun --nproc-per-node N -m training.extract_features --images DIR --out STORE ...

Every rank lists the same photos and builds the same network (seeded), so
all agree on the manifest. Then:

1. rank 0 creates the store (or checks that it is the same one, to resume)
   and folds what earlier runs left into ``progress.json``
   (``feature_store_shards.consolidate``); a barrier;
2. every rank reads which rows are done, and takes its contiguous block of
   the rest (``shares``: equal sizes, row order, so each rank reads its photos
   in order and writes one region of ``features.npy``); a barrier, so no
   rank writes before all have read;
3. each rank runs ``extract_rows`` over its block, and after each batch
   fsyncs the rows and then rewrites its own ``shards/rank-R.json``;
4. a barrier; rank 0 consolidates again: when every row is done the store
   is an ordinary complete store, with no trace of the sharding.

A crash of any rank (torchrun then stops the others) loses at most each
rank's batch in hand: the same command, with any number of processes, or a
plain single-process run, takes up every finished row. On CUDA each rank
takes ``cuda:LOCAL_RANK``. The ranks only meet at the three barriers, over
gloo whatever the device: the work itself needs no collective. Rank 0's
events are printed: ``start`` and ``done`` describe the whole store,
``step`` rank 0's own block (``rank``, ``ranks`` say so).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import torch

from vqadesk import __version__
from vqadesk.data.feature_store import FeatureStoreWriter
from vqadesk.data.feature_store_shards import (
    SHARDS,
    ShardRecord,
    consolidate,
    missing_intervals,
    rank_path,
    read_done,
    shares,
)
from vqadesk.engine.device import describe_device, pick_device
from vqadesk.engine.features.feature_extraction import Event, _progress_bar, extract_rows, on_device, prepare
from vqadesk.engine.torch_free.extraction_config import ExtractionConfig
from vqadesk.engine.training.distributed import DistributedContext

# The last barrier waits for the slowest rank's whole block: allow much more than torch's 30 minutes.
BARRIER_TIMEOUT = timedelta(hours=12)


def runs_sharded(config: ExtractionConfig) -> bool:
    """Under torchrun with several processes, or on a store whose sharded extraction is unfinished."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or (Path(config.out).expanduser() / SHARDS).is_dir()


def extract_sharded(config: ExtractionConfig, stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
    started = time.perf_counter()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    context = DistributedContext.from_env(torch.device("cpu"), timeout=BARRIER_TIMEOUT)  # gloo: barriers only
    try:
        device = context.device_for(pick_device(config.device))
        if device.type == "cuda":
            torch.cuda.set_device(device)
        paths, exists, encoder, manifest = prepare(config, device)
        if context.is_main:
            writer = FeatureStoreWriter.open(config.out, manifest)  # created, or checked to be the same store
            writer.check_free_space()
            consolidate(writer.path, writer.progress, manifest.count)
            writer.close()
        context.barrier()
        writer = FeatureStoreWriter.open(config.out, manifest)
        try:
            before = read_done(writer.path, writer.progress, manifest.count)
            plan = shares(missing_intervals(before.done, manifest.count), context.world_size,
                          config.max_images)
            context.barrier()  # everyone has read the plan's inputs: rank files may be written now
            to_do = sum(end - first for share in plan for first, end in share)
            yield {
                "event": "start", "task": "extract_features", "config": config.to_dict(),
                "store": str(writer.path), "images": manifest.count, "already_done": before.rows,
                "to_do": to_do, "feature_shape": list(manifest.feature_shape), "dtype": manifest.dtype,
                "weights": manifest.weights, "precision": manifest.precision, "device": describe_device(device),
                "resumed": before.rows > 0,
                "vqadesk_version": __version__, "ranks": context.world_size,
            }
            own = yield from _extract_share(config, stop, writer, on_device(encoder, device), paths, exists, device,
                                            plan[context.rank], context)
        finally:
            writer.close()
        context.barrier()
        if context.is_main:
            progress, after = consolidate(writer.path, writer.progress, manifest.count)
            elapsed = time.perf_counter() - started
            extracted = after.rows - before.rows - (len(after.skipped) - len(before.skipped))
            yield {
                "event": "done", "store": str(writer.path), "images": manifest.count,
                "committed": progress.committed, "extracted": extracted, "skipped": len(after.skipped),
                "complete": progress.committed == manifest.count,
                "stopped": "request" if own["stopped"] else None, "elapsed_s": elapsed,
                "images_per_s": (after.rows - before.rows) / elapsed if elapsed > 0 else None,
                "ranks": context.world_size,
            }
    finally:
        context.close()


def _extract_share(config, stop, writer: FeatureStoreWriter, encoder, paths, exists, device,
                   share: list[tuple[int, int]], context: DistributedContext):
    """This rank's block: rows written, fsync'ed, then recorded in its shard file; step events."""
    count = writer.manifest.count
    record, path = ShardRecord([], []), rank_path(writer.path, context.rank)
    total = sum(end - first for first, end in share)
    progress = _progress_bar(total, 0) if context.is_main else None
    last_report = loop_started = time.perf_counter()
    stopped = False
    for first, end in share:
        for batch_rows, skipped in extract_rows(config, writer, encoder, paths, exists, device, range(first, end)):
            writer.sync()
            record.add(batch_rows[0], batch_rows[-1] + 1, skipped)
            record.write(path, count)
            for image in skipped:
                yield {"event": "skipped", **image.to_dict()}
            if progress is not None:
                progress.update(len(batch_rows))
            stopped = stop()
            now = time.perf_counter()
            if now - last_report >= config.log_interval_s or record.rows == total or stopped:
                rate = record.rows / max(now - loop_started, 1e-9)
                yield {"event": "step", "rank": context.rank, "ranks": context.world_size, "images": record.rows,
                       "total": total, "skipped": len(record.skipped), "images_per_s": rate,
                       "eta_s": (total - record.rows) / rate if rate > 0 else None}
                last_report = now
            if stopped:
                break
        if stopped:
            break
    if progress is not None:
        progress.close()
    return {"stopped": stopped and record.rows < total}

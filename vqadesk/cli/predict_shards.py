"""``torchrun --nproc-per-node N -m vqadesk predict captions|vqa --images DIR --out FILE ...``: a folder
run shared by N processes (one GPU each on a multi-GPU machine; several machines through torchrun's
rendezvous, the folder and FILE on a shared file system).

Every rank runs the same command; ``run_share`` makes it one job:

1. rank 0 takes up the job's progress file ``FILE.progress.jsonl`` (or starts
   it, or empties it with ``--restart``) and merges into it the rank files an
   interrupted run left (``engine/torch_free/batch/shards.py``); a barrier;
2. every rank reads which photos are done and takes its share of the rest
   (every N-th photo), loads the model (``cuda:LOCAL_RANK`` when the device is
   ``auto`` or ``cuda`` and there is a GPU) and runs the ordinary batch job
   over its share into its own ``FILE.rank-0000R.progress.jsonl``;
3. a barrier; rank 0 merges the rank files and returns, and the command goes
   on as a single-process run would: the results file in ``--format``, the
   caption files, one summary line. The other ranks return None and exit 0.

A crash of any rank (torchrun then stops the others) keeps every photo a rank
finished: the same command, with any number of processes or none, goes on.
The ranks meet only at the two barriers, over gloo whatever the device.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from vqadesk.engine.torch_free.batch import BatchSettings, Finished, ProgressFile, iter_photos
from vqadesk.engine.torch_free.batch.shards import done_keys, merge_rank_files, rank_progress_path, share, take_up
from vqadesk.text.counts import plural

# The last barrier waits for the slowest rank's whole share: allow much more than torch's 30 minutes.
BARRIER_TIMEOUT = timedelta(hours=12)


def run_share(args: argparse.Namespace, settings: BatchSettings, root: Path, out: Path, progress: Path,
              load: Callable[[], object], run: Callable[..., Finished]) -> tuple[float, object] | None:
    """This rank's part of the job (see the module's docstring): on rank 0, once every rank's photos
    are in ``progress``, the seconds this run took and the predictor; None on the others."""
    import torch

    from vqadesk.engine.training.distributed import DistributedContext

    started = time.perf_counter()
    context = DistributedContext.from_env(torch.device("cpu"), timeout=BARRIER_TIMEOUT)  # gloo: barriers only
    try:
        if context.is_main:
            take_up(progress, settings, out, restart=args.restart)
        context.barrier()
        done = done_keys(progress)
        mine = share(iter_photos(root, args.recursive), done, context.rank, context.world_size)
        if context.is_main and done:
            print(f"vqadesk: note: going on from {progress}: {plural(len(done), 'photo')} already done",
                  file=sys.stderr)
        if str(args.device).lower() in ("auto", "cuda") and torch.cuda.is_available():
            torch.cuda.set_device(context.local_rank)  # plain "cuda" is this rank's GPU from here on
        predictor = load()
        run(args, settings, mine, len(mine), rank_progress_path(out, context.rank), predictor, root=root,
            restart=False, bar=context.is_main)
        context.barrier()
        if not context.is_main:
            return None
        with ProgressFile.open(progress, settings) as job:
            merge_rank_files(job, out)
        return time.perf_counter() - started, predictor
    finally:
        context.close()


"""``torchrun --nproc-per-node 2 -m training.extract_features`` on the 15 real fixture photos, on gloo.

Two CPU processes share the photos and write one store that holds what a
single process writes; a rank killed halfway leaves its finished rows, which
a rerun (sharded, or a plain single process) keeps and never recomputes. The
bookkeeping (``feature_store_shards``) is checked on its own first, without
processes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.torchrun import HAS_PROC, kill_rank_when, run, torchrun
from vqadesk.data.feature_store import FEATURES, FeatureStore, SkippedImage, StoreProgress
from vqadesk.data.feature_store_shards import (
    SHARDS,
    ShardRecord,
    consolidate,
    merge_intervals,
    missing_intervals,
    rank_path,
    read_done,
    shares,
)
from vqadesk.errors import VqadeskError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# fp32: the rows of a sharded run and of one process compare within float rounding (batches differ).
SMALL = ["--weights", "none", "--image-size", "64", "--workers", "0", "--log-interval", "0", "--precision", "fp32"]


def test_shares_are_contiguous_equal_and_cover_the_rows_to_do():
    assert shares([(0, 15)], 2) == [[(0, 7)], [(7, 15)]]
    assert shares([(2, 5), (9, 12)], 2) == [[(2, 5)], [(9, 12)]]
    assert shares([(2, 5), (9, 12)], 4) == [[(2, 3)], [(3, 5)], [(9, 10)], [(10, 12)]]
    assert shares([(0, 10)], 3, limit=4) == [[(0, 1)], [(1, 2)], [(2, 4)]]
    assert shares([(0, 1)], 3) == [[], [], [(0, 1)]]  # more ranks than rows: some have nothing
    assert merge_intervals([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]
    assert missing_intervals([(0, 3), (5, 9)], 12) == [(3, 5), (9, 12)]


def test_consolidate_folds_the_gap_free_prefix_into_progress(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    lost = SkippedImage(row=8, image_id=88, file="x.jpg", reason="truncated")
    ShardRecord([(3, 6)], []).write(rank_path(store, 0), 12)
    ShardRecord([(8, 10)], [lost]).write(rank_path(store, 1), 12)
    progress, done = consolidate(store, StoreProgress(committed=3), 12)
    assert progress.committed == 6 and done.done == [(0, 6), (8, 10)]
    assert json.loads((store / "progress.json").read_text())["committed"] == 6
    assert sorted(p.name for p in (store / SHARDS).iterdir()) == ["earlier.json"]  # rank files folded
    again = read_done(store, progress, 12)
    assert again.done == [(0, 6), (8, 10)] and again.skipped == [lost]
    ShardRecord([(6, 8), (10, 12)], []).write(rank_path(store, 5), 12)
    progress, _ = consolidate(store, progress, 12)
    assert progress.committed == 12 and progress.skipped == (lost,) and not (store / SHARDS).exists()


@pytest.fixture(scope="module")
def reference(coco_real, tmp_path_factory) -> np.ndarray:
    """All 15 photos' rows from one plain process: what every sharded run must hold."""
    out = tmp_path_factory.mktemp("reference") / "store"
    done = run([sys.executable, "-m", "training.extract_features", "--images", coco_real, "--out", out,
                 *SMALL, "--batch-size", "4"])
    assert done.returncode == 0, done.stderr[-2000:]
    return _rows(out)


def test_two_ranks_write_one_store_equal_to_a_single_process(coco_real, reference, tmp_path):
    out = tmp_path / "store"
    done = run(_torchrun(coco_real, out, "--batch-size", "4"))
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "start" and events[0]["ranks"] == 2 and events[0]["to_do"] == 15
    steps = [e for e in events if e["event"] == "step"]
    assert steps[-1]["rank"] == 0 and steps[-1]["total"] == 7  # rank 0's block: rows 0..6
    assert events[-1] == {**events[-1], "event": "done", "complete": True, "committed": 15, "extracted": 15}
    assert not (out / SHARDS).exists() and FeatureStore(out).complete
    np.testing.assert_allclose(_rows(out), reference, rtol=2e-3, atol=2e-3)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC, reason="finds the rank's process in /proc")
def test_a_killed_rank_keeps_its_rows_and_any_rerun_finishes_the_store(coco_real, reference, tmp_path):
    out = tmp_path / "store"
    code = kill_rank_when(_torchrun(coco_real, out, "--batch-size", "1"), lambda: _rank_rows(out, 1) >= 1, rank=1)
    assert code != 0  # torchrun reports the dead rank and stops the other
    progress = StoreProgress(committed=json.loads((out / "progress.json").read_text())["committed"])
    finished = read_done(out, progress, 15)
    rank_1 = [(first, end) for first, end in finished.done if end > 7]
    assert rank_1 and sum(end - max(first, 7) for first, end in rank_1) < 8  # killed halfway through rows 7..14
    # Mark the finished rows (a rerun must not touch them) and scribble over the others.
    features = np.lib.format.open_memmap(out / FEATURES, mode="r+")
    done_rows = np.zeros(15, dtype=bool)
    for first, end in finished.done:
        done_rows[first:end] = True
    features[done_rows] = 7.0
    features[~done_rows] = np.nan
    features.flush()
    del features

    plain = run([sys.executable, "-m", "training.extract_features", "--images", coco_real, "--out", out,
                  *SMALL, "--batch-size", "4"])
    assert plain.returncode == 0, plain.stderr[-3000:]
    events = [json.loads(line) for line in plain.stdout.splitlines()]
    assert events[0]["already_done"] == done_rows.sum() and events[0]["to_do"] == 15 - done_rows.sum()
    assert events[-1]["complete"] and not (out / SHARDS).exists()
    rows = _rows(out)
    assert (rows[done_rows] == 7.0).all()
    np.testing.assert_allclose(rows[~done_rows], reference[~done_rows], rtol=2e-3, atol=2e-3)


# -- helpers --------------------------------------------------------------------------------------


def _torchrun(images: Path, out: Path, *options) -> list:
    return torchrun("-m", "training.extract_features", "--images", images, "--out", out, *SMALL, *options)


def _rows(store: Path) -> np.ndarray:
    return FeatureStore(store).read_rows(np.arange(15)).astype(np.float32)


def _rank_rows(store: Path, rank: int) -> int:
    try:
        return ShardRecord.read(rank_path(store, rank), 15).rows
    except (OSError, VqadeskError):  # not written yet: ask again
        return 0

"""Reading an evaluation's maps: opening ``maps.safetensors`` and 1,000 random lookups.

Writes a temporary ``maps.safetensors`` of ``--rows`` VQA maps (8 x 8, as the bundled
models give; a tenth 6 x 10 so two shape groups exist) with the runner's ``MapsWriter``,
then times in one process, ``--repeats`` times on a fresh ``MapsFile`` each:

* **open**: the header read and checked (the call that used to hold the interpreter
  lock 120-400 ms at 40k rows, when the file had one tensor per row);
* **first map**: the ids read and sorted into the lookup, and one map;
* **open + 1,000**: the open and 1,000 random questions' maps (the first included).

Run from the repository root::

    python benchmarks/bench_evaluation_maps.py [--rows 40000 214000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.machine import print_machine  # noqa: E402 - after the path set-up
from vqadesk.engine.torch_free.evaluation_maps import MapsWriter  # noqa: E402
from vqadesk.engine.torch_free.evaluations.maps import MapsFile  # noqa: E402


def write_maps(path: Path, rows: int) -> list[int]:
    """``rows`` question maps with ids from 1,000,000; the ids."""
    rng = np.random.default_rng(0)
    writer = MapsWriter()
    ids = list(range(1_000_000, 1_000_000 + rows))
    for question_id in ids:
        shape = (6, 10) if question_id % 10 == 0 else (8, 8)
        writer.add(question_id, rng.random(shape, dtype=np.float32))
    writer.write(path)
    return ids


def time_once(path: Path, ids: list[int], rng: np.random.Generator) -> tuple[float, float, float]:
    asked = [ids[i] for i in rng.integers(0, len(ids), 1000)]
    start = time.perf_counter()
    maps = MapsFile(path, "vqa")
    maps._open()  # the open alone (header read and checked), as the first lookup does it
    opened = time.perf_counter()
    assert maps.get(asked[0]) is not None
    first = time.perf_counter()
    for question_id in asked[1:]:
        maps.get(question_id)
    return opened - start, first - opened, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[40_000, 214_000])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    print_machine()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        for rows in options.rows:
            path = Path(folder) / f"maps-{rows}.safetensors"
            ids = write_maps(path, rows)
            runs = [time_once(path, ids, rng) for _ in range(options.repeats)]
            opened, first, total = (statistics.median(column) * 1000 for column in zip(*runs))
            print(f"{rows:>8,} rows ({path.stat().st_size / 1e6:.1f} MB): open {opened:.2f} ms, "
                  f"first map {first:.1f} ms, open + 1,000 maps {total:.1f} ms (medians of {options.repeats})")


if __name__ == "__main__":
    main()

"""How long after launch the window is on screen, and when it is ready (models loaded).

Launches ``python -m vqadesk gui`` offscreen on a prepared Shapes world
several times and reads the app's ``VQADESK_REPORT_STARTUP`` lines (wall
clock of the first paint and of ``sig_ready``), measured from just before
the process was spawned: interpreter start-up and every import count.
Run from the repository root: ``python benchmarks/bench_gui_startup.py``.
Target (the app issue): window visible <= 1.5 s after launch.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7


def launch(data_dir: Path, dataset: Path) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VQADESK_DATA_DIR": str(data_dir),
           "VQADESK_REPORT_STARTUP": "1"}
    started = time.time()
    process = subprocess.run(
        [sys.executable, "-m", "vqadesk", "gui", "--dataset", str(dataset), "--quit-after", "20"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    times = {}
    for line in process.stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            times.setdefault(event["event"], event["time"] - started)
    return times


def main() -> None:
    from vqadesk.data.shapes import write_shapes_dataset

    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "shapes"
        write_shapes_dataset(dataset, splits=("train", "val"), n_images=300, seed=0)
        launch(Path(tmp) / "data", dataset)  # warm the file cache once
        runs = [launch(Path(tmp) / "data", dataset) for _ in range(RUNS)]
    shown = [r["window_shown"] for r in runs if "window_shown" in r]
    ready = [r["ready"] for r in runs if "ready" in r]
    print(f"window shown after launch: median {statistics.median(shown):.2f} s, "
          f"min {min(shown):.2f}, max {max(shown):.2f} ({len(shown)} runs)")
    print(f"ready (first image, models loaded): median {statistics.median(ready):.2f} s, "
          f"min {min(ready):.2f}, max {max(ready):.2f}")


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()

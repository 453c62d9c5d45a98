"""How long closing the inference process takes, idle and in the middle of a job that would not end.

``InferenceClient.shutdown`` (the window's close) asks the child to stop; a child busy in a job
cannot read that message, so after ``STOP_JOIN_S`` it is terminated. This times ``shutdown()``
on a worker process without models (no torch), several times each: idle, and with a job running
in the child that only ends when it is stopped (``tests/support/process_jobs.hold_then``).
``tests/gui/test_gui_inference_process.py`` checks that the child is ended; the time is here.

Run from the repository root: ``python benchmarks/bench_inference_shutdown.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, for the child too

from PySide6.QtCore import QCoreApplication

RUNS = 5
WAIT_S = 120  # a bound on each wait, against a hang


def wait(app: QCoreApplication, condition, what: str) -> None:
    end = time.perf_counter() + WAIT_S
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError(f"{what} did not happen within {WAIT_S} s")
        app.processEvents()
        time.sleep(0.001)


def timed_shutdown(app: QCoreApplication, folder: Path | None) -> float:
    """Seconds ``shutdown()`` takes; with ``folder``, while the child runs a job that never ends."""
    from tests.support.process_jobs import hold_then
    from vqadesk.gui.background.inference import InferenceClient

    client = InferenceClient(device="cpu", models=False)
    ready = []
    client.sig_ready.connect(ready.append)
    client.start()
    wait(app, lambda: ready, "the worker process's start")
    if folder is not None:
        started = folder / "started"
        client.submit("slow", hold_then, str(started), str(folder / "never"), "never")
        wait(app, started.exists, "the job's start")
    begun = time.perf_counter()
    client.shutdown()
    return time.perf_counter() - begun


def summary(seconds: list[float]) -> str:
    median = statistics.median(seconds)
    return f"median {median:.2f} s, min {min(seconds):.2f}, max {max(seconds):.2f} ({len(seconds)} runs)"


def main() -> None:
    app = QCoreApplication(sys.argv[:1])
    idle = [timed_shutdown(app, None) for _ in range(RUNS)]
    busy = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            busy.append(timed_shutdown(app, Path(tmp)))
    print(f"shutdown, idle child:        {summary(idle)}")
    print(f"shutdown, child in a job:    {summary(busy)}")


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    main()

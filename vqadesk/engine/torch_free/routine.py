"""Run a training loop as a command-line routine: JSON events out, human text aside.

The contract the Training tab relies on: every line on **stdout** is one JSON
object with an ``"event"`` key (``start``, ``step``, ``epoch``,
``checkpoint``, ``done`` or ``error``); human-readable text and the tqdm
progress bar go to **stderr** only. SIGTERM or SIGINT (the tab's Stop button,
Ctrl+C) asks the loop to finish the current step and save ``last`` before it
exits, so stopping never loses the work done.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from vqadesk.errors import run_entry_point


class StopRequest:
    """Set by a signal handler, read by the loop between steps; ``message`` is what stderr then says."""

    def __init__(self, message: str = "finishing the step and saving `last`…") -> None:
        self.requested = False
        self.message = message

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> None:
        def handler(signum, _frame):
            self.requested = True
            print(f"\nreceived {signal.Signals(signum).name}: {self.message}", file=sys.stderr, flush=True)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/Infinity: report them as null rather than break a reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def emit(event: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(_json_safe(event), ensure_ascii=False, allow_nan=False) + "\n")
    stream.flush()


def run_routine(
    make_events: Callable[[StopRequest], Iterator[dict[str, Any]]],
    *,
    is_main: Callable[[], bool] = lambda: int(os.environ.get("RANK", "0")) == 0,
    stop_message: str | None = None,
) -> int:
    """Drive ``make_events(stop)``; print its events; map failures to an ``error`` event.

    Only rank 0 of a torchrun job prints events. Returns the exit code of
    ``run_entry_point``: 0 on ``done``, 1 on a user error (bad data, options,
    checkpoint), 3 on a bug; the failure's message is also the ``error`` event.
    """
    stop = StopRequest() if stop_message is None else StopRequest(stop_message)
    stop.install()

    def print_events() -> None:
        for event in make_events(stop):
            if is_main():
                emit(event)

    def report(message: str) -> None:
        if is_main():
            emit({"event": "error", "message": message})

    return run_entry_point(print_events, report=report)

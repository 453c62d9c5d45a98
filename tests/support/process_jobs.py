"""Jobs for the worker-process tests: module-level, so a spawned child can import them by name.

Tests that need a job to be running in the child wait for the file it creates when it starts
(``started``), never for a fixed time; a job held open ends when the test creates ``release``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HOLD_LIMIT_S = 600.0  # a held job gives up after this, so a broken test cannot leave a child forever
POLL_S = 0.01


def sleep_then(_pool, seconds: float, value):
    """Sleep in the child, then return ``value``."""
    time.sleep(seconds)
    return value


def hold_then(_pool, started: str, release: str, value):
    """Create the file ``started`` (holding the child's pid), wait until the file ``release``
    exists, then return ``value``.

    Without a ``release`` file the job runs until it is stopped (or ``HOLD_LIMIT_S`` passes).
    """
    announce = Path(f"{started}.part")
    announce.write_text(str(os.getpid()))  # the child's pid; renamed so a reader never sees half of it
    announce.replace(started)
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} never appeared")
        time.sleep(POLL_S)
    return value


def child_pid(_pool) -> int:
    return os.getpid()


def fail(_pool, message: str):
    raise ValueError(message)

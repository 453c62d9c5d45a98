"""Jobs for the worker-process tests: module-level, so a spawned child can import them by name."""

from __future__ import annotations

import os
import time


def sleep_then(_pool, seconds: float, value):
    """Sleep in the child (long enough to be killed or shut down meanwhile), then return ``value``."""
    time.sleep(seconds)
    return value


def child_pid(_pool) -> int:
    return os.getpid()


def fail(_pool, message: str):
    raise ValueError(message)

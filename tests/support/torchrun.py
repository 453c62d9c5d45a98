"""Running ``torchrun`` jobs from tests: the command, waiting on a condition, killing one rank's process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
HAS_PROC = Path("/proc/self/environ").exists()  # kill_rank finds a rank's process there (Linux)


def torchrun(*args, processes: int = 2) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m ARGS...``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
            *[str(a) for a in args]]


def run(command: list, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in command], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def kill_rank_when(command: list, condition: Callable[[], bool], rank: int, timeout: float = 120) -> int:
    """Start ``command``, SIGKILL rank ``rank``'s process as soon as ``condition()`` holds, and return
    torchrun's exit code; AssertionError when the condition never held while the job ran."""
    process = subprocess.Popen([str(a) for a in command], cwd=REPO_ROOT, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, held = time.monotonic() + timeout, False
        while time.monotonic() < deadline and process.poll() is None:
            if condition():
                held = True
                break
            time.sleep(0.005)
        assert held, "the job ended (or timed out) before the condition held"
        _kill_rank(process.pid, rank)
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _kill_rank(torchrun_pid: int, rank: int) -> None:
    """SIGKILL the worker process whose environment says ``RANK=rank``."""
    pending, seen = [torchrun_pid], set()
    while pending:
        pid = pending.pop()
        seen.add(pid)
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        if pid != torchrun_pid and f"RANK={rank}".encode() in environ:
            os.kill(pid, signal.SIGKILL)
            return
        pending.extend(int(child) for child in children if int(child) not in seen)
    raise AssertionError(f"no worker process of rank {rank} found")

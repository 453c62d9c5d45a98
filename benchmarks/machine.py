"""The machine a benchmark ran on, printed first by every benchmark: figures mean nothing without it.

``python benchmarks/NAME.py`` puts this folder on ``sys.path``, so each benchmark imports it as
``machine``. Torch-free (the GUI benchmarks must not load torch in the window's process).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    """The CPU features that change the figures: bf16 in hardware (AVX512-BF16, AMX) or not."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "flags unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    shown = [flag for flag in ("avx512f", "avx512_bf16", "amx_bf16") if flag in flags]
    return ", ".join(shown) if shown else "no AVX-512"


def describe() -> str:
    return (f"{cpu_model()} ({cpu_flags()}), {os.cpu_count()} logical CPUs, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def print_machine() -> None:
    print(f"machine: {describe()}", flush=True)

"""The machine a benchmark ran on, printed first by every benchmark: figures mean nothing without it.

``python benchmarks/NAME.py`` puts this folder on ``sys.path``, so each benchmark imports it as
``machine``. Importing it stays torch-free (the GUI benchmarks must not load torch in the window's
process); only ``matmul_peak`` imports torch, when called.

``matmul_peak`` is the yardstick for "share of the peak": a benchmark measures it in the same run as
its own figures (the peak of a shared or throttled machine moves between runs), for the precision the
measured work ran in (bf16's peak is several times float32's on CPUs with AVX512-BF16 or AMX).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
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
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    native_bf16 = "yes" if flags & {"avx512_bf16", "amx_bf16"} else "no (emulated, slower than float32)"
    return (f"AVX-512 {'yes' if 'avx512f' in flags else 'no'}, "
            f"AVX512-BF16 {'yes' if 'avx512_bf16' in flags else 'no'}, "
            f"AMX-BF16 {'yes' if 'amx_bf16' in flags else 'no'}; native bf16: {native_bf16}")


def describe() -> str:
    return (f"{cpu_model()} ({cpu_flags()}), {os.cpu_count()} logical CPUs, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


_DTYPE_NAMES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
                "fp16": "float16", "float16": "float16"}


def matmul_peak(dtype="float32", *, device: str = "cpu", sizes=(1024, 2048, 3072), repeats: int = 5) -> float:
    """``torch.mm`` GFLOP/s of square matrices in ``dtype``: the median over ``sizes`` of each size's median.

    ``dtype`` is a ``torch.dtype`` or a name (``fp32``/``float32``, ``bf16``/``bfloat16``,
    ``fp16``/``float16``). Uses torch's current thread count, so call it with the threads the
    measured work uses. On CUDA each timing is synchronised. A small-size median rather than
    the best size: the point is what a well-shaped matmul gets on this machine now, not a record.
    """
    import torch  # here, not at the top: the GUI benchmarks import this module without torch

    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise ValueError(f"matmul_peak: unknown dtype {dtype!r} (one of {', '.join(_DTYPE_NAMES)})")
        dtype = getattr(torch, _DTYPE_NAMES[dtype])
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    per_size = []
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        torch.mm(a, b)  # warm-up: thread pool, BLAS dispatch, packing buffers
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            sync()
            times.append(time.perf_counter() - start)
        per_size.append(2 * n**3 / statistics.median(times) / 1e9)
    return statistics.median(per_size)


def print_peaks(dtypes=("float32", "bfloat16"), *, device: str = "cpu") -> dict[str, float]:
    """Measure and print ``matmul_peak`` for each dtype; returns ``{dtype name: GFLOP/s}``."""
    found = {}
    for dtype in dtypes:
        found[dtype] = matmul_peak(dtype, device=device)
        print(f"{dtype} matmul peak on {device} (torch.mm, median of sizes): {found[dtype]:,.0f} GFLOP/s", flush=True)
    return found


def print_machine() -> None:
    print(f"machine: {describe()}", flush=True)

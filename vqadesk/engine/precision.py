"""Mixed precision: ``--precision auto | fp32 | bf16 | fp16`` for extraction, training, evaluation and inference.

``auto`` (``resolve_precision``), the default everywhere, is bf16 on CPUs with native bf16
arithmetic (AVX512-BF16 or AMX), bf16 on CUDA GPUs that support it and fp16 on older ones,
float32 everywhere else (MPS included). ``fp32`` is the choice for exact reproducibility. What
is recorded (feature store manifests, checkpoints, run folders, results, predictions) is always
the resolved precision, never ``auto``; ``settle_precision`` also keeps the precision of a store
or run being resumed. The policy and its measurements: docs/performance.md.

The forward pass and the loss run under ``torch.autocast`` (matrix products
in the low precision, reductions and the loss in float32, PyTorch's own
rules); weights, gradients, the optimiser and validation stay float32.

* ``bf16`` has float32's range, so no loss scaling is needed; on CPUs with
  AVX512-BF16 or AMX it measured 1.4-1.5x the samples/s of float32 for the
  report's bow and lstm models (docs/benchmarks.md); on CPUs without it
  PyTorch emulates it, slower than float32.
* ``fp16`` is CUDA only and uses a ``GradScaler`` against underflowing
  gradients. Its loss scale starts afresh on ``--resume`` (it settles in a
  few steps), so only fp32 and bf16 resume bit-exactly.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from vqadesk.errors import VqadeskError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_RESOLVED = ("fp32", "bf16", "fp16")
_CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class PrecisionError(VqadeskError):
    pass


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` with ``auto`` decided for ``device``: ``fp32``, ``bf16`` or ``fp16``."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def settle_precision(asked: str, device: torch.device, recorded: str | None = None) -> str:
    """The precision a piece of work runs in: ``asked`` resolved for ``device``, checked.

    ``recorded`` is the precision of the store or run being continued: ``auto`` keeps it (one
    store or run never mixes two arithmetics, even resumed on another machine); an explicit
    precision is returned as asked (the caller refuses a change, naming the option to use).
    """
    resolved = recorded if asked == "auto" and recorded is not None else resolve_precision(asked, device)
    check_precision(resolved, device)
    return resolved


def recorded_precision(metadata: dict) -> str:
    """The precision a checkpoint's metadata says its model was trained in.

    ``metadata["precision"]`` where the trainer wrote it; else the recorded training config's
    explicit choice; else ``fp32`` (checkpoints from before mixed precision, bundled models).
    """
    found = metadata.get("precision")
    if found in _RESOLVED:
        return found
    config = metadata.get("training_config")
    found = config.get("precision") if isinstance(config, dict) else None
    return found if found in _RESOLVED else "fp32"


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (``/proc/cpuinfo`` flags; False where unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_CPU_BF16_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def check_precision(precision: str, device: torch.device) -> None:
    """One clear error for a precision the device cannot train in."""
    if precision == "fp16" and device.type != "cuda":
        raise PrecisionError(f"--precision fp16 needs a CUDA GPU (this run is on {device.type}); use bf16 or fp32")
    if precision == "bf16" and device.type == "mps":
        raise PrecisionError("--precision bf16 is not supported on MPS; use fp32")


def autocast(precision: str, device: torch.device):
    """The context to run the forward pass and loss in."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """Loss scaling for fp16; disabled (every call a pass-through) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")

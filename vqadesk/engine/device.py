"""Which torch device to run on, and how to name it to the user.

``pick_device("auto")`` takes the best accelerator this machine has (CUDA,
else Apple's MPS, else the CPU); an explicit ``"cpu"``, ``"cuda"``,
``"cuda:N"`` or ``"mps"`` is honoured or refused with one clear line (the
``--device`` option of the training routines and the command line passes its
value straight through). ``describe_device`` gives the short text the status
bar, the ``start`` event and model cards show: ``"CPU (2 threads)"``,
``"CUDA: NVIDIA H100 80GB HBM3 (79 GiB)"``.
"""

from __future__ import annotations

import re

import torch

from vqadesk.errors import VqadeskError

CHOICES = "auto, cpu, cuda, cuda:N or mps"

_CUDA_INDEXED = re.compile(r"cuda:(\d+)")


class DeviceError(VqadeskError):
    """The device asked for does not exist on this machine (or is misspelt)."""


def pick_device(preference: str | torch.device = "auto") -> torch.device:
    """The torch device for ``preference`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    ``auto`` never fails. An explicit device that this machine or this torch
    build lacks raises ``DeviceError`` saying why, rather than falling back
    silently: someone who asked for the GPU wants to know they are not on it.
    Plain ``cuda`` means the current CUDA device (the one a torchrun process
    selected with ``torch.cuda.set_device``), as in torch itself.
    """
    asked = str(preference).strip().lower()
    if asked == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if asked == "cpu":
        return torch.device("cpu")
    if asked == "cuda":
        _require_cuda(asked)
        return torch.device("cuda")
    indexed = _CUDA_INDEXED.fullmatch(asked)
    if indexed:
        _require_cuda(asked)
        index, count = int(indexed.group(1)), torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"--device {asked}: this machine has {count} CUDA GPU{'s' if count != 1 else ''} "
                f"(cuda:0 to cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if asked in ("mps", "mps:0"):
        if not _mps_available():
            why = "not available on this machine" if _mps_built() else "not built into this torch"
            raise DeviceError(
                f"--device {asked}: Apple's MPS backend is {why} (torch {torch.__version__}; "
                "MPS needs macOS 12.3+ on Apple silicon)"
            )
        return torch.device("mps")
    raise DeviceError(f"--device {preference!s}: unknown device; expected {CHOICES}")


def describe_device(device: str | torch.device) -> str:
    """A short human name for ``device``: ``"CPU (2 threads)"``, ``"CUDA: <GPU> (79 GiB)"``."""
    device = torch.device(device)
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        memory_gib = properties.total_memory / 2**30
        # Name the index only where there is a choice, so the common case reads cleanly.
        label = f"CUDA:{index}" if torch.cuda.device_count() > 1 else "CUDA"
        return f"{label}: {properties.name} ({memory_gib:.0f} GiB)"
    if device.type == "mps":
        return "Apple MPS (Metal GPU)"
    return str(device)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device``, so a clock measures the work and not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _require_cuda(asked: str) -> None:
    if torch.cuda.is_available():
        return
    if torch.version.cuda is None:
        build = f"torch {torch.__version__} built without CUDA"
    else:
        build = f"torch {torch.__version__} built with CUDA {torch.version.cuda}"
    raise DeviceError(f"--device {asked}: no CUDA GPU is available ({build})")


def _mps_available() -> bool:
    # torch.backends.mps exists on every platform's build; guard anyway so an
    # unusual build without it reads as "no MPS" instead of an AttributeError.
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _mps_built() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_built())

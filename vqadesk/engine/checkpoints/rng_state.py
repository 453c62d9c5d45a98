"""The random number streams a training run draws from, captured and restored.

Resuming "exactly where ``last`` stopped" means the next dropout mask, data
order and augmentation come out as they would have in an uninterrupted run,
so a checkpoint records every global generator a run uses: Python's
``random``, numpy's legacy global generator, torch's CPU generator and, when
CUDA has been used, each CUDA device's generator.

In a checkpoint the byte/word arrays go to safetensors (``rng.torch_cpu``,
``rng.numpy_keys``, ``rng.torch_cuda.<i>``) and the rest to JSON (under
``training_state.rng``)::

    {"python": {"version": 3, "internal_state": [625 ints], "gauss_next": null},
     "numpy": {"algorithm": "MT19937", "pos": 624, "has_gauss": 0, "cached_gaussian": 0.0},
     "torch_cuda_devices": 0}

Decoding checks each state by loading it into a throwaway generator, so a
damaged checkpoint fails when it is read, with its file and field named, not
later inside ``restore_rng_state``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import expect, field


@dataclass(frozen=True)
class RngState:
    """Every global random stream of this process at one moment."""

    python: tuple  # random.getstate()
    numpy: tuple  # numpy.random.get_state(legacy=True): ('MT19937', uint32[624], pos, has_gauss, cached)
    torch_cpu: torch.Tensor  # torch.get_rng_state(): uint8
    torch_cuda: tuple[torch.Tensor, ...] = ()  # torch.cuda.get_rng_state_all(), when CUDA was used


def capture_rng_state() -> RngState:
    """The current state of every global generator (copies; later draws do not change it)."""
    cuda_states: tuple[torch.Tensor, ...] = ()
    # Only when CUDA is already in use: asking would otherwise initialise
    # CUDA (seconds, and GPU memory) in a process that runs on the CPU.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda_states = tuple(torch.cuda.get_rng_state_all())
    return RngState(
        python=random.getstate(),
        numpy=np.random.get_state(legacy=True),
        torch_cpu=torch.get_rng_state(),
        torch_cuda=cuda_states,
    )


def restore_rng_state(state: RngState) -> None:
    """Put every global generator back where ``state`` found it.

    CUDA states are restored for the devices this machine has; a run resumed
    on a machine without CUDA simply has no CUDA stream to restore.
    """
    random.setstate(state.python)
    np.random.set_state(state.numpy)
    torch.set_rng_state(state.torch_cpu)
    if state.torch_cuda and torch.cuda.is_available():
        for index, cuda_state in enumerate(state.torch_cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


def encode_rng_state(state: RngState, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The JSON part of ``state``; its arrays are added to ``tensors`` as ``rng.*``."""
    version, internal_state, gauss_next = state.python
    algorithm, keys, pos, has_gauss, cached_gaussian = state.numpy
    # safetensors has no uint32 that every torch build can read back; the
    # words are stored bit for bit as int32 and viewed back as uint32.
    tensors["rng.numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32).copy())
    tensors["rng.torch_cpu"] = state.torch_cpu
    for index, cuda_state in enumerate(state.torch_cuda):
        tensors[f"rng.torch_cuda.{index}"] = cuda_state
    return {
        "python": {"version": version, "internal_state": list(internal_state), "gauss_next": gauss_next},
        "numpy": {
            "algorithm": algorithm,
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch_cuda_devices": len(state.torch_cuda),
    }


def decode_rng_state(
    tree: Any,
    tensors: Mapping[str, torch.Tensor],
    *,
    source: str | os.PathLike[str],
    where: str,
) -> RngState:
    """Rebuild and check what ``encode_rng_state`` wrote; problems name file and field."""
    expect(tree, dict, source, where)
    python = _decode_python(field(tree, "python", dict, source, where), source, f"{where}.python")
    numpy_state = _decode_numpy(field(tree, "numpy", dict, source, where), tensors, source, f"{where}.numpy")
    torch_cpu = _tensor(tensors, "rng.torch_cpu", source, where)
    try:
        torch.Generator().set_state(torch_cpu)
    except (RuntimeError, TypeError) as exc:
        problem = f"tensor 'rng.torch_cpu' is not a torch generator state ({_first_line(exc)})"
        raise DataFormatError(source, problem, where) from None
    cuda_count = field(tree, "torch_cuda_devices", int, source, where)
    cuda_states = []
    for index in range(cuda_count):
        cuda_state = _tensor(tensors, f"rng.torch_cuda.{index}", source, f"{where}.torch_cuda_devices")
        if cuda_state.dtype != torch.uint8 or cuda_state.dim() != 1:
            raise DataFormatError(source, f"tensor 'rng.torch_cuda.{index}' is not a CUDA generator state")
        cuda_states.append(cuda_state)
    return RngState(python=python, numpy=numpy_state, torch_cpu=torch_cpu, torch_cuda=tuple(cuda_states))


def _decode_python(tree: dict, source: str | os.PathLike[str], where: str) -> tuple:
    version = field(tree, "version", int, source, where)
    internal = field(tree, "internal_state", list, source, where)
    for i, word in enumerate(internal):
        expect(word, int, source, f"{where}.internal_state[{i}]")
    gauss_next = tree.get("gauss_next")
    if gauss_next is not None:
        expect(gauss_next, float, source, f"{where}.gauss_next")
        gauss_next = float(gauss_next)
    state = (version, tuple(internal), gauss_next)
    try:
        random.Random().setstate(state)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataFormatError(source, f"not a Python random state ({_first_line(exc)})", where) from None
    return state


def _decode_numpy(
    tree: dict, tensors: Mapping[str, torch.Tensor], source: str | os.PathLike[str], where: str
) -> tuple:
    algorithm = field(tree, "algorithm", str, source, where)
    pos = field(tree, "pos", int, source, where)
    has_gauss = field(tree, "has_gauss", int, source, where)
    cached_gaussian = float(field(tree, "cached_gaussian", float, source, where))
    keys = _tensor(tensors, "rng.numpy_keys", source, where)
    if keys.dtype != torch.int32 or keys.dim() != 1:
        raise DataFormatError(source, "tensor 'rng.numpy_keys' is not a 1-d int32 tensor", where)
    state = (algorithm, keys.numpy().view(np.uint32).copy(), pos, has_gauss, cached_gaussian)
    try:
        np.random.RandomState().set_state(state)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataFormatError(source, f"not a numpy random state ({_first_line(exc)})", where) from None
    return state


def _tensor(tensors: Mapping[str, torch.Tensor], key: str, source: str | os.PathLike[str], where: str) -> torch.Tensor:
    if key not in tensors:
        raise DataFormatError(source, f"needs tensor '{key}', which the safetensors file lacks", where)
    return tensors[key]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

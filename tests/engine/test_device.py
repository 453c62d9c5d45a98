"""Device selection: auto picks the best accelerator; explicit choices are honoured or refused clearly.

Accelerators are simulated by patching torch's availability checks, so every
branch runs on a CPU-only machine; the last tests use a real GPU when present.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from vqadesk.engine.device import DeviceError, describe_device, pick_device
from vqadesk.errors import VqadeskError


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has ``cuda`` GPUs (0 = none) and MPS or not."""

    def configure(*, cuda: int = 0, mps: bool = False, mps_built: bool = False, cuda_build: str | None = "12.4"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps or mps_built)
        monkeypatch.setattr(torch.version, "cuda", cuda_build)

    return configure


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(0, False, torch.device("cpu")), (0, True, torch.device("mps")), (2, True, torch.device("cuda"))],
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert pick_device("auto") == expected
    assert pick_device() == expected


def test_explicit_devices_are_honoured(machine):
    machine(cuda=2, mps=True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    assert pick_device("cuda") == torch.device("cuda")
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert pick_device("mps") == torch.device("mps")


@pytest.mark.parametrize("cuda_build, build_text", [(None, "built without CUDA"), ("12.4", "built with CUDA 12.4")])
def test_asking_for_cuda_without_a_gpu_says_why(machine, cuda_build, build_text):
    machine(cuda=0, cuda_build=cuda_build)
    for asked in ("cuda", "cuda:0"):
        with pytest.raises(DeviceError) as error:
            pick_device(asked)
        assert str(error.value) == (f"--device {asked}: no CUDA GPU is available "
                                    f"(torch {torch.__version__} {build_text})")


def test_a_cuda_index_beyond_the_gpus_lists_the_valid_ones(machine):
    machine(cuda=2)
    with pytest.raises(DeviceError, match=r"--device cuda:2: this machine has 2 CUDA GPUs \(cuda:0 to cuda:1\)"):
        pick_device("cuda:2")


@pytest.mark.parametrize("built, reason",
                         [(False, "not built into this torch"), (True, "not available on this machine")])
def test_asking_for_mps_where_it_is_missing_says_why(machine, built, reason):
    machine(mps=False, mps_built=built)
    with pytest.raises(DeviceError, match=f"--device mps: Apple's MPS backend is {reason}"):
        pick_device("mps")


@pytest.mark.parametrize("asked", ["gpu", "cuda:x", "cuda:-1", "", "tpu"])
def test_unknown_devices_list_the_choices(machine, asked):
    machine(cuda=1)
    with pytest.raises(VqadeskError, match=r"unknown device; expected auto, cpu, cuda, cuda:N or mps"):
        pick_device(asked)


def test_describe_cpu_counts_threads():
    threads = torch.get_num_threads()
    assert describe_device("cpu") == f"CPU ({threads} thread{'s' if threads != 1 else ''})"


def test_describe_cuda_names_the_gpu_and_its_memory(machine, monkeypatch):
    properties = SimpleNamespace(name="NVIDIA H100 80GB HBM3", total_memory=int(79.2 * 2**30))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: properties)
    machine(cuda=1)
    assert describe_device(torch.device("cuda")) == "CUDA: NVIDIA H100 80GB HBM3 (79 GiB)"
    machine(cuda=2)
    assert describe_device("cuda:1") == "CUDA:1: NVIDIA H100 80GB HBM3 (79 GiB)"
    assert describe_device("mps") == "Apple MPS (Metal GPU)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_real_gpu_is_picked_and_named():
    device = pick_device("auto")
    assert device.type == "cuda"
    assert describe_device(device).startswith("CUDA")
    assert torch.ones(2, device=device).sum().item() == 2.0

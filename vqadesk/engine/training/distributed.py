"""PyTorch's own multi-process training, as torchrun starts it.

``torchrun --nproc_per_node=N -m training.vqa ...`` sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; ``DistributedContext.from_env`` joins the
process group (gloo on CPU, NCCL on CUDA) and the training loop wraps the
model in ``DistributedDataParallel``. Without those variables it is a single
process and every helper here is a no-op, so one loop serves both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone validates, writes checkpoints and reports events."""
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device, *, timeout: timedelta | None = None) -> DistributedContext:
        """``timeout``: how long a collective (a barrier) waits for the slowest rank (torch's default
        when None: 30 minutes)."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        context = cls(
            rank=int(os.environ["RANK"]),
            world_size=world_size,
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        )
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend, **({"timeout": timeout} if timeout else {}))
        return context

    def device_for(self, device: torch.device) -> torch.device:
        """One GPU per process under torchrun: cuda:LOCAL_RANK."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def shard(self, indices: list[int]) -> list[int]:
        """This rank's share of an epoch's order, all ranks the same length
        (DistributedSampler's rule: pad by repeating from the start)."""
        if not self.enabled:
            return indices
        per_rank = -(-len(indices) // self.world_size)
        padded = indices + indices[: per_rank * self.world_size - len(indices)]
        return padded[self.rank :: self.world_size]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def step_sync(self, loss: float, halt: bool, device: torch.device) -> tuple[float, bool]:
        """After every step, on every rank: the mean loss over ranks, and whether
        any rank must stop (a stop request, --max-steps). One all-reduce, so
        ranks never disagree about when to report or stop."""
        if not self.enabled:
            return loss, halt
        tensor = torch.tensor([loss, 1.0 if halt else 0.0], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return float(tensor[0].item()) / self.world_size, bool(tensor[1].item() > 0)

    def broadcast_flag(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's decision (stop now, early-stop) for every rank."""
        if not self.enabled:
            return flag
        tensor = torch.tensor([1 if flag else 0], device=device)
        dist.broadcast(tensor, src=0)
        return bool(tensor.item())

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()

"""What the training loop needs from a task (VQA or captioning).

The loop (``trainer.train``) is the same for both; a task supplies the data,
the model, the loss and the validation metric. ``vqa_task.VqaTask`` and
``caption_task.CaptionTask`` implement it.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any, Protocol

import torch
from torch import nn

from vqadesk.engine.torch_free.training_config import TrainingConfig


class TrainingTask(Protocol):
    kind: str  # "vqa" | "captioning": the checkpoint kind
    metric_name: str  # the validation metric that picks `best` and drives early stopping
    train_set: Sized

    def load(self, config: TrainingConfig, metadata: dict[str, Any] | None) -> None:
        """Build the training and validation sets; ``metadata`` (from a resumed
        checkpoint) carries the vocabularies to reuse instead of rebuilding them."""

    def summary(self) -> dict[str, Any]:
        """Dataset sizes, vocabulary sizes, answer coverage: for the start event."""

    def build_model(self) -> nn.Module: ...

    def training_module(self, model: nn.Module) -> nn.Module:
        """The module a training step calls with a batch (images in, outputs out);
        it shares ``model``'s parameters. DistributedDataParallel wraps this one."""

    def model_config(self) -> dict[str, Any]:
        """The model's config as JSON, enough to rebuild it from a checkpoint."""

    def metadata(self) -> dict[str, Any]:
        """Vocabularies, answer list and anything else a checkpoint must carry."""

    def batch(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        """The examples of ``train_set`` items ``indices``, on ``device``; the
        ``length`` tensor has one entry per example (throughput counts them)."""

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        """Metrics on the validation split (or the overfit subset), incl. ``metric_name``."""

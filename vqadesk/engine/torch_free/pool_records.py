"""What a ``ModelPool`` reports about itself and its comparisons: torch-free records.

They live apart from ``model_pool.py`` (which imports torch) because the
desktop app's GUI process receives them from its inference process: reading
one back there imports only this module and ``predictions.py``, never torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.torch_free.predictions import VqaPrediction


@dataclass(frozen=True)
class ComparedAnswer:
    """One model's answer in a comparison: a prediction, or the one-line reason it has none."""

    model: str
    prediction: VqaPrediction | None
    error: str | None


@dataclass(frozen=True)
class LoadedModels:
    """What is loaded now: display names and checkpoint files (None: none), the device, and the
    precision the models run in there (resolved: ``fp32``, ``bf16``, ``fp16``)."""

    vqa: str | None
    captioner: str | None
    device: str
    vqa_path: Path | None = None
    captioner_path: Path | None = None
    precision: str = "fp32"

    @property
    def status_text(self) -> str:
        """What the status bar shows: ``"CPU (2 threads) · bf16"``."""
        return f"{self.device} · {self.precision}"

"""The two kinds of model vqadesk runs: a VQA model and a captioner.

A ``StrEnum``, so a kind is still the plain string that checkpoints, run folders, settings and
events store ("vqa", "captioning"): ``ModelKind("vqa") is ModelKind.VQA`` and
``ModelKind.VQA == "vqa"``.
"""

from __future__ import annotations

from enum import StrEnum


class ModelKind(StrEnum):
    VQA = "vqa"
    CAPTIONING = "captioning"

    @property
    def noun(self) -> str:
        """How messages and the window name a model of this kind: "VQA model", "captioner"."""
        return "VQA model" if self is ModelKind.VQA else "captioner"

    @property
    def routine(self) -> str:
        """The ``python -m`` routine that trains this kind."""
        return f"training.{self.value}"

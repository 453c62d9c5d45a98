"""Tiny real checkpoints for the inference tests, trained once per test session.

A 12-image Shapes world at 64 px and 3 optimisation steps of the real
training loop for a VQA model (attention) and a captioner: real files, real
vocabularies, seconds to make. ``test_predictor.py`` and
``test_cli_inference.py`` share them (the first to ask builds them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from vqadesk.data.shapes import write_shapes_dataset
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.caption_task import CaptionTask
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask

SMALL = {"embed_dim": 32, "hidden_dim": 64, "image_size": 64, "max_steps": 3, "batch_size": 4,
         "device": "cpu", "log_interval_s": 0.0, "epochs": 1}


@dataclass(frozen=True)
class TinyModels:
    shapes: Path  # dataset root with train and val splits
    vqa: Path  # best.json of the VQA run
    captioner: Path  # best.json of the captioning run
    bow: Path  # best.json of a bow VQA run (no attention)

    def images(self, split: str = "val") -> list[Path]:
        return sorted((self.shapes / split).glob("*.png"))


_built: dict[Path, TinyModels] = {}


def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    base = tmp_path_factory.getbasetemp()
    if base not in _built:
        # Tiny models: one intra-op thread is faster than two on a busy 2-core machine.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _built[base] = _build(base / "tiny-inference-models")
        finally:
            torch.set_num_threads(threads)
    return _built[base]


def _build(root: Path) -> TinyModels:
    shapes = root / "shapes"
    write_shapes_dataset(shapes, splits=("train", "val"), n_images=12, seed=5, size=64)
    runs = {}
    for name, task, overrides in (
        ("vqa", "vqa", {"model": "attention"}),
        ("bow", "vqa", {"model": "bow"}),
        ("captioner", "captioning", {"model": "lstm", "max_len": 12, "beam_size": 1}),
    ):
        out = root / name
        config = TrainingConfig(task=task, data=str(shapes), out=str(out), **{**SMALL, **overrides})
        events = list(train(config, VqaTask() if task == "vqa" else CaptionTask()))
        assert events[-1]["event"] == "done", events[-1]
        runs[name] = out / "best.json"
    return TinyModels(shapes=shapes, **runs)

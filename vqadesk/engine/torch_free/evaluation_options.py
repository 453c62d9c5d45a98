"""The options of an evaluation run, shared by ``python -m training.evaluate_model`` and
``vqadesk evaluations run`` (declared once, torch-free, so ``--help`` answers at once)."""

from __future__ import annotations

import argparse

from vqadesk.engine.torch_free.training_config import DEVICES_HELP

PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # engine/precision.py's, without importing torch


def add_evaluation_arguments(parser: argparse.ArgumentParser, *, nice: int = 0) -> None:
    """The options of an evaluation run; ``nice``: the default of ``--nice`` (the routine, which the
    app runs beside its window, takes 10; the command 0)."""
    add = parser.add_argument
    add("--model", required=True, metavar="M",
        help="a model name (shapes-vqa), a checkpoint (runs/x/best.json), hf:ORG/NAME or a model folder")
    add("--data", required=True, metavar="DIR", help="the dataset root (Shapes world or COCO / VQA v2)")
    add("--split", required=True, metavar="S", help="the split to evaluate on (e.g. val); it needs ground truth")
    add("--subset", type=_positive, default=None, metavar="N",
        help="evaluate a random subset of N questions (VQA) or images (captioning)")
    add("--seed", type=_non_negative, default=0, metavar="S", help="the subset's random seed (default 0)")
    add("--precision", choices=PRECISIONS, default="auto",
        help="the model's arithmetic: auto (bf16 on CPUs with native bf16 and on CUDA, else fp32; "
        "docs/performance.md), fp32 for exact reproducibility")
    add("--device", default="auto", metavar="D", help=DEVICES_HELP)
    add("--out-root", default=None, metavar="DIR",
        help="where the evaluation folder is made (default: evaluations/ in the user data folder)")
    add("--batch-size", type=_positive, default=None, metavar="B",
        help="questions (default 64; 16 for pretrained models) or images (default 16; 4) per batch")
    add("--threads", type=_positive, default=None, metavar="N",
        help="CPU threads for torch (default: torch's choice); 1 is much faster for the small Shapes "
        "models on a busy machine (docs/evaluate.md)")
    add("--nice", type=_non_negative, default=nice, metavar="N",
        help=f"lower this process's CPU priority by N (os.nice) so a window on the same cores stays "
        f"responsive, as the app's inference process does (default {nice})")


def _positive(text: str) -> int:
    return _at_least(text, 1)


def _non_negative(text: str) -> int:
    return _at_least(text, 0)


def _at_least(text: str, smallest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < smallest:
        raise argparse.ArgumentTypeError(f"must be at least {smallest}, got {value}")
    return value

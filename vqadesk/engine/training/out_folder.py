"""``--out`` checked before any work: a writable folder with room for a checkpoint.

A read-only ``--out``, an ``--out`` that is a file, or a disk too full for the
first checkpoint used to surface at the end of the first epoch (an internal
error, after an hour of training). ``check_out_folder`` runs before the data
are read; ``check_room_for_checkpoint`` once the model and its optimizer
exist, before the first step. Each raises a ``VqadeskError`` naming the folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from vqadesk.errors import VqadeskError

# A checkpoint holds the weights and the optimizer's state (AdamW keeps two moments
# per weight), plus its JSON; ``best`` is a second one, written later.
OPTIMIZER_COPIES = 2
JSON_ALLOWANCE = 1 << 20


class OutFolderError(VqadeskError):
    """``--out`` cannot hold the run's checkpoints."""


def check_out_folder(out: Path) -> None:
    """Make ``out`` if needed and prove a file can be written there; else one line naming it."""
    if out.exists() and not out.is_dir():
        raise OutFolderError(f"{out}: --out is a file; it takes the folder the run's checkpoints go to")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".vqadesk-write-test-"):
            pass
    except OSError as exc:
        raise OutFolderError(f"{out}: --out is not writable ({exc.strerror or exc})") from None


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """About how many bytes one checkpoint of ``model`` (with its optimizer's state) takes."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return weights + OPTIMIZER_COPIES * trainable + JSON_ALLOWANCE


def check_room_for_checkpoint(out: Path, model: torch.nn.Module) -> None:
    """Refuse to start when ``out``'s disk has no room for one checkpoint of ``model``."""
    needed = checkpoint_bytes(model)
    free = shutil.disk_usage(out).free
    if free < needed:
        raise OutFolderError(f"{out}: --out's disk has {_mib(free)} free; one checkpoint of this model "
                             f"needs about {_mib(needed)}")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MiB"

"""The arithmetic an extraction runs in: ``--precision`` resolved, and kept when a store is resumed.

A new store takes ``resolve_precision`` (``auto``: bf16 on CPUs with native bf16 and on CUDA,
else fp32). A store being resumed keeps the precision its manifest records (``fp32`` for a
store made before it was recorded), so one store never mixes two arithmetics: with ``auto``
the recorded one is taken, even on another machine; an explicit other one is refused by
``FeatureStoreWriter.open`` with the option to use.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vqadesk.data.feature_store import MANIFEST, StoreManifest
from vqadesk.engine.precision import settle_precision
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json


def extraction_precision(asked: str, device: torch.device, out: str | Path) -> str:
    """``fp32``, ``bf16`` or ``fp16`` for an extraction into ``out`` on ``device``, asked ``asked``."""
    return settle_precision(asked, device, _recorded_precision(Path(out).expanduser()))


def _recorded_precision(store: Path) -> str | None:
    """The precision of the store at ``store``, or None when there is none (or it cannot be read:
    opening it for writing says why)."""
    manifest = store / MANIFEST
    if not manifest.is_file():
        return None
    try:
        return StoreManifest.from_dict(read_json(manifest), source=manifest).precision
    except VqadeskError:
        return None

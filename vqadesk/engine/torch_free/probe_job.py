"""The Training tab's probe job: a training run's checkpoint answers the pinned question.

It runs in the desktop app's inference process (``inference_protocol.serve``),
which receives it by reference (module and name), so it lives in a module
that imports neither Qt nor torch at import time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vqadesk.engine.torch_free.predictions import VqaPrediction
from vqadesk.engine.torch_free.training_runs import checkpoint_step
from vqadesk.errors import VqadeskError

TOP_K = 5


def probe_job(pool, snapshot: Path, step: int, image: str, question: str) -> VqaPrediction:
    """The snapshot's answer to ``question`` (``pool``: a ``ModelPool``); the snapshot is removed after."""
    try:
        if checkpoint_step(snapshot) != step:
            raise VqadeskError(f"the checkpoint of step {step} was replaced before the probe could keep it")
        return pool.ask_with(str(snapshot), image, question, top_k=TOP_K)
    finally:
        shutil.rmtree(Path(snapshot).parent, ignore_errors=True)

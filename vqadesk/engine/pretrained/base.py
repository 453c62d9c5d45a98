"""What every pretrained model offers the Predictor, and how its weights are loaded.

The Predictor caches image features per (image, model): ``encode`` turns photos into whatever the
model's later steps need (for BLIP the vision transformer's output, so a second question about
the same photo skips it), one entry per photo; ``caption`` / ``answer`` take those entries.
Everything runs under ``torch.inference_mode`` and the model's precision (``engine/precision.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from vqadesk.engine.torch_free.hub.references import PretrainedModelError, PretrainedSource
from vqadesk.engine.torch_free.predictions import Answer, Caption


@dataclass(frozen=True)
class PretrainedAnswers:
    """One question's top-k answers, best first, and where the model looked: ``(h, w)`` summing to 1, or None."""

    answers: list[Answer]
    attention: np.ndarray | None


class PretrainedModel(ABC):
    """A loaded pretrained model on ``device``, run in ``precision`` (``fp32``, ``bf16`` or ``fp16``)."""

    attention_region: str  # predictions.CENTRE_SQUARE or WHOLE_IMAGE: what its heatmaps cover

    def __init__(self, source: PretrainedSource, device: torch.device, precision: str):
        self.source = source
        self.device = device
        self.precision = precision

    @abstractmethod
    def encode(self, images: Sequence[Image.Image]) -> list[Any]:
        """One cacheable entry per RGB photo: what ``caption`` / ``answer`` need of it."""


class PretrainedCaptioner(PretrainedModel):
    @abstractmethod
    def caption(self, features: Sequence[Any], beam_size: int, num_captions: int) -> list[list[Caption]]:
        """``num_captions`` distinct captions per photo, best first; each word with its probability and map."""


class PretrainedVqa(PretrainedModel):
    @abstractmethod
    def answer(self, features: Sequence[Any], questions: Sequence[str], top_k: int) -> list[PretrainedAnswers]:
        """The ``top_k`` answers to each (photo, question) pair, best first, scores in [0, 1]."""


def load_weights(model_class: type, source: PretrainedSource, device: torch.device) -> torch.nn.Module:
    """``model_class.from_pretrained`` of ``source.folder``, safely: safetensors only, local files only,
    no remote code; float32 weights in eval mode on ``device`` (autocast lowers the arithmetic, not the weights).

    ``attn_implementation="eager"``: the attention maps the heatmaps are made of are only returned
    by the eager implementation.
    """
    model, loading_info = model_class.from_pretrained(
        source.folder,
        local_files_only=True,
        use_safetensors=True,
        trust_remote_code=False,
        attn_implementation="eager",
        dtype=torch.float32,
        output_loading_info=True,
    )
    missing = sorted(loading_info.get("missing_keys") or ())
    if missing:
        # transformers would fill them with random numbers and only log a warning: the model would
        # answer nonsense. (Weights the architecture ties or may leave out are not reported missing.)
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise PretrainedModelError(
            f"{source.name}: the weights in {source.folder} lack {len(missing)} of the model's tensors ({shown}); "
            "the file is incomplete or belongs to another model: download it again"
        )
    return model.to(device).eval()

"""Rebuild the backbone that made a feature store, so a model trained on the store can read photos.

A checkpoint trained with ``--features STORE`` has a ``precomputed`` image
encoder: it reads rows of the store, not pixels. Its metadata keeps the
store's identity (``metadata.image_features``: backbone, layer, image size,
weights with the SHA-256 of the network's tensors, preprocessing, dtype).
``store_backbone(metadata, checkpoint_path)`` builds that network again --
torchvision's ImageNet file from the local cache, a weights file found
beside the checkpoint, or the seeded random network of ``--weights none`` --
checks that its tensors hash to the recorded SHA-256, and returns an encoder
whose output is what the store would hold for a new photo (rounded through
the store's dtype, as training saw it). Nothing is downloaded; a missing or
different weights file is one clear error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vqadesk.errors import VqadeskError


class StoreBackboneError(VqadeskError):
    """The network that made a model's features cannot be rebuilt here."""


@dataclass
class StoreBackbone:
    """A frozen backbone that turns uint8 photos into the features a store-trained model reads."""

    encoder: torch.nn.Module
    image_size: int
    dtype: torch.dtype
    description: str
    draft: bool = False  # the store decoded JPEGs in draft mode: photos must be decoded the same way


    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        features = self.encoder(self.encoder.prepare(images))
        return features.to(self.dtype).float()  # the store's rounding, as in training


def store_backbone(metadata: dict[str, Any], checkpoint_path: str | Path, device: torch.device) -> StoreBackbone:
    """The backbone recorded in ``metadata["image_features"]`` of the checkpoint at ``checkpoint_path``."""
    from vqadesk.engine.features.feature_extraction import build_encoder
    from vqadesk.engine.torch_free.extraction_config import ExtractionConfig

    recorded = metadata.get("image_features") if isinstance(metadata, dict) else None
    if not isinstance(recorded, dict):
        raise StoreBackboneError(
            f"{checkpoint_path}: this model reads precomputed image features and does not record which "
            "network made them, so it cannot read photos; evaluate it on its feature store instead"
        )
    weights = recorded.get("weights") or {}
    kind = weights.get("kind")
    if kind == "imagenet":
        source = "imagenet"
    elif kind == "none":
        source = "none"
    elif kind == "file":
        candidate = Path(checkpoint_path).parent / str(weights.get("file"))
        if not candidate.is_file():
            raise StoreBackboneError(
                f"{checkpoint_path}: its features were made with the weights file {weights.get('file')!r}; "
                f"put that file beside the checkpoint ({candidate}) to ask about photos"
            )
        source = str(candidate)
    else:
        raise StoreBackboneError(f"{checkpoint_path}: field 'metadata.image_features.weights.kind': unknown {kind!r}")
    try:
        config = ExtractionConfig(
            images=".", out=".", backbone=str(recorded.get("backbone")), layer=recorded.get("layer"),
            weights=source, image_size=int(recorded.get("image_size", 224)),
            dtype=str(recorded.get("dtype", "float32")), seed=int(weights.get("seed") or 0),
        )
    except (TypeError, ValueError) as exc:
        raise StoreBackboneError(f"{checkpoint_path}: field 'metadata.image_features': {exc}") from None
    encoder, identity = build_encoder(config)
    if weights.get("sha256") and identity["sha256"] != weights["sha256"]:
        raise StoreBackboneError(
            f"{checkpoint_path}: the {config.backbone} weights found here ({identity.get('file') or source}) are not "
            "the ones its features were made with (their SHA-256 differs); use the same weights file"
        )
    encoder = encoder.to(device).eval()
    dtype = torch.float16 if config.dtype == "float16" else torch.float32
    return StoreBackbone(encoder=encoder, image_size=config.image_size, dtype=dtype,
                         description=f"{config.backbone} {config.layer} at {config.image_size} px",
                         draft=decoded_in_draft_mode(recorded.get("preprocessing")))


def decoded_in_draft_mode(preprocessing: Any) -> bool:
    """Whether a store's recorded preprocessing decoded JPEGs in draft mode (stores made since draft
    decoding; older ones and ``--full-decode`` decoded in full)."""
    from vqadesk.engine.features.feature_extraction import PREPROCESSING

    return isinstance(preprocessing, dict) and preprocessing.get("decode") == PREPROCESSING["decode"]

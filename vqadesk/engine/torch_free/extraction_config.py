"""What a feature extraction is asked to do: one frozen dataclass, checked on creation.

Kept free of torch so ``python -m training.extract_features`` answers ``--help``
and option errors before torch loads (seconds), as the training routines do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vqadesk.errors import VqadeskError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # engine/precision.py's, without importing torch here

# As in vqadesk.models.image_encoder_base (which imports torch); test_extract_features checks they agree.
LAYERS_BY_BACKBONE: dict[str, tuple[str, ...]] = {
    "vgg16": ("fc7", "grid"),
    "resnet50": ("grid", "pooled"),
    "resnet152": ("grid", "pooled"),
}


class ExtractionConfigError(VqadeskError):
    """An extraction option that cannot work."""


@dataclass(frozen=True)
class ExtractionConfig:
    images: str
    out: str
    coco: str | None = None
    backbone: str = "resnet50"
    layer: str | None = None  # None: the backbone's first layer (vgg16 fc7, resnet grid)
    weights: str = "imagenet"
    image_size: int = 224
    batch_size: int = 32
    workers: int = 1
    device: str = "auto"
    dtype: str = "float16"  # what the store holds, whatever the arithmetic
    precision: str = "auto"  # the network's arithmetic (engine/precision.py); the resolved one goes in the manifest
    seed: int = 0  # the random initialisation of --weights none (so a resumed run continues the same network)
    max_images: int | None = None  # stop after this many images in this run (resumable)
    threads: int | None = None
    log_interval_s: float = 2.0
    full_decode: bool = False  # JPEGs decoded in full, not in draft mode (the pixels of stores made before it)

    def __post_init__(self) -> None:
        if self.backbone not in LAYERS_BY_BACKBONE:
            raise ExtractionConfigError(f"--backbone must be one of {', '.join(LAYERS_BY_BACKBONE)}")
        layers = LAYERS_BY_BACKBONE[self.backbone]
        if self.layer is None:
            object.__setattr__(self, "layer", layers[0])
        checks = [
            (self.layer in layers, f"--layer for {self.backbone} must be one of {', '.join(layers)}"),
            (self.dtype in ("float16", "float32"), "--dtype must be float16 or float32"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
            (self.image_size >= 32, "--image-size must be at least 32"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.workers >= 0, "--workers cannot be negative (0 decodes in the main process)"),
            (self.max_images is None or self.max_images >= 1, "--max-images must be at least 1"),
            (self.threads is None or self.threads >= 1, "--threads must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ExtractionConfigError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""Pluggable image encoders: ``build_image_encoder(config)`` and what it can build.

=============  ====================================  =========================================
name           what                                  features
=============  ====================================  =========================================
small_cnn      4 conv blocks + coordinates, trained  grid (B, 130, 8, 8) at 128 px, or pooled
               from scratch (Shapes world default)
vgg16          torchvision VGG-16                    fc7 (B, 4096) or grid (B, 512, 14, 14)
resnet50/152   torchvision ResNet                    grid (B, 2048, 7, 7) or pooled (B, 2048)
precomputed    features computed beforehand (a       as given: (B, D) or (B, D, s, s)
               feature cache), passed through
=============  ====================================  =========================================

See ``image_encoder_base.py`` for the interface, ``weights.py`` for where weights
come from (never downloaded, never unpickled from a user's path).
"""

from __future__ import annotations

import torch
from torch import Tensor

from vqadesk.models.backbones import TorchvisionEncoder
from vqadesk.models.image_encoder_base import (
    IMAGE_ENCODER_NAMES,
    LAYERS_BY_ENCODER,
    ImageEncoder,
    ImageEncoderConfig,
)
from vqadesk.models.small_cnn import SmallCnnEncoder
from vqadesk.models.weights import WeightsError

__all__ = [
    "IMAGE_ENCODER_NAMES",
    "LAYERS_BY_ENCODER",
    "ImageEncoder",
    "ImageEncoderConfig",
    "PrecomputedFeatures",
    "WeightsError",
    "build_image_encoder",
]


class PrecomputedFeatures(ImageEncoder):
    """Features computed beforehand (e.g. a frozen backbone's cache), passed through.

    ``prepare`` takes the features instead of images: (B, D) for vector layers,
    (B, D, s, s) for ``"grid"`` with s = ``config.image_size``. The shape is checked
    so a cache written by another encoder fails here, not deep inside a model.
    """

    def __init__(self, config: ImageEncoderConfig):
        super().__init__(config, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))

    @property
    def output_shape(self) -> tuple[int, int | None]:
        assert self.config.feature_dim is not None  # guaranteed by the config's checks
        return (self.config.feature_dim, self.config.image_size if self.config.gives_grid else None)

    def prepare(self, images: Tensor) -> Tensor:
        channels, side = self.output_shape
        expected = (channels,) if side is None else (channels, side, side)
        if images.dim() != len(expected) + 1 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"expected precomputed features of shape (B, {expected}), got {tuple(images.shape)}"
            )
        return images.to(device=self.pixel_mean.device, dtype=torch.float32)

    def forward(self, prepared: Tensor) -> Tensor:
        return prepared


def build_image_encoder(config: ImageEncoderConfig) -> ImageEncoder:
    """The encoder ``config`` describes, with its weights loaded (``WeightsError`` if they can't be)."""
    if config.name == "small_cnn":
        return SmallCnnEncoder(config)
    if config.name == "precomputed":
        return PrecomputedFeatures(config)
    return TorchvisionEncoder(config)

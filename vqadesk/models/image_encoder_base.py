"""What every image encoder is: its config and the ``ImageEncoder`` interface.

An image encoder turns a batch of uint8 RGB images into features in two steps:

* ``prepare(images)``: (B, 3, H, W) uint8 -> (B, 3, S, S) float on the module's
  device, resized to ``image_size`` (squashed, not cropped: a VQA question may be
  about any corner of the picture) and normalised the way the network expects;
* ``forward(prepared)``: a grid (B, C, h, w) for the ``"grid"`` layer, a vector
  (B, D) for ``"pooled"`` / ``"fc7"``.

``output_shape`` is ``(channels, grid side)`` or ``(dim, None)`` for a vector.
An encoder built with ``trainable=False`` has no trainable parameters and stays in
eval mode whatever its parent's mode (frozen features: BatchNorm statistics and
dropout are those of the pre-trained network).

Concrete encoders: ``small_cnn.py`` (Shapes world), ``backbones.py`` (torchvision
VGG-16 / ResNet-50 / ResNet-152) and ``image_encoders.py`` (precomputed features).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vqadesk.models.config_checks import (
    ConfigError,
    JsonConfig,
    check_bool,
    check_choice,
    check_positive,
)

IMAGE_ENCODER_NAMES = ("small_cnn", "vgg16", "resnet50", "resnet152", "precomputed")
TORCHVISION_BACKBONES = ("vgg16", "resnet50", "resnet152")

# Which feature layers each encoder offers ("fc7" and "pooled" are vectors).
LAYERS_BY_ENCODER: dict[str, tuple[str, ...]] = {
    "small_cnn": ("grid", "pooled"),
    "vgg16": ("fc7", "grid"),
    "resnet50": ("grid", "pooled"),
    "resnet152": ("grid", "pooled"),
    "precomputed": ("grid", "pooled", "fc7"),
}
VECTOR_LAYERS = ("pooled", "fc7")

# The smallest input each network accepts: five stride-2 stages need 32 pixels.
MIN_TORCHVISION_IMAGE_SIZE = 32


@dataclass(frozen=True, kw_only=True)
class ImageEncoderConfig(JsonConfig):
    """Which image encoder, which of its layers, at which size, with which weights.

    ``weights``: ``"none"`` (random initialisation), ``"imagenet"`` (torchvision's
    official weights, read from the local torch hub cache only) or a path to a
    ``.safetensors`` state dict. ``channels``: the small CNN's block widths (one
    stride-2 block each). ``feature_dim``: the channels / size of precomputed
    features; for precomputed ``"grid"`` features ``image_size`` is the grid's side.
    """

    name: str = "small_cnn"
    layer: str = "grid"
    image_size: int = 128
    weights: str = "none"
    trainable: bool = True
    channels: tuple[int, ...] = (16, 32, 64, 128)
    feature_dim: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.name, IMAGE_ENCODER_NAMES, "name")
        check_choice(self.layer, LAYERS_BY_ENCODER[self.name], "layer")
        check_positive(self.image_size, "image_size")
        check_bool(self.trainable, "trainable")
        if not isinstance(self.weights, str) or not self.weights.strip():
            raise ConfigError(
                "weights", f"must be 'none', 'imagenet' or a .safetensors path, got {self.weights!r}"
            )
        if not isinstance(self.channels, tuple) or not self.channels:
            raise ConfigError(
                "channels", f"must be a non-empty list of positive integers, got {self.channels!r}"
            )
        for index, width in enumerate(self.channels):
            check_positive(width, f"channels[{index}]")
        if self.feature_dim is not None:
            check_positive(self.feature_dim, "feature_dim")
        self._check_for_encoder()

    def _check_for_encoder(self) -> None:
        if self.name == "small_cnn":
            smallest = 2 ** len(self.channels)
            if self.image_size < smallest:
                raise ConfigError(
                    "image_size",
                    f"the small CNN with {len(self.channels)} blocks needs >= {smallest}, "
                    f"got {self.image_size}",
                )
            if self.weights == "imagenet":
                raise ConfigError(
                    "weights", "the small CNN has no ImageNet weights; use 'none' or a .safetensors path"
                )
        elif self.name == "precomputed":
            if self.feature_dim is None:
                raise ConfigError(
                    "feature_dim", "precomputed features need their size (channels or vector length)"
                )
            if self.weights != "none":
                raise ConfigError(
                    "weights", f"precomputed features have no weights; use 'none', got {self.weights!r}"
                )
        elif self.image_size < MIN_TORCHVISION_IMAGE_SIZE:
            raise ConfigError(
                "image_size",
                f"{self.name} needs >= {MIN_TORCHVISION_IMAGE_SIZE} pixels, got {self.image_size}",
            )

    @property
    def gives_grid(self) -> bool:
        """True when the features are a spatial grid (B, C, h, w), False for vectors (B, D)."""
        return self.layer == "grid"


class ImageEncoder(nn.Module):
    """Base of every image encoder: ``prepare`` then ``forward`` (see the module docstring)."""

    def __init__(self, config: ImageEncoderConfig, *, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.config = config
        # Buffers so the constants follow .to(device); not persistent, so they stay out
        # of checkpoints (they are a property of the encoder kind, not learnt).
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @property
    def trainable(self) -> bool:
        return self.config.trainable

    @property
    def output_shape(self) -> tuple[int, int | None]:
        """``(channels, grid side)`` for a grid, ``(dim, None)`` for a vector."""
        raise NotImplementedError

    def prepare(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 RGB -> (B, 3, S, S) float, resized and normalised, on this device."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 images, got {images.dtype}")
        size = self.config.image_size
        pixels = images.to(self.pixel_mean.device).float().div_(255.0)
        if pixels.shape[-2:] != (size, size):
            # antialias: shrinking a photo 4x without it aliases fine texture into noise.
            pixels = F.interpolate(
                pixels, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        return (pixels - self.pixel_mean) / self.pixel_std

    def freeze_if_not_trainable(self) -> None:
        """Called by subclasses once their layers exist."""
        if not self.config.trainable:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> ImageEncoder:
        # A frozen encoder keeps eval mode even when the whole VQA model is put in
        # training mode: its BatchNorm statistics and dropout must not change.
        return super().train(mode and self.config.trainable)

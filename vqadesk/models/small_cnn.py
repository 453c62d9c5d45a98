"""A small CNN trained from scratch for the 128-pixel Shapes world.

Four stride-2 conv-BN-ReLU blocks (widths from ``ImageEncoderConfig.channels``,
default 16-32-64-128) take a 128 x 128 image to an 8 x 8 grid; each cell sees
31 pixels, about one Shapes object (20-36 px). About 16 M multiply-adds per image
(32-64-128-128 would be 51 M and train ~2.7x slower on this 2-core CPU for
the same grid), so it trains on a laptop CPU.

Shapes questions ask "is the red circle left of the square?", and a CNN is by
design blind to where in the image a feature sits. So two coordinate channels
(x and y, from -1 at the left / top to +1 at the right / bottom; CoordConv, Liu
et al. 2018) go into the last block's input, letting it mix position into the
features, and are appended to the output grid as its last two channels, so an
attention-weighted sum of the grid carries the attended object's position.
Output: (B, channels[-1] + 2, S/2^n, S/2^n).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from vqadesk.models.image_encoder_base import ImageEncoder, ImageEncoderConfig
from vqadesk.models.weights import load_weights, read_state_dict

COORD_CHANNELS = 2
# Images in [0, 1] minus 0.5: centred, with the scale BatchNorm sorts out anyway.
_CENTRE = (0.5, 0.5, 0.5)
_UNIT = (1.0, 1.0, 1.0)


def coordinate_channels(like: Tensor) -> Tensor:
    """(B, 2, h, w) x and y positions in [-1, 1] for a grid shaped like ``like``."""
    batch, _, height, width = like.shape
    ys = torch.linspace(-1.0, 1.0, height, device=like.device, dtype=like.dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=like.device, dtype=like.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y)).expand(batch, -1, -1, -1)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCnn(nn.Module):
    """The network alone: (B, 3, S, S) normalised -> (B, channels[-1] + 2, S/2^n, S/2^n)."""

    def __init__(self, *, channels: tuple[int, ...]):
        super().__init__()
        widths = (3, *channels)
        blocks = []
        for index in range(len(channels)):
            extra = COORD_CHANNELS if index == len(channels) - 1 else 0
            blocks.append((f"block{index + 1}", _conv_block(widths[index] + extra, widths[index + 1])))
        self.blocks = nn.ModuleDict(OrderedDict(blocks))

    def forward(self, images: Tensor) -> Tensor:
        x = images
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks.values()):
            if index == last:
                x = torch.cat((x, coordinate_channels(x)), dim=1)
            x = block(x)
        return torch.cat((x, coordinate_channels(x)), dim=1)  # (B, C + 2, h, w)


class SmallCnnEncoder(ImageEncoder):
    """``SmallCnn`` as an ``ImageEncoder``: the grid, or its mean over positions ("pooled")."""

    def __init__(self, config: ImageEncoderConfig):
        super().__init__(config, mean=_CENTRE, std=_UNIT)
        self.backbone = SmallCnn(channels=config.channels)
        if config.weights != "none":  # a .safetensors file of SmallCnn's state dict
            load_weights(self.backbone, read_state_dict(config.weights), source=config.weights)
        self.freeze_if_not_trainable()

    @property
    def output_shape(self) -> tuple[int, int | None]:
        channels = self.config.channels[-1] + COORD_CHANNELS
        side = self.config.image_size
        for _ in self.config.channels:
            side = (side + 1) // 2  # a stride-2, padding-1, 3x3 conv: ceil(side / 2)
        return (channels, side if self.config.gives_grid else None)

    def forward(self, prepared: Tensor) -> Tensor:
        grid = self.backbone(prepared)  # (B, C, h, w)
        return grid if self.config.gives_grid else grid.mean(dim=(2, 3))  # (B, C)

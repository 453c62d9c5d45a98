"""Attention over a vision transformer's tokens -> heatmaps over its patch grid, and which part of
the photo that grid covers.

The vision encoders of the supported captioners (BLIP's ViT, GIT's CLIP ViT, a ViT in a
vision-encoder-decoder) emit one token per image patch in row-major order, after one or more
tokens that are no patch (CLS, a distillation token). A map keeps the patch tokens' weights,
shapes them as the patch grid (row 0 at the top of the image) and scales them to sum to 1: the
weight the model gave the non-patch tokens is not a place in the photo.
"""

from __future__ import annotations

import numpy as np
import torch

from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE


def patch_grid(vision_config, num_tokens: int) -> tuple[int, int] | None:
    """``(h, w)`` patches of a vision transformer with ``vision_config`` that emits ``num_tokens`` tokens.

    From the config's ``image_size`` / ``patch_size`` (each an int or a (height, width) pair); an
    encoder whose tokens are not those patches (a hierarchical one that pools them) falls back to
    the square grid its token count makes, with or without one leading CLS token; None when neither fits.
    """
    size, patch = getattr(vision_config, "image_size", None), getattr(vision_config, "patch_size", None)
    if size is not None and patch:
        height, width = _pair(size)
        patch_height, patch_width = _pair(patch)
        grid = (height // patch_height, width // patch_width)
        if 0 < grid[0] * grid[1] <= num_tokens:
            return grid
    for patches in (num_tokens, num_tokens - 1):
        side = int(round(max(patches, 0) ** 0.5))
        if side > 0 and side * side == patches:
            return side, side
    return None


def patch_maps(attention: torch.Tensor, grid: tuple[int, int]) -> np.ndarray:
    """``attention`` ``(..., K)`` over K image tokens -> float32 ``(..., h, w)`` maps, each summing to 1.

    The last ``h * w`` tokens are the patches (the tokens before them, CLS and the like, are
    dropped). A row with no weight on any patch becomes uniform.
    """
    height, width = grid
    patches = attention[..., attention.shape[-1] - height * width:].float().clamp_min(0.0)
    weights = patches.cpu().numpy().astype(np.float64)
    totals = weights.sum(axis=-1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / (height * width))
    usable = np.isfinite(totals) & (totals > 0)
    maps = np.where(usable, weights / np.where(usable, totals, 1.0), uniform)
    return maps.reshape(*maps.shape[:-1], height, width).astype(np.float32)


def attention_region(image_processor) -> str:
    """Which part of the photo the patch grid covers: ``CENTRE_SQUARE`` when the processor crops the
    centre (CLIP's, in GIT: shorter side resized, then the centre square cut out), else
    ``WHOLE_IMAGE`` (BLIP's and ViT's resize the whole photo to a square, without cropping)."""
    return CENTRE_SQUARE if getattr(image_processor, "do_center_crop", False) else WHOLE_IMAGE


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)

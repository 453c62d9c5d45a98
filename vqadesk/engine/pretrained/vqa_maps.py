"""Heatmaps of the pretrained VQA models as the viewer draws them: ``(h, w)`` float32 summing to 1."""

from __future__ import annotations

import numpy as np


def normalised_map(grid: np.ndarray) -> np.ndarray:
    """``grid`` scaled to sum to exactly 1 in float32; a map with no weight at all is uniform."""
    grid = np.clip(np.asarray(grid, dtype=np.float64), 0.0, None)
    total = grid.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(grid.shape, 1.0 / grid.size, dtype=np.float32)
    return (grid / total).astype(np.float32)


def square_grid(weights: np.ndarray) -> np.ndarray:
    """Patch weights of a square patch grid, in row-major order, as ``(side, side)`` summing to 1."""
    side = int(round(len(weights) ** 0.5))
    if side * side != len(weights):
        raise ValueError(f"{len(weights)} patch weights do not make a square grid")
    return normalised_map(np.asarray(weights).reshape(side, side))

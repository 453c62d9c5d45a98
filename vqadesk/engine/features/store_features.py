"""Feature-store rows standing in for images in the training data and the evaluation.

``VqaExamples`` and ``CaptionExamples`` hold their images as ``uint8 (N_img,
3, S, S)``; built with a feature store they hold a ``StoreImages`` instead:
the same row numbering, but each row is read from the memory-mapped store
when a batch asks for it (``gather_images`` dispatches here), so 123k images'
features never sit in memory at once. The model then reads them through
``PrecomputedFeatures`` (``precomputed_encoder``), which checks their shape.

A checkpoint trained this way records ``features_metadata(store)``: the
backbone, layer, weights identity and preprocessing that made the features,
so evaluation can refuse a store made differently (``check_store_matches``)
and the app can encode a new photo the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vqadesk.data.feature_store import FeatureStore, FeatureStoreError, check_compatible
from vqadesk.models.image_encoder_base import ImageEncoderConfig


class StoreImages:
    """Rows ``0..N-1`` = the store's features of ``image_ids[0..N-1]``."""

    def __init__(self, store: FeatureStore, image_ids: Sequence[int], *, what: str = "the images asked about"):
        self.store = store
        self.image_ids = tuple(int(i) for i in image_ids)
        self.store_rows = store.rows_of(self.image_ids, what=what)  # FeatureStoreError names what is missing

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.image_ids), *self.store.feature_shape)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, row) -> torch.Tensor:
        return torch.from_numpy(self.store.read_rows(self.store_rows[[int(row)]])[0])  # (*feature_shape)

    def gather(self, rows: torch.Tensor) -> torch.Tensor:
        """``(B, *feature_shape)`` in the store's dtype (float16 halves the copy to the GPU)."""
        picked = self.store_rows[rows.cpu().numpy().reshape(-1)]
        return torch.from_numpy(self.store.read_rows(picked))


def precomputed_encoder(store: FeatureStore) -> ImageEncoderConfig:
    """The ``precomputed`` image encoder that reads this store's features."""
    shape = store.feature_shape
    layer = store.manifest.layer
    if len(shape) == 3:  # (C, s, s): the grid side goes where a pixel encoder has its image size
        return ImageEncoderConfig(name="precomputed", layer="grid", image_size=shape[1], feature_dim=shape[0])
    return ImageEncoderConfig(name="precomputed", layer=layer if layer in ("fc7", "pooled") else "pooled",
                              image_size=store.manifest.image_size, feature_dim=shape[0])


def features_metadata(store: FeatureStore) -> dict[str, Any]:
    """What a checkpoint records about the features it was trained on."""
    return {"path": str(store.path), **store.manifest.identity()}


def check_store_matches(store: FeatureStore, recorded: dict[str, Any] | None, config: ImageEncoderConfig,
                        *, source: str) -> None:
    """Refuse a store whose features are not the ones a model was trained on."""
    shape = (config.feature_dim, config.image_size, config.image_size) if config.gives_grid else (config.feature_dim,)
    if tuple(store.feature_shape) != shape:
        raise FeatureStoreError(
            f"{store.path}: holds features of shape {tuple(store.feature_shape)} "
            f"({store.manifest.describe()}); {source} reads {shape}"
        )
    if not recorded:
        return
    found = store.manifest.identity()
    for key in ("backbone", "layer", "image_size", "weights", "preprocessing"):
        if key in recorded and recorded[key] != found[key]:
            raise FeatureStoreError(
                f"{store.path}: {store.manifest.describe()}, but {source} was trained on features made with "
                f"{key} {recorded[key]!r}; extract them the same way"
            )


def open_training_stores(
    features: str | None, val_features: str | None, recorded: dict[str, Any] | None
) -> tuple[FeatureStore | None, FeatureStore | None]:
    """The training and validation stores of a run (None, None without ``--features``).

    The validation store must hold the same kind of features as the training
    one; a resumed run's store must be the kind it started with (``recorded``,
    from its checkpoint).
    """
    if features is None:
        return None, None
    train = FeatureStore(features)
    val = FeatureStore(val_features) if val_features is not None else train
    if val is not train:
        check_compatible(train.manifest.identity(), val, what=f"the training store {train.path}")
    if recorded:
        check_compatible(recorded, train, what="the features the resumed run started with")
    return train, val


def require_grid(store: FeatureStore | None, needs_grid: bool, what: str) -> None:
    """A model with attention cannot read vector features: say so before building it."""
    if store is not None and needs_grid and not store.manifest.gives_grid:
        raise FeatureStoreError(
            f"{store.path}: holds {store.manifest.layer} vectors {tuple(store.feature_shape)}; {what} needs a "
            "grid store (extract with --layer grid)"
        )

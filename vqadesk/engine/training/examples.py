"""What the two training example sets share: ``VqaExamples`` and ``CaptionExamples``.

Both hold one split of a dataset root as tensors: every image once (``images``,
uint8 ``(N_img, 3, S, S)``, or a ``StoreImages`` over a feature store), one row
per example pointing into it (``image_rows``), and the vocabularies that encoded
the text. ``ExampleSet`` is their base: items and batches (a subclass gives its own
tensors, ``columns``), pickling for DataLoader workers, the ``first`` view, the
image size; the functions below are the building steps and index checks both use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch.utils.data import Dataset

from vqadesk.data.feature_store import FeatureStore
from vqadesk.engine.features.store_features import StoreImages
from vqadesk.engine.image_tensors import gather_images, load_image_tensors


class ExampleSet(Dataset):
    """Base of the example sets: subclasses give ``columns``, ``subset_arguments`` and ``VOCABULARIES``."""

    # Attribute name -> its vocabulary class (with ``to_dict`` / ``from_dict``).
    VOCABULARIES: ClassVar[dict[str, Any]] = {}
    # How an index out of range is named in the error of ``batch`` and ``subset``.
    INDEX_WORDS: ClassVar[str] = "index"
    split: str
    images: torch.Tensor | StoreImages  # (N_img, 3, S, S) uint8
    image_ids: tuple[int, ...]  # image id of each row of ``images``
    image_rows: torch.Tensor  # (N,) long: each example's row of ``images``
    source: dict[str, Any]

    # Vocabularies hold read-only mapping proxies, which pickle refuses; DataLoader
    # workers started by "spawn" (macOS, Windows) pickle the dataset, so send
    # the vocabularies as their JSON dicts.
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, **{name: getattr(self, name).to_dict() for name in self.VOCABULARIES}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vocabularies = {name: cls.from_dict(state[name]) for name, cls in self.VOCABULARIES.items()}
        self.__dict__.update({**state, **vocabularies})

    def __len__(self) -> int:
        return int(self.image_rows.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = check_index(index, len(self))
        return {
            "image": self.images[self.image_rows[index]],  # (3, S, S) uint8
            **self.columns(index),
            "index": torch.tensor(index, dtype=torch.long),
        }

    def batch(self, indices: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """The items at ``indices`` already stacked, as the default collate would give them.

        Whole-tensor indexing: much faster than collating one dict per item.
        """
        rows = self.rows(indices)
        return {
            "image": gather_images(self.images, self.image_rows[rows]),  # (B, 3, S, S) uint8
            **self.columns(rows),
            "index": rows,
        }

    def columns(self, at: int | torch.Tensor) -> dict[str, torch.Tensor]:
        """The example's own tensors at ``at``: one example's (an index) or stacked (a 1-D tensor of rows)."""
        raise NotImplementedError

    def rows(self, indices: Iterable[int] | torch.Tensor) -> torch.Tensor:
        """``indices`` as a 1-D long tensor of rows (negatives count from the end)."""
        return index_tensor(indices, len(self), what=self.INDEX_WORDS)

    def subset(self, indices: Iterable[int] | torch.Tensor) -> Self:
        """The examples at ``indices``, in that order, sharing images and vocabularies."""
        rows = self.rows(indices)
        view = type(self)(
            split=self.split,
            **{name: getattr(self, name) for name in self.VOCABULARIES},
            images=self.images,
            image_ids=self.image_ids,
            image_rows=self.image_rows[rows],
            **self.subset_arguments(rows),
        )
        view.source = self.source
        return view

    def subset_arguments(self, rows: torch.Tensor) -> dict[str, Any]:
        """The rest of the constructor's arguments for the examples at ``rows``."""
        raise NotImplementedError

    def first(self, n: int) -> Self:
        """The first ``n`` examples (all when there are fewer): ``--overfit N``."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return self.subset(range(min(n, len(self))))

    def sizes(self, examples_name: str) -> dict[str, Any]:
        """The first entries of a ``summary()``: the split, its examples (``examples_name``), its images."""
        return {
            "split": self.split,
            examples_name: len(self),
            "images": int(self.image_rows.unique().numel()),
            "image_size": self.image_size,
        }

    @property
    def image_size(self) -> int:
        """The images' side in pixels (a feature store's: the size its photos were encoded at)."""
        if isinstance(self.images, StoreImages):
            return self.images.store.manifest.image_size
        return int(self.images.shape[-1])


def check_rows(count: int, what: str, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Every named tensor has one row per example (``count`` of ``what``)."""
    for name, tensor in tensors:
        if tensor.shape[0] != count:
            raise ValueError(f"{name} has {tensor.shape[0]} rows for {count} {what}")


def readable_rows(image_ids: np.ndarray, features: FeatureStore | None, drop_unreadable_images: bool) -> np.ndarray:
    """The rows of a split's file to keep: all, or with ``drop_unreadable_images`` those
    whose image the feature store's extraction did not have to skip."""
    rows = np.arange(len(image_ids))
    if features is not None and drop_unreadable_images and features.skipped:
        rows = rows[~np.isin(image_ids, list(features.skipped))]
    return rows


def split_images(
    features: FeatureStore | None,
    image_ids: Sequence[int],
    *,
    what: str,
    image_files: Callable[[], list[Path]],
    image_size: int,
) -> torch.Tensor | StoreImages:
    """The images of ``image_ids``: the feature store's rows, or else the photos of
    ``image_files()`` loaded at ``image_size`` (``what`` names them in a store's errors)."""
    if features is not None:
        return StoreImages(features, list(image_ids), what=what)
    return load_image_tensors(image_files(), image_size)


def index_tensor(indices: Iterable[int] | torch.Tensor, length: int, *, what: str = "index") -> torch.Tensor:
    """``indices`` as a 1-D long tensor of positions in ``0..length-1`` (negatives count from the end)."""
    if not isinstance(indices, torch.Tensor):
        indices = list(indices)
    rows = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
    if rows.numel() and (int(rows.min()) < -length or int(rows.max()) >= length):
        raise IndexError(f"{what} out of range for {length} examples")
    return rows % length if rows.numel() else rows


def check_index(index: int, length: int) -> int:
    """``index`` as a position in ``0..length-1`` (a negative one counts from the end)."""
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} out of range for {length} examples")
    return index % length

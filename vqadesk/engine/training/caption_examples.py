"""Captioning training data: one split of a dataset root, one example per (image, caption).

``CaptionExamples.from_dataset(root, split)`` reads ``annotations/captions_<split>.json``
and the split's images from a COCO-style root (a Shapes world or COCO) and holds:

* ``images`` -- ``uint8 (N_img, 3, S, S)``, every captioned image, loaded once
  (see ``image_tensors``), or, built with a feature store, a ``StoreImages``
  read from the memory-mapped store per batch; ``image_ids[row]`` is the id
  of each row;
* per caption: ``image_rows``, ``captions`` -- token ids ``long (N_cap, T)``:
  ``<start> w1 ... wn <end>`` padded with ``<pad>`` = 0 to ``T = max_len``
  (a caption too long loses its last *words*, never ``<end>``), and
  ``lengths`` -- the ids before the padding, ``<start>`` and ``<end>`` included.

The decoder reads ``captions[:, :-1]`` and predicts ``captions[:, 1:]``; the
loss ignores targets equal to ``<pad>``.

The captions file is read once into compact arrays cached beside it
(``vqadesk.data.caption_arrays``); later runs read the arrays back.

The training split builds the word ``Vocabulary`` from its own captions; a
validation split is given it and encodes unknown words as ``<unk>``.
``references(image_id)`` gives the raw captions of an image for BLEU/CIDEr,
and ``unique_images()`` one item per image, to decode and score each image once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vqadesk.data.array_cache import token_counts
from vqadesk.data.caption_arrays import CaptionArrays, load_caption_arrays
from vqadesk.data.coco import CocoIndex
from vqadesk.data.dataset import DatasetError
from vqadesk.data.feature_store import FeatureStore
from vqadesk.engine.training.examples import ExampleSet, check_index, check_rows, readable_rows, split_images
from vqadesk.text.vocabulary import END_ID, PAD_ID, START_ID, UNK_ID, Vocabulary

PathLike = str | os.PathLike[str]


class CaptionExamples(ExampleSet):
    """One split's captions as tensors; ``examples[i]`` is a dict of tensors.

    Build it with ``from_dataset``; ``subset``/``first`` make smaller views
    sharing the image tensor and the vocabulary.
    """

    VOCABULARIES = {"vocab": Vocabulary}

    def __init__(
        self,
        *,
        split: str,
        vocab: Vocabulary,
        images: torch.Tensor,
        image_ids: Sequence[int],
        image_rows: torch.Tensor,
        captions: torch.Tensor,
        lengths: torch.Tensor,
        word_counts: torch.Tensor,
        caption_texts: Sequence[str],
        references: dict[int, tuple[str, ...]],
    ):
        check_rows(len(caption_texts), "captions", (
            ("image_rows", image_rows),
            ("captions", captions),
            ("lengths", lengths),
            ("word_counts", word_counts),
        ))
        self.split = split
        self.vocab = vocab
        self.images = images  # (N_img, 3, S, S) uint8
        self.image_ids: tuple[int, ...] = tuple(image_ids)  # image id of each row of ``images``
        self.image_rows = image_rows  # (N_cap,) long
        self.captions = captions  # (N_cap, T) long: <start> ... <end> <pad>...
        self.lengths = lengths  # (N_cap,) long, 2..T
        self.word_counts = word_counts  # (N_cap,) long, words before truncation
        self.caption_texts: tuple[str, ...] = tuple(caption_texts)
        self._references = references  # image id -> every raw caption of the image in the split
        self.source: dict[str, Any] = {}  # the captions file (and feature store) these were read from

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_dataset(
        cls,
        root: PathLike,
        split: str,
        *,
        vocab: Vocabulary | None = None,
        max_len: int = 24,
        image_size: int = 128,
        min_word_count: int = 1,
        features: FeatureStore | None = None,
        captions_path: PathLike | None = None,
        drop_unreadable_images: bool = False,
    ) -> CaptionExamples:
        """Read ``split`` of ``root``; the vocabulary, when not given, is built from it.

        ``max_len`` counts ``<start>`` and ``<end>``; words seen fewer than
        ``min_word_count`` times stay out of a vocabulary built here. With
        ``features`` (a feature store) the images are the store's rows and no
        photo is read; with ``drop_unreadable_images`` images the extraction
        skipped are left out. ``captions_path`` replaces
        ``annotations/captions_<split>.json``. The captions are read through
        the compact arrays of ``vqadesk.data.caption_arrays``, cached beside the file.
        """
        if max_len < 2:
            raise ValueError(f"max_len must be at least 2 (<start> and <end>), got {max_len}")
        root = Path(root)
        # Pixels need the COCO index to find the files; it also names a missing annotations/ folder.
        coco = CocoIndex.from_dataset_root(root, split) if features is None else None
        path = Path(captions_path) if captions_path is not None else root / "annotations" / f"captions_{split}.json"
        no_captions = DatasetError(f"{path}: no captions for split '{split}'; captioning needs them")
        if not path.is_file():
            raise no_captions
        arrays = load_caption_arrays(path)
        rows = readable_rows(arrays.image_ids, features, drop_unreadable_images)
        if not len(rows):
            raise no_captions
        if vocab is None:
            counts = token_counts(arrays.tokens, arrays.token_ids, arrays.token_offsets, rows)
            vocab = Vocabulary.from_counts(counts, min_count=min_word_count)
        captions, word_counts = _encode_captions(arrays, rows, vocab, max_len)
        lengths = (captions != PAD_ID).sum(dim=1)

        references: dict[int, list[str]] = {}
        for image_id, row in zip(arrays.image_ids[rows].tolist(), rows.tolist()):
            references.setdefault(image_id, []).append(arrays.texts[row])
        image_ids = list(references)  # captioned images, in the file's image order
        row_of = {image_id: row for row, image_id in enumerate(image_ids)}
        images = split_images(features, image_ids, what=f"the {len(image_ids):,} images of '{split}' captions",
                              image_files=lambda: [coco.image_path(i) for i in image_ids], image_size=image_size)

        examples = cls(
            split=split,
            vocab=vocab,
            images=images,
            image_ids=image_ids,
            image_rows=torch.tensor([row_of[i] for i in arrays.image_ids[rows].tolist()], dtype=torch.long),
            captions=captions,
            lengths=lengths,
            word_counts=word_counts,
            caption_texts=[arrays.texts[row] for row in rows.tolist()],
            references={image_id: tuple(texts) for image_id, texts in references.items()},
        )
        examples.source = {**arrays.describe(), "dropped_captions": len(arrays) - len(rows),
                           "features": features.describe() if features is not None else None}
        return examples

    # -- Dataset ----------------------------------------------------------------------------------

    def columns(self, at: int | torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "caption": self.captions[at],  # (T,) long, or (B, T)
            "length": self.lengths[at],  # () long, or (B,)
        }

    # -- views ------------------------------------------------------------------------------------

    def subset_arguments(self, rows: torch.Tensor) -> dict[str, Any]:
        return {
            "captions": self.captions[rows],
            "lengths": self.lengths[rows],
            "word_counts": self.word_counts[rows],
            "caption_texts": [self.caption_texts[i] for i in rows.tolist()],
            "references": self._references,  # every caption of the split stays a reference
        }

    def unique_images(self) -> CaptionImages:
        """One item per image these captions describe, in first-appearance order."""
        rows = list(dict.fromkeys(self.image_rows.tolist()))
        return CaptionImages(self, torch.tensor(rows, dtype=torch.long))

    # -- metadata ---------------------------------------------------------------------------------

    def image_id_of(self, index: int) -> int:
        """The image id of caption ``index``."""
        return self.image_ids[int(self.image_rows[check_index(index, len(self))])]

    def references(self, image_id: int) -> list[str]:
        """Every raw caption of ``image_id`` in the split (the references for BLEU/CIDEr).

        All of the split's captions, even those a ``subset`` left out: an
        image is scored against its full reference set.
        """
        try:
            return list(self._references[image_id])
        except KeyError:
            raise KeyError(f"image {image_id} has no captions in split '{self.split}'") from None

    def references_by_image(self) -> dict[int, list[str]]:
        """``{image_id: references}`` for the images of these captions (``evaluate_captions``)."""
        return {image_id: self.references(image_id) for image_id in self.unique_images().image_ids}

    @property
    def max_len(self) -> int:
        return int(self.captions.shape[1])

    def summary(self) -> dict[str, Any]:
        """Sizes for the training routine's ``start`` event (JSON-ready)."""
        words = int((self.lengths - 2).sum())
        return {
            **self.sizes("captions"),
            "vocab_size": len(self.vocab),
            "max_len": self.max_len,
            "truncated_captions": int((self.word_counts > self.max_len - 2).sum()),
            "unknown_word_rate": int((self.captions == UNK_ID).sum()) / words if words else 0.0,
            "source": self.source,  # the captions file, its cache, the feature store
        }


class CaptionImages(Dataset):
    """Each image of a ``CaptionExamples`` once: ``{"image", "image_id", "index"}`` per item."""

    def __init__(self, examples: CaptionExamples, rows: torch.Tensor):
        self._examples = examples
        self.rows = rows  # (N,) rows of examples.images

    def __len__(self) -> int:
        return int(self.rows.numel())

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = check_index(index, len(self))
        row = int(self.rows[index])
        return {
            "image": self._examples.images[row],  # (3, S, S) uint8
            "image_id": torch.tensor(self._examples.image_ids[row], dtype=torch.long),
            "index": torch.tensor(index, dtype=torch.long),
        }

    @property
    def image_ids(self) -> tuple[int, ...]:
        return tuple(self._examples.image_ids[row] for row in self.rows.tolist())

    def references(self, image_id: int) -> list[str]:
        return self._examples.references(image_id)


def _encode_captions(
    arrays: CaptionArrays, rows: np.ndarray, vocab: Vocabulary, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``<start> w1 ... wn <end> <pad>...`` ids ``(N, max_len)`` and the word counts before truncation.

    As ``vocab.encode(tokens, max_len=max_len, add_start_end=True, pad=True)``
    per caption, with whole-array lookups: a caption too long loses its last
    words, never ``<end>``.
    """
    lookup = np.array([vocab.token_to_id(token) for token in arrays.tokens] or [UNK_ID], dtype=np.int64)
    starts, ends = arrays.token_offsets[rows], arrays.token_offsets[rows + 1]
    counts = ends - starts
    kept = np.minimum(counts, max_len - 2)
    caption = np.repeat(np.arange(len(rows)), kept)
    position = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
    ids = np.full((len(rows), max_len), PAD_ID, dtype=np.int64)  # (N, T)
    ids[:, 0] = START_ID
    ids[caption, position + 1] = lookup[arrays.token_ids[np.repeat(starts, kept) + position]]
    ids[np.arange(len(rows)), kept + 1] = END_ID
    return torch.from_numpy(ids), torch.from_numpy(counts.astype(np.int64))


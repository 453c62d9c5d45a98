"""A COCO captions file as compact arrays, made once and cached (see ``array_cache``).

``load_caption_arrays(captions_path)`` reads ``captions_<split>.json`` with
the COCO reader the first time (so a damaged file is named exactly as
there), tokenises every caption and keeps, per caption, its image id, its
raw text (the references of BLEU / CIDEr-D) and its tokens as ids into a
file-local token table. Captions come in the order ``CaptionExamples`` has
always used: images in the file's order, each image's captions in file order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.data.array_cache import CacheInfo, cached_arrays, pack_strings, unpack_strings

PathLike = str | os.PathLike[str]

BUILDER_VERSION = 1


def load_caption_arrays(captions_path: PathLike) -> CaptionArrays:
    path = Path(captions_path)
    arrays, info = cached_arrays("captions", [path], lambda: _build(path), builder_version=BUILDER_VERSION)
    return CaptionArrays(
        path=path,
        image_ids=arrays["image_ids"],
        texts=tuple(unpack_strings(arrays["text_utf8"], arrays["text_offsets"])),
        tokens=tuple(unpack_strings(arrays["tokens_utf8"], arrays["tokens_offsets"])),
        token_ids=arrays["token_ids"],
        token_offsets=arrays["token_offsets"],
        cache=info,
    )


def _build(path: Path) -> dict[str, np.ndarray]:
    # Imported here: the COCO index and spaCy are only needed to rebuild.
    from vqadesk.data.coco import CocoIndex
    from vqadesk.text.tokenizer import tokenize_captions

    coco = CocoIndex([path])
    pairs = [(image_id, c.caption) for image_id in coco.image_ids for c in coco.captions(image_id)]
    texts = [text for _, text in pairs]
    table: dict[str, int] = {}
    token_lists = tokenize_captions(texts)
    token_ids = np.fromiter((table.setdefault(t, len(table)) for ts in token_lists for t in ts), dtype=np.int32)
    token_offsets = np.zeros(len(pairs) + 1, dtype=np.int64)
    np.cumsum([len(ts) for ts in token_lists], out=token_offsets[1:])
    text_data, text_offsets = pack_strings(texts)
    token_data, token_table_offsets = pack_strings(list(table))
    return {
        "image_ids": np.array([image_id for image_id, _ in pairs], dtype=np.int64),
        "text_utf8": text_data, "text_offsets": text_offsets,
        "tokens_utf8": token_data, "tokens_offsets": token_table_offsets,
        "token_ids": token_ids, "token_offsets": token_offsets,
    }


@dataclass(frozen=True)
class CaptionArrays:
    """Per caption: ``image_ids``, ``texts`` and tokens (``token_ids`` into ``tokens``, ``token_offsets``)."""

    path: Path
    image_ids: np.ndarray  # (N,) int64
    texts: tuple[str, ...]
    tokens: tuple[str, ...]
    token_ids: np.ndarray  # (total tokens,) int32
    token_offsets: np.ndarray  # (N + 1,) int64
    cache: CacheInfo

    def __len__(self) -> int:
        return len(self.image_ids)

    def describe(self) -> dict[str, Any]:
        return {"captions": str(self.path), "cache": self.cache.to_dict()}

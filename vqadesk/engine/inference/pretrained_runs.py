"""How the Predictor runs pretrained transformers models (``hf:ORG/NAME`` or a model folder).

``load`` resolves a name through ``references.resolve_pretrained`` (None: not a pretrained
model, so the Predictor tries its own checkpoints) and loads it with ``load_pretrained``.
``ask`` and ``caption`` give the Predictor's own records (``VqaPrediction``,
``CaptionPrediction``) with the same timings keys (``load_image``, ``encode``, ``answer`` or
``decode``, ``total``) and the model's ``attention_region``.

Photos go through the Predictor's feature cache like the own models' pixels: read by
``load_image`` (upright, RGB, transparency on white) -- each model's processor then resizes them
its own way -- and ``model.encode`` keyed by the photo's content and the loaded instance
(``encoder_key``, unique per load). For BLIP that entry is the vision transformer's output, so a
second question about a photo skips it (``cached=True``, ``encode`` 0 ms).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from vqadesk.data.images import load_image, to_rgb
from vqadesk.engine.device import synchronize
from vqadesk.engine.pretrained.base import PretrainedCaptioner, PretrainedModel, PretrainedVqa
from vqadesk.engine.pretrained.loading import load_pretrained
from vqadesk.engine.torch_free.hub.references import resolve_pretrained
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction

ImageInput = str | os.PathLike | Image.Image
# The Predictor's cache lookup: (encoder key, images, read one image, encode the missing ones)
# -> (one entry per image, timings with load_image and encode, which came from the cache).
CachedFeatures = Callable[
    [str, Sequence[ImageInput], Callable[[ImageInput], Any], Callable[[list[Any]], list[Any]]],
    tuple[list[Any], dict[str, float], list[bool]],
]

_PIL_SOURCE = Path("<image in memory>")  # how errors about an in-memory image name it
_load_serial = count(1)  # makes every loaded instance's cache key unique


@dataclass(frozen=True)
class LoadedPretrained:
    """A pretrained model ready to run, the name to show for it and its key in the feature cache."""

    name: str
    model: PretrainedModel
    encoder_key: str

    @property
    def path(self) -> Path:
        """The model's folder (a snapshot folder of the Hugging Face cache for ``hf:`` models)."""
        return self.model.source.folder


def load(
    name_or_path: str | os.PathLike[str], kind: ModelKind, device: torch.device, precision: str
) -> LoadedPretrained | None:
    """The pretrained ``kind`` model ``name_or_path`` names, loaded; None when it names none."""
    source = resolve_pretrained(name_or_path, kind)
    if source is None:
        return None
    model = load_pretrained(source, device, precision)
    key = f"pretrained:{source.folder.resolve()}#{next(_load_serial)}|{model.precision}"
    return LoadedPretrained(name=source.name, model=model, encoder_key=key)


def ask(
    loaded: LoadedPretrained, images: Sequence[ImageInput], questions: Sequence[str], top_k: int,
    features: CachedFeatures,
) -> list[VqaPrediction]:
    """One prediction per (image, question) pair; checked questions, ``top_k`` >= 1, equal lengths."""
    model = loaded.model
    assert isinstance(model, PretrainedVqa)
    started = time.perf_counter()
    entries, timings, cached = features(loaded.encoder_key, images, read_photo, model.encode)
    answer_started = time.perf_counter()
    found = model.answer(entries, questions, top_k)
    synchronize(model.device)
    timings["answer"] = _ms_since(answer_started)
    timings["total"] = _ms_since(started)
    return [
        VqaPrediction(
            question=question, answers=result.answers, attention=result.attention,
            glimpses=None if result.attention is None else result.attention[None],
            model=loaded.name, timings_ms=dict(timings), cached=cached[row],
            attention_region=model.attention_region, precision=model.precision,
        )
        for row, (question, result) in enumerate(zip(questions, found))
    ]


def caption(
    loaded: LoadedPretrained, images: Sequence[ImageInput], beam_size: int, num_captions: int,
    features: CachedFeatures,
) -> list[CaptionPrediction]:
    """``num_captions`` captions of each image, best first; ``beam_size``, ``num_captions`` >= 1."""
    model = loaded.model
    assert isinstance(model, PretrainedCaptioner)
    started = time.perf_counter()
    entries, timings, cached = features(loaded.encoder_key, images, read_photo, model.encode)
    decode_started = time.perf_counter()
    found = model.caption(entries, beam_size, num_captions)
    synchronize(model.device)
    timings["decode"] = _ms_since(decode_started)
    timings["total"] = _ms_since(started)
    return [
        CaptionPrediction(
            captions=captions, model=loaded.name, timings_ms=dict(timings), cached=cached[row],
            attention_region=model.attention_region, precision=model.precision,
        )
        for row, captions in enumerate(found)
    ]


def read_photo(image: ImageInput) -> Image.Image:
    """The photo as every part of vqadesk reads it: upright 8-bit RGB, transparency on white."""
    if isinstance(image, Image.Image):
        return to_rgb(_PIL_SOURCE, image)
    return load_image(image)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0

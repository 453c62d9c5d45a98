"""What a ``ModelPool`` offers the desktop app, declared without torch: the methods a job may call.

The GUI process never imports torch, so it cannot name ``ModelPool.ask``
itself; it names ``PoolApi.ask`` instead, and the inference process calls
that method on its pool (``inference_protocol.Job``). ``ModelPool``
(``engine/inference/model_pool.py``) inherits from ``PoolApi``, and a test
checks that every method here has the same signature there, so a rename or
a new parameter is followed by both sides.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from vqadesk.engine.torch_free.model_registry import DEFAULT_CAPTIONER_NAME, DEFAULT_VQA_NAME
from vqadesk.engine.torch_free.pool_records import ComparedAnswer, LoadedModels
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction

if TYPE_CHECKING:
    from PIL import Image

    ImageInput = str | os.PathLike | Image.Image  # as ``engine/inference/predictor.py`` defines it


class PoolApi(Protocol):
    """The public methods of ``ModelPool``; see it for what each does."""

    def load_vqa(self, name_or_path: str | os.PathLike[str] | None = DEFAULT_VQA_NAME) -> LoadedModels: ...

    def load_captioner(
        self, name_or_path: str | os.PathLike[str] | None = DEFAULT_CAPTIONER_NAME
    ) -> LoadedModels: ...

    def loaded(self) -> LoadedModels: ...

    def ask(self, image: ImageInput, question: str, top_k: int = 5) -> VqaPrediction: ...

    def ask_many(
        self, images: Sequence[ImageInput], questions: Sequence[str], top_k: int = 5
    ) -> list[VqaPrediction]: ...

    def caption(self, image: ImageInput, beam_size: int = 3, num_captions: int = 1) -> CaptionPrediction: ...

    def caption_many(
        self, images: Sequence[ImageInput], beam_size: int = 3, num_captions: int = 1
    ) -> list[CaptionPrediction]: ...

    def ask_with(
        self, model: str | os.PathLike[str], image: ImageInput, question: str, top_k: int = 5
    ) -> VqaPrediction: ...

    def compare(
        self, models: Sequence[str | os.PathLike[str]], image: ImageInput, question: str, top_k: int = 5
    ) -> list[ComparedAnswer]: ...


# The names of the methods above.
POOL_METHODS = frozenset(
    name for name, value in vars(PoolApi).items() if not name.startswith("_") and inspect.isfunction(value)
)


def pool_method_name(target: object) -> str | None:
    """``PoolApi.ask`` -> "ask"; None for anything that is not one of ``PoolApi``'s methods."""
    name = getattr(target, "__name__", None)
    if name in POOL_METHODS and vars(PoolApi)[name] is target:
        return name
    return None

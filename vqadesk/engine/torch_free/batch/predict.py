"""A chunk of photos through a model: predictions turned into rows, unreadable photos set aside.

``predict_photos(models, photos, settings)`` captions or questions a chunk
with anything that has the ``Predictor``'s (or ``ModelPool``'s)
``caption_many`` / ``ask_many``, so the command line passes its Predictor and
the app runs it in its inference process as a job (a module-level function
taking the pool first, in a torch-free module). It returns one
``CaptionRow``, or one ``AnswerRow`` per question, or a ``FailedPhoto`` for
every photo, in the chunk's order.

``predict_retrying(predict_chunk, photos)`` is the rule that one unreadable
photo never stops a job: the model's batched methods stop at the first
photo they cannot read (an ``ImageLoadError`` naming it: unreadable,
vanished, a decompression bomb), so the chunk is predicted again without it,
until it goes through.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from vqadesk.engine.torch_free.batch.photos import Photo
from vqadesk.engine.torch_free.batch.records import (
    CAPTIONS,
    AnswerRow,
    BatchSettings,
    CaptionRow,
    FailedPhoto,
    PhotoResult,
)
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction
from vqadesk.errors import ImageLoadError

PredictChunk = Callable[[list[Photo]], list[PhotoResult]]


class BatchModels(Protocol):
    """What ``predict_photos`` needs of a Predictor or a ModelPool."""

    def caption_many(self, images: Sequence[Any], beam_size: int = 3,
                     num_captions: int = 1) -> list[CaptionPrediction]: ...

    def ask_many(self, images: Sequence[Any], questions: Sequence[str], *, top_k: int = 5) -> list[VqaPrediction]: ...


def predict_photos(models: BatchModels, photos: Sequence[Photo], settings: BatchSettings) -> list[PhotoResult]:
    """The chunk's rows (or failures), photo by photo; ``settings`` says what to ask."""
    return predict_retrying(lambda chunk: _predict(models, chunk, settings), photos)


def predict_retrying(predict_chunk: PredictChunk, photos: Sequence[Photo]) -> list[PhotoResult]:
    """``predict_chunk(photos)``, again without each photo it cannot read; results in ``photos``' order."""
    remaining = list(photos)
    failed: dict[str, FailedPhoto] = {}
    results: list[PhotoResult] = []
    while remaining:
        try:
            results = predict_chunk(remaining)
            break
        except ImageLoadError as exc:
            bad = next((p for p in remaining if _same_file(p.path, exc.path)), None)
            if bad is None:
                raise  # not one of this chunk's photos: never loop forever
            failed[bad.key] = FailedPhoto(key=bad.key, reason=exc.problem, path=bad.path)
            remaining.remove(bad)
    by_key: dict[str, list[PhotoResult]] = {}
    for result in results:
        by_key.setdefault(result.key, []).append(result)
    ordered: list[PhotoResult] = []
    for photo in photos:
        ordered.extend([failed[photo.key]] if photo.key in failed else by_key.get(photo.key, []))
    return ordered


def _predict(models: BatchModels, photos: list[Photo], settings: BatchSettings) -> list[PhotoResult]:
    images = [str(photo.path) for photo in photos]
    if settings.kind == CAPTIONS:
        found = models.caption_many(images, beam_size=settings.beam, num_captions=settings.num_captions)
        return [caption_row(photo, prediction) for photo, prediction in zip(photos, found)]
    questions = list(settings.questions)
    pairs = [(photo, question) for photo in photos for question in questions]
    answers = models.ask_many([str(photo.path) for photo, _ in pairs], [q for _, q in pairs], top_k=settings.top_k)
    return [answer_row(photo, prediction) for (photo, _), prediction in zip(pairs, answers)]


def caption_row(photo: Photo, prediction: CaptionPrediction) -> CaptionRow:
    """A photo's ``CaptionPrediction`` as its row."""
    return CaptionRow(key=photo.key, path=photo.path, coco_id=photo.coco_id,
                      captions=[(caption.text, float(caption.score)) for caption in prediction.captions],
                      model=prediction.model, precision=prediction.precision)


def answer_row(photo: Photo, prediction: VqaPrediction) -> AnswerRow:
    """A photo's ``VqaPrediction`` for one question as its row."""
    return AnswerRow(key=photo.key, path=photo.path, coco_id=photo.coco_id, question=prediction.question,
                     answer=prediction.best.text, score=float(prediction.best.prob),
                     top_k=[(answer.text, float(answer.prob)) for answer in prediction.answers],
                     model=prediction.model, precision=prediction.precision)


def _same_file(path: Path, named: str) -> bool:
    return str(path) == named or os.path.abspath(path) == os.path.abspath(named)

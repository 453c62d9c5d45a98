"""The jobs the app's Batch tab sends to its other processes: a chunk of photos, an export, sidecars.

They run in a child process (``inference_protocol.serve``), which receives
them by reference (module and name), so they live in a module that imports
neither Qt nor torch. Each takes the pool first: the inference process's
``ModelPool`` for ``predict_chunk_job``, None in the model-less worker that
writes exports and sidecars (seconds of pure Python for a big job, which
must not share the window's interpreter lock).

``predict_chunk_job`` is the command line's chunk (``batch.predict_photos``:
rows, an unreadable photo set aside and the chunk tried again without it),
plus each row's attention map, which the results table lays over the photo
when a row is selected; maps are not kept in the progress file (they would
make it many times larger), so rows of an earlier run have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.engine.torch_free.batch.exports import ExportReport, export_results
from vqadesk.engine.torch_free.batch.photos import Photo
from vqadesk.engine.torch_free.batch.predict import predict_photos
from vqadesk.engine.torch_free.batch.progress import iter_results
from vqadesk.engine.torch_free.batch.records import CAPTIONS, BatchSettings, PhotoResult
from vqadesk.engine.torch_free.batch.sidecars import SidecarReport, write_sidecars
from vqadesk.engine.torch_free.pool_records import LoadedModels
from vqadesk.engine.torch_free.predictions import CaptionPrediction
from vqadesk.errors import VqadeskError

Heatmap = tuple[np.ndarray, str]  # (h, w) map and the region of the photo it covers


@dataclass
class ChunkReply:
    """A chunk's results in the photos' order, and the attention maps of those that have one,
    keyed by (photo key, question or None)."""

    results: list[PhotoResult]
    heatmaps: dict[tuple[str, str | None], Heatmap] = field(default_factory=dict)


def model_in_use(models: LoadedModels | None, kind: str) -> str | None:
    """Which model of the batch ``kind`` (captions, vqa) is loaded: its file, else its name; None: none."""
    if models is None:
        return None
    path, name = (models.captioner_path, models.captioner) if kind == CAPTIONS else (models.vqa_path, models.vqa)
    return str(path) if path is not None else name


def predict_chunk_job(pool, photos: list[Photo], settings: BatchSettings, expected_model: str | None) -> ChunkReply:
    """``photos`` through the pool's active model of ``settings.kind``, which must still be ``expected_model``
    (a model chosen in the Models tab during a job would otherwise finish it with other settings)."""
    now = model_in_use(pool.loaded(), settings.kind)
    if now != expected_model:
        noun = "captioner" if settings.kind == CAPTIONS else "VQA model"
        raise VqadeskError(f"the {noun} in use changed during the batch job (from {expected_model} to {now}); "
                           "Start runs the job again with the model in use")
    recorder = _MapRecorder(pool)
    results = predict_photos(recorder, photos, settings)
    return ChunkReply(results, recorder.maps_of(results))


def export_job(_pool: Any, progress: Path, out: Path, fmt: str) -> ExportReport:
    """The job's results (``progress``: its progress file, edits applied) written to ``out`` in ``fmt``."""
    return export_results(progress, out, fmt)


def sidecars_job(_pool: Any, progress: Path, overwrite: bool) -> SidecarReport:
    """``NAME.txt`` beside each photo of the job (an existing one kept unless ``overwrite``)."""
    _settings, results = iter_results(progress)
    return write_sidecars(results, overwrite=overwrite)


class _MapRecorder:
    """The pool, seen through ``predict_photos``, noting each prediction's attention map on the way."""

    def __init__(self, pool):
        self._pool = pool
        self._maps: dict[tuple[str, str | None], Heatmap] = {}

    def caption_many(self, images: Sequence[Any], beam_size: int = 3, num_captions: int = 1) -> list:
        found = self._pool.caption_many(images, beam_size=beam_size, num_captions=num_captions)
        for image, prediction in zip(images, found):
            grid = _caption_map(prediction)
            if grid is not None:
                self._maps[(str(image), None)] = (grid, prediction.attention_region)
        return found

    def ask_many(self, images: Sequence[Any], questions: Sequence[str], *, top_k: int = 5) -> list:
        found = self._pool.ask_many(images, questions, top_k=top_k)
        for image, question, prediction in zip(images, questions, found):
            if prediction.attention is not None:
                self._maps[(str(image), question)] = (_small(prediction.attention), prediction.attention_region)
        return found

    def maps_of(self, results: list[PhotoResult]) -> dict[tuple[str, str | None], Heatmap]:
        maps = {}
        for result in results:
            question = getattr(result, "question", None)
            found = self._maps.get((str(result.path), question))
            if found is not None:
                maps[(result.key, question)] = found
        return maps


def _caption_map(prediction: CaptionPrediction) -> np.ndarray | None:
    """Where the captioner looked while writing its best caption: the mean of its words' maps."""
    grids = [word.attention for word in prediction.best.words if word.attention is not None]
    if not grids:
        return None
    mean = np.mean(np.stack(grids), axis=0)
    total = float(mean.sum())
    return _small(mean / total if total > 0 else mean)


def _small(grid: np.ndarray) -> np.ndarray:
    return np.asarray(grid, dtype=np.float32)

"""Evaluate any model the app can load on a split, into an evaluation folder: a Qt-free generator of events.

    for event in run_evaluation("shapes-vqa", "~/shapes", "val", subset=500, seed=1):
        ...  # {"event": "start", "total": 500, ...}, {"event": "progress", "done", "total"}, ...

The model is anything ``--model`` takes (``evaluation_model.py``): bundled or user model names,
checkpoints, ``hf:`` references and model folders. It runs through the ``Predictor``, batch by
batch (``ask_many`` / ``caption_many``), exactly as the app and ``vqadesk predict`` answer, so the
evaluation records what the user sees: the top-k answers with their probabilities, the attention
maps, the best beam's caption (beam 3) with its words' maps.

Events: ``start {total, kind, model, label, split, subset, note}``, ``progress {done, total}``
after every batch, then ``done {folder, headline, seconds}``, or ``cancelled {done, total}`` when
``stop()`` turned true between batches (the partial folder is removed). A failure raises (a
``VqadeskError`` for the user's errors); the partial folder is removed either way, so a folder
without ``.partial`` is always whole. ``python -m training.evaluate_model`` prints these events.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from vqadesk.engine.inference.predictor import Predictor
from vqadesk.engine.torch_free.evaluation_folder import PartialFolder
from vqadesk.engine.torch_free.evaluation_items import VqaItems, split_items
from vqadesk.engine.torch_free.evaluation_model import evaluated_model
from vqadesk.engine.torch_free.evaluation_records import CaptionRecords, VqaRecords
from vqadesk.engine.torch_free.evaluations import (
    FORMAT,
    MANIFEST_FILE,
    ROWS_FILE,
    VERSION,
    evaluations_root,
    folder_name,
    read_rows,
)
from vqadesk.engine.torch_free.hub.references import is_pretrained_reference
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE

PathLike = str | os.PathLike[str]
Event = dict[str, Any]

# Questions per ask_many and images per caption_many (one progress event each): the own models
# are small; a pretrained transformer on a CPU takes about a second per question, so smaller
# batches keep the progress (and a stop request) coming.
VQA_BATCH, PRETRAINED_VQA_BATCH = 64, 16
CAPTION_BATCH, PRETRAINED_CAPTION_BATCH = 16, 4
TOP_K = 5
BEAM_SIZE = 3


def run_evaluation(
    model_reference: PathLike,
    dataset: PathLike,
    split: str,
    subset: int | None = None,
    seed: int = 0,
    precision: str = "auto",
    device: str = "auto",
    stop: Callable[[], bool] = lambda: False,
    *,
    out_root: PathLike | None = None,
    batch_size: int | None = None,
    threads: int | None = None,
) -> Iterator[Event]:
    """Evaluate ``model_reference`` on ``split`` of the dataset root ``dataset`` (see the module docstring).

    ``threads``: torch's CPU threads for this process (None: torch's default).
    """
    started = time.perf_counter()
    created = datetime.now(UTC)
    model = evaluated_model(model_reference)
    chosen = split_items(model.kind, dataset, split, subset, seed)
    items = chosen.items
    total = len(items)
    is_vqa = isinstance(items, VqaItems)
    if threads is not None:
        torch.set_num_threads(threads)
    predictor = Predictor(vqa=None, captioner=None, device=device, precision=precision)  # checks the device
    yield {"event": "start", "total": total, "kind": model.kind.value, "model": model.reference,
           "label": model.label, "split": split, "subset": chosen.subset, "note": chosen.note}

    if is_vqa:
        predictor.load_vqa(model.reference)
    else:
        predictor.load_captioner(model.reference)
    root = Path(dataset).resolve()
    records = VqaRecords(items, root) if is_vqa else CaptionRecords(items, root)
    batch = batch_size or _default_batch(is_vqa, is_pretrained_reference(model.reference))
    out = Path(out_root) if out_root is not None else evaluations_root()
    folder = PartialFolder(out / folder_name(created, model.label, split))
    try:
        resolved_precision, region = "fp32", CENTRE_SQUARE
        for start in range(0, total, batch):
            if stop():
                folder.discard()
                yield {"event": "cancelled", "done": start, "total": total}
                return
            images = items.images[start:start + batch]
            if is_vqa:
                predictions = predictor.ask_many(images, items.questions[start:start + batch], top_k=TOP_K)
            else:
                predictions = predictor.caption_many(images, beam_size=BEAM_SIZE)
            resolved_precision, region = predictions[0].precision, predictions[0].attention_region
            records.add(predictions)
            yield {"event": "progress", "done": min(start + batch, total), "total": total}
        metrics = records.write(folder)
        # The store's rows index, built (and every row checked) now, so the tab's first open is fast.
        read_rows(folder.path / ROWS_FILE, model.kind.value)
        headline = records.headline(metrics)
        seconds = round(time.perf_counter() - started, 3)
        folder.write_json(MANIFEST_FILE, {
            "format": FORMAT, "version": VERSION, "kind": model.kind.value,
            "model": {"reference": model.reference, "label": model.label},
            "dataset": str(root), "split": split, "subset": chosen.subset, "count": total,
            "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"), "seconds": seconds,
            "device": _device_name(predictor), "precision": resolved_precision, "headline": headline,
            "has_maps": len(records.maps) > 0, "attention_region": region,
            "ground_truth": _ground_truth(items, model.kind),
        })
        final = folder.finish()
    except BaseException:  # a failure, or the consumer closing the generator: nothing half-written stays
        folder.discard()
        raise
    yield {"event": "done", "folder": str(final), "headline": headline, "seconds": seconds}


def _default_batch(is_vqa: bool, pretrained: bool) -> int:
    if is_vqa:
        return PRETRAINED_VQA_BATCH if pretrained else VQA_BATCH
    return PRETRAINED_CAPTION_BATCH if pretrained else CAPTION_BATCH


def _device_name(predictor: Predictor) -> str:
    device = predictor.device
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else 0}"
    return str(device)


def _ground_truth(items, kind: ModelKind) -> dict[str, str]:
    """The split's files the metrics were computed from (absolute paths)."""
    if kind == ModelKind.VQA:
        return {"questions": str(items.questions_path.resolve()), "annotations": str(items.annotations_path.resolve())}
    return {"captions": str(items.captions_path.resolve())}

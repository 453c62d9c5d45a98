"""Extract a torchvision backbone's features for a folder of photos into a feature store.

``extract_features(config, stop)`` is a generator of events, like the
training loop, that ``python -m training.extract_features`` prints as JSON
lines. Top to bottom:

1. the images: a COCO annotations file's ``images`` (ids and file names) with
   their folder, or every photo of a folder (ids from COCO-style names);
2. the network: ``build_image_encoder`` with the weights policy of
   ``vqadesk.models.weights`` (ImageNet from the local torch cache only, never
   downloaded; a ``.safetensors`` path; or a seeded random initialisation),
   frozen, in eval mode, cut at the chosen layer;
3. the store: created, or reopened and resumed when it was made the same way
   (same network, weights, preprocessing, images); refused otherwise;
4. batches: DataLoader workers decode and resize photos (``load_image`` in
   JPEG draft mode + ``fit_square``), the main process runs the network and
   writes rows, then commits them.

The fast paths (docs/performance.md has the measurements): JPEGs decoded at a
reduced DCT scale when the photo is at least twice the target size (Pillow's
draft mode: cosine >= 0.99 against the full decode's features), one decoding
worker per core but one, the network in channels_last under the precision
policy's autocast (``--precision auto``: bf16 on CPUs with native bf16 and on
CUDA), ``inference_mode``, and on CUDA pinned batches copied without blocking.

An unreadable or missing image is skipped (a zero row, listed in
``progress.json`` and in a ``skipped`` event), never fatal. SIGTERM/SIGINT
stop after the batch in hand, committed.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vqadesk import __version__
from vqadesk.data.coco import CocoIndex
from vqadesk.data.feature_store import FeatureStoreError, FeatureStoreWriter, SkippedImage, StoreManifest
from vqadesk.engine.device import describe_device, pick_device
from vqadesk.engine.features.store_precision import extraction_precision
from vqadesk.engine.image_tensors import load_image_tensor
from vqadesk.engine.precision import autocast
from vqadesk.engine.torch_free.extraction_config import ExtractionConfig, ExtractionConfigError
from vqadesk.errors import ImageLoadError, VqadeskError
from vqadesk.models.backbones import IMAGENET_MEAN, IMAGENET_STD
from vqadesk.models.image_encoder_base import ImageEncoderConfig
from vqadesk.models.image_encoders import build_image_encoder

Event = dict[str, Any]
_FULL_DECODE = "vqadesk.data.images.load_image: EXIF upright, 8-bit RGB, transparency on white"
_DRAFT_DECODE = f"{_FULL_DECODE}; JPEG in draft mode (DCT scale 1/2, 1/4 or 1/8 keeping both sides >= image_size)"
PREPROCESSING = {
    "decode": _DRAFT_DECODE,
    "resize": "fit_square: shorter side to image_size (bilinear, antialiased), centre crop",
    "scale": "pixels / 255",
    "mean": list(IMAGENET_MEAN),
    "std": list(IMAGENET_STD),
}
FULL_DECODE_PREPROCESSING = {**PREPROCESSING, "decode": _FULL_DECODE}  # --full-decode: stores made before draft
_WEIGHTS_ENUMS = {"vgg16": "VGG16_Weights", "resnet50": "ResNet50_Weights", "resnet152": "ResNet152_Weights"}


# -- 1. the images ------------------------------------------------------------------------------


def list_images(config: ExtractionConfig) -> tuple[list[int], list[Path], list[bool], dict[str, Any]]:
    """Image ids in row order, their files, whether each file is there, and where they came from."""
    folder = Path(config.images).expanduser()
    if not folder.is_dir():
        raise ExtractionConfigError(f"{folder}: {'not a folder' if folder.exists() else 'folder not found'} (--images)")
    if config.coco is not None:
        index = CocoIndex([config.coco], image_dir=folder)  # names the file and field of any problem
        if not index.image_ids:
            raise ExtractionConfigError(f"{config.coco}: lists no images")
    else:
        index = CocoIndex.from_folder(folder)
        if not index.image_ids:
            raise ExtractionConfigError(f"{folder}: no photos found (.jpg, .png, ...)")
    ids = list(index.image_ids)
    found = [index.find_image_path(i) for i in ids]
    paths = [path or folder / index.image(i).file_name for i, path in zip(ids, found)]
    source = {"images": str(folder.resolve()), "annotations": str(Path(config.coco).resolve()) if config.coco else None}
    return ids, paths, [path is not None for path in found], source


class _ImageFiles(Dataset):
    """Row ``rows[i]``'s photo, decoded and squared, or why it could not be."""

    def __init__(self, rows: list[int], paths: list[Path], exists: list[bool], size: int, draft: bool):
        self.rows, self.paths, self.exists, self.size, self.draft = rows, paths, exists, size, draft

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        path = self.paths[index]
        if not self.exists[index]:
            return self.rows[index], None, "image file not found"
        try:
            return self.rows[index], load_image_tensor(path, self.size, draft=self.draft), None  # (3, S, S) uint8
        except ImageLoadError as exc:
            return self.rows[index], None, exc.problem
        except VqadeskError as exc:
            return self.rows[index], None, str(exc)


def _collate(items):
    rows = [row for row, _, _ in items]
    pixels = [image for _, image, _ in items if image is not None]
    problems = [problem for _, _, problem in items]
    return rows, torch.stack(pixels) if pixels else None, problems  # (B_ok, 3, S, S) uint8


def _one_thread(_worker_id: int) -> None:
    # Decoding workers need no intra-op threads; they would only fight the network's.
    torch.set_num_threads(1)


# -- 2. the network -----------------------------------------------------------------------------


def build_encoder(config: ExtractionConfig) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The frozen backbone, and the identity of its weights for the manifest."""
    torch.manual_seed(config.seed)  # --weights none: the same network on every run (resume)
    encoder = build_image_encoder(ImageEncoderConfig(
        name=config.backbone, layer=config.layer, image_size=config.image_size,
        weights=config.weights, trainable=False,
    ))
    if config.weights == "none":
        weights = {"kind": "none", "file": None, "seed": config.seed}
    elif config.weights == "imagenet":
        weights = {"kind": "imagenet", "file": _imagenet_file_name(config.backbone), "seed": None}
    else:
        weights = {"kind": "file", "file": Path(config.weights).name, "seed": None}
    weights["sha256"] = parameters_sha256(encoder)
    return encoder, weights


def _imagenet_file_name(backbone: str) -> str | None:
    import torchvision.models as tv

    from vqadesk.models.weights import imagenet_file_candidates

    found = [p for p in imagenet_file_candidates(getattr(tv, _WEIGHTS_ENUMS[backbone])) if p.is_file()]
    return found[0].name if found else None


def parameters_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of every tensor of ``module``'s state (names, shapes, bytes): what the weights are."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape};".encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _feature_shape(encoder) -> tuple[int, ...]:
    channels, side = encoder.output_shape
    return (channels,) if side is None else (channels, side, side)


# -- 3. and 4. the store and the batches --------------------------------------------------------


def extract_features(config: ExtractionConfig, stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
    """The extraction's events. Under torchrun (``WORLD_SIZE`` > 1), or on a store a sharded run
    left unfinished, ``sharded_extraction`` runs it instead: the same store, rows shared by ranks."""
    from vqadesk.engine.features.sharded_extraction import extract_sharded, runs_sharded

    if runs_sharded(config):
        yield from extract_sharded(config, stop)
        return
    started = time.perf_counter()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    paths, exists, encoder, manifest = prepare(config, device)
    writer = FeatureStoreWriter.open(config.out, manifest)
    try:
        yield from _extract(config, stop, writer, on_device(encoder, device), paths, exists, device, started)
    finally:
        writer.close()


def prepare(config: ExtractionConfig,
            device: torch.device) -> tuple[list[Path], list[bool], torch.nn.Module, StoreManifest]:
    """The photos (files, whether each is there), the frozen network, and the store's manifest."""
    image_ids, paths, exists, source = list_images(config)
    precision = extraction_precision(config.precision, device, config.out)
    encoder, weights = build_encoder(config)
    manifest = StoreManifest(
        backbone=config.backbone, layer=config.layer, image_size=config.image_size, weights=weights,
        preprocessing=FULL_DECODE_PREPROCESSING if config.full_decode else PREPROCESSING, dtype=config.dtype,
        feature_shape=_feature_shape(encoder),
        image_ids=tuple(image_ids), source=source, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        software={"vqadesk": __version__, "torch": torch.__version__, "numpy": np.__version__},
        precision=precision,
    )
    return paths, exists, encoder, manifest


def on_device(encoder: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """channels_last: the layout oneDNN's (and cuDNN's) fastest convolutions read."""
    return encoder.to(device, memory_format=torch.channels_last)


def _extract(config, stop, writer: FeatureStoreWriter, encoder, paths, exists, device, started) -> Iterator[Event]:
    manifest = writer.manifest
    first = writer.progress.committed
    end = manifest.count if config.max_images is None else min(manifest.count, first + config.max_images)
    writer.check_free_space()
    yield {
        "event": "start", "task": "extract_features", "config": config.to_dict(), "store": str(writer.path),
        "images": manifest.count, "already_done": first, "to_do": end - first,
        "feature_shape": list(manifest.feature_shape), "dtype": manifest.dtype, "weights": manifest.weights,
        "precision": manifest.precision,
        "device": describe_device(device), "resumed": first > 0, "vqadesk_version": __version__,
    }
    progress = _progress_bar(manifest.count, first)
    done = first
    skipped_here = 0
    last_report = loop_started = time.perf_counter()
    stopped = False
    for batch_rows, skipped in extract_rows(config, writer, encoder, paths, exists, device, range(first, end)):
        writer.commit(batch_rows[-1] + 1, skipped)
        done = batch_rows[-1] + 1
        skipped_here += len(skipped)
        for image in skipped:
            yield {"event": "skipped", **image.to_dict()}
        progress.update(len(batch_rows))
        stopped = stop()
        now = time.perf_counter()
        if now - last_report >= config.log_interval_s or done == end or stopped or done - first == len(batch_rows):
            rate = (done - first) / max(now - loop_started, 1e-9)
            yield {"event": "step", "images": done, "total": manifest.count, "skipped": len(writer.progress.skipped),
                   "images_per_s": rate, "eta_s": (end - done) / rate if rate > 0 else None}
            last_report = now
        if stopped:
            break
    progress.close()
    elapsed = time.perf_counter() - started
    yield {
        "event": "done", "store": str(writer.path), "images": manifest.count, "committed": done,
        "extracted": done - first - skipped_here, "skipped": len(writer.progress.skipped),
        "complete": done == manifest.count, "stopped": "request" if stopped and done < end else None,
        "elapsed_s": elapsed, "images_per_s": (done - first) / elapsed if elapsed > 0 else None,
    }


def extract_rows(config, writer: FeatureStoreWriter, encoder, paths, exists, device,
                 rows: range) -> Iterator[tuple[list[int], list[SkippedImage]]]:
    """The network over consecutive ``rows``, batch by batch: each batch's features are written
    into the store (not committed), then its rows and skipped images are yielded for the caller
    to commit (``progress.json``, or a rank's shard file under torchrun)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one input size: let cuDNN pick its fastest kernels
    rows = list(rows)
    loader = DataLoader(
        _ImageFiles(rows, [paths[r] for r in rows], [exists[r] for r in rows], config.image_size,
                    draft=not config.full_decode),
        batch_size=config.batch_size,
        shuffle=False, num_workers=config.workers, collate_fn=_collate, worker_init_fn=_one_thread,
        pin_memory=device.type == "cuda",  # page-locked batches: the copy below overlaps the GPU's work
    )
    manifest = writer.manifest
    store_dtype = torch.float16 if manifest.dtype == "float16" else torch.float32
    for batch_rows, pixels, problems in loader:
        block = np.zeros((len(batch_rows), *manifest.feature_shape), dtype=manifest.dtype)
        readable = np.array([problem is None for problem in problems])
        if pixels is not None:
            # uint8 to channels_last before prepare(): the float copies then keep that layout.
            pixels = pixels.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), autocast(manifest.precision, device):
                features = encoder(encoder.prepare(pixels)).to(store_dtype)
            _check_finite(features, manifest.dtype, writer.path)
            block[readable] = features.cpu().numpy()  # (B_ok, *feature_shape)
        writer.write(batch_rows[0], block)
        yield batch_rows, [
            SkippedImage(row=row, image_id=manifest.image_ids[row], file=str(paths[row]), reason=problem)
            for row, problem in zip(batch_rows, problems) if problem is not None
        ]


def _check_finite(features: torch.Tensor, dtype: str, store) -> None:
    """Never store inf or NaN: float16 ends at 65,504, which random deep networks exceed."""
    if bool(torch.isfinite(features).all()):
        return
    hint = ("their values exceed float16's range: extract into a new --out with --dtype float32"
            if dtype == "float16" else "check the weights")
    raise FeatureStoreError(f"{store}: the network gave features that are not finite numbers; {hint}")


def _progress_bar(total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, unit="img", dynamic_ncols=True, leave=False)

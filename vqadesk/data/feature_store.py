"""A feature store: one backbone's features for many images, on disk, memory-mapped.

``python -m training.extract_features`` writes one; the training routines and
``training.evaluate`` read it with ``FeatureStore`` instead of decoding
photos. A store is a folder::

    STORE/manifest.json   what made the features; written once, when the store is created
    STORE/features.npy    float16 | float32 array (N, *feature_shape); row i is image_ids[i]
    STORE/progress.json   how many rows are final, which images were skipped; rewritten
                          atomically after every batch

``features.npy`` is a plain ``.npy`` file (no pickle), opened read-only with
``numpy.lib.format.open_memmap``: 123k images' grid features (25 GB at
224 px in float16) are never loaded at once, a batch reads its rows only.

Resuming after a kill: rows are written with ordinary file writes and
fsync'ed, *then* ``progress.json`` is replaced with the new ``committed``
count. Rows below ``committed`` are final and never written again; a kill
between the two steps leaves rows above ``committed`` that the next run
overwrites. The manifest's ``image_ids`` fix the row of every image, so a
resumed run writes exactly the rows an uninterrupted one would have.

Under torchrun several processes write their own rows of one store and
record them in ``STORE/shards/`` until rank 0 folds them into
``progress.json`` (``feature_store_shards``); a reader never looks there.

Skipped images (unreadable or missing files) keep a zero row and are listed
in ``progress.json``; the reader reports them as absent, with the reason.
Everything here is numpy; the extraction itself is in
``vqadesk.engine.features.feature_extraction``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.errors import DataFormatError, VqadeskError, list_ids
from vqadesk.jsonio import check_format, expect, field, read_json, write_json_atomic

PathLike = str | os.PathLike[str]

MANIFEST = "manifest.json"
PROGRESS = "progress.json"
FEATURES = "features.npy"
MANIFEST_FORMAT = "vqadesk.feature_store"
PROGRESS_FORMAT = "vqadesk.feature_store.progress"
FORMAT_VERSION = 1
DTYPES = ("float16", "float32")
PRECISIONS = ("fp32", "bf16", "fp16")  # resolved arithmetic (vqadesk.engine.precision), never "auto"


class FeatureStoreError(VqadeskError):
    """A feature store is missing, damaged, incomplete or not the one asked for."""


@dataclass(frozen=True)
class SkippedImage:
    """An image whose row holds no features, and why."""

    row: int
    image_id: int
    file: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "image_id": self.image_id, "file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class StoreManifest:
    """What made a store's features, and for which images (in row order).

    ``weights`` identifies the network's weights: ``{"kind": "imagenet" |
    "none" | "file", "file": name or None, "seed": int or None, "sha256":
    SHA-256 of the network's tensors as loaded}``; ``preprocessing`` says how
    pixels were prepared. Two stores with equal ``identity()`` hold
    interchangeable features.

    ``precision`` is the arithmetic the network ran in (``fp32``, ``bf16`` or
    ``fp16``, resolved, never ``auto``); a manifest written before it was
    recorded reads as ``fp32``. It is not part of ``identity()``: bf16 and
    fp32 features of the same network agree to a cosine of about 0.99
    (docs/performance.md), so stores and checkpoints made either way are
    interchangeable; a resumed store keeps its own precision (one store, one arithmetic).
    """

    backbone: str
    layer: str
    image_size: int
    weights: dict[str, Any]
    preprocessing: dict[str, Any]
    dtype: str
    feature_shape: tuple[int, ...]
    image_ids: tuple[int, ...]
    source: dict[str, Any]
    created: str = ""
    software: dict[str, str] | None = None
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if len(set(self.image_ids)) != len(self.image_ids):
            raise ValueError("image ids must be unique")

    @property
    def count(self) -> int:
        return len(self.image_ids)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.feature_shape)) * np.dtype(self.dtype).itemsize

    @property
    def gives_grid(self) -> bool:
        return len(self.feature_shape) == 3

    def identity(self) -> dict[str, Any]:
        """Everything that decides the values of a row (not which images there are)."""
        return {
            "backbone": self.backbone,
            "layer": self.layer,
            "image_size": self.image_size,
            "weights": dict(self.weights),
            "preprocessing": dict(self.preprocessing),
            "dtype": self.dtype,
            "feature_shape": list(self.feature_shape),
        }

    def describe(self) -> str:
        """``"resnet50 grid (2048, 7, 7) at 224 px, imagenet weights resnet50-11ad3fa6.pth"``."""
        weights = self.weights.get("kind", "?")
        if self.weights.get("file"):
            weights += f" weights {self.weights['file']}"
        elif weights == "none":
            weights = f"random weights (seed {self.weights.get('seed')})"
        else:
            weights += " weights"
        return (f"{self.backbone} {self.layer} {tuple(self.feature_shape)} at {self.image_size} px, "
                f"{weights}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "version": FORMAT_VERSION,
            **self.identity(),
            "precision": self.precision,
            "count": self.count,
            "image_ids": list(self.image_ids),
            "source": dict(self.source),
            "created": self.created,
            "software": dict(self.software or {}),
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: PathLike) -> StoreManifest:
        check_format(data, name=MANIFEST_FORMAT, version=FORMAT_VERSION, source=source,
                     what="a vqadesk feature store manifest", version_label="feature store version")
        shape = field(data, "feature_shape", list, source)
        ids = field(data, "image_ids", list, source)
        dtype = field(data, "dtype", str, source)
        if dtype not in DTYPES:
            raise DataFormatError(source, f"must be one of {', '.join(DTYPES)}, got {dtype!r}", "dtype")
        if not shape or not all(type(v) is int and v > 0 for v in shape):
            raise DataFormatError(source, f"expected a list of positive integers, got {shape!r}", "feature_shape")
        # One check for the 123k ids, then a precise one only when it fails.
        if not all(type(v) is int for v in ids):
            bad = next(i for i, v in enumerate(ids) if type(v) is not int)
            expect(ids[bad], int, source, f"image_ids[{bad}]")
        if len(set(ids)) != len(ids):
            raise DataFormatError(source, "image ids repeat", "image_ids")
        precision = data.get("precision", "fp32")  # before it was recorded: float32 arithmetic
        if precision not in PRECISIONS:
            raise DataFormatError(source, f"must be one of {', '.join(PRECISIONS)}, got {precision!r}", "precision")
        count = field(data, "count", int, source)
        if count != len(ids):
            raise DataFormatError(source, f"says {count} images but image_ids lists {len(ids)}", "count")
        return cls(
            backbone=field(data, "backbone", str, source),
            layer=field(data, "layer", str, source),
            image_size=field(data, "image_size", int, source),
            weights=field(data, "weights", dict, source),
            preprocessing=field(data, "preprocessing", dict, source),
            dtype=dtype,
            feature_shape=tuple(shape),
            image_ids=tuple(ids),
            source=field(data, "source", dict, source),
            created=data.get("created") if isinstance(data.get("created"), str) else "",
            software=data.get("software") if isinstance(data.get("software"), dict) else None,
            precision=precision,
        )


@dataclass(frozen=True)
class StoreProgress:
    """Rows ``0..committed-1`` are final; ``skipped`` of them hold no features."""

    committed: int
    skipped: tuple[SkippedImage, ...] = ()

    def to_dict(self, count: int) -> dict[str, Any]:
        return {"format": PROGRESS_FORMAT, "version": FORMAT_VERSION, "committed": self.committed,
                "count": count, "complete": self.committed == count,
                "skipped": [s.to_dict() for s in self.skipped]}

    @classmethod
    def from_dict(cls, data: Any, *, source: PathLike, count: int) -> StoreProgress:
        check_format(data, name=PROGRESS_FORMAT, version=FORMAT_VERSION, source=source,
                     what="a vqadesk feature store progress file", version_label="feature store version")
        committed = field(data, "committed", int, source)
        if not 0 <= committed <= count:
            raise DataFormatError(source, f"must be between 0 and {count}, got {committed}", "committed")
        skipped = []
        for index, raw in enumerate(field(data, "skipped", list, source)):
            where = f"skipped[{index}]"
            skipped.append(SkippedImage(
                row=field(raw, "row", int, source, where), image_id=field(raw, "image_id", int, source, where),
                file=field(raw, "file", str, source, where), reason=field(raw, "reason", str, source, where),
            ))
        return cls(committed=committed, skipped=tuple(skipped))


# -- reading ------------------------------------------------------------------------------------


class FeatureStore:
    """A store opened read-only; ``features(image_ids)`` reads those images' rows.

    Opening reads the two JSON files and memory-maps ``features.npy``; no
    feature is read until asked for. A store still being extracted opens too
    (``complete`` is False): its committed rows are final.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not self.path.is_dir():
            raise FeatureStoreError(f"{self.path}: feature store folder not found")
        if not manifest_path.is_file():
            raise FeatureStoreError(
                f"{self.path}: not a feature store (no {MANIFEST}; make one with python -m training.extract_features)"
            )
        self.manifest = StoreManifest.from_dict(read_json(manifest_path), source=manifest_path)
        progress_path = self.path / PROGRESS
        self.progress = StoreProgress.from_dict(read_json(progress_path), source=progress_path,
                                                count=self.manifest.count)
        self._features = _open_features(self.path / FEATURES, self.manifest, mode="r")
        self._row_of = {image_id: row for row, image_id in enumerate(self.manifest.image_ids)}
        self._skipped = {s.image_id: s for s in self.progress.skipped}

    def __reduce__(self):
        # DataLoader workers started with spawn pickle datasets: reopen the files
        # there rather than pickling the memory map's gigabytes.
        return (FeatureStore, (str(self.path),))

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.path)!r}: {self.manifest.describe()}, {self.available_count} images)"

    # -- what it holds ------------------------------------------------------------------------

    @property
    def image_ids(self) -> tuple[int, ...]:
        return self.manifest.image_ids

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return self.manifest.feature_shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.manifest.dtype)

    @property
    def complete(self) -> bool:
        return self.progress.committed == self.manifest.count

    @property
    def skipped(self) -> dict[int, SkippedImage]:
        return dict(self._skipped)

    @property
    def available_count(self) -> int:
        return self.progress.committed - sum(1 for s in self.progress.skipped if s.row < self.progress.committed)

    def __len__(self) -> int:
        return self.manifest.count

    def __contains__(self, image_id: object) -> bool:
        row = self._row_of.get(image_id)  # type: ignore[arg-type]
        return row is not None and row < self.progress.committed and image_id not in self._skipped

    def available_image_ids(self) -> list[int]:
        """The images whose features are there, in row order."""
        return [i for i in self.manifest.image_ids[: self.progress.committed] if i not in self._skipped]

    def why_missing(self, image_id: int) -> str | None:
        """None when the image's features are there, else the reason in a few words."""
        row = self._row_of.get(image_id)
        if row is None:
            return "not in the store"
        if image_id in self._skipped:
            return f"skipped ({self._skipped[image_id].reason})"
        if row >= self.progress.committed:
            return "not extracted yet"
        return None

    # -- reading features ----------------------------------------------------------------------

    def rows_of(self, image_ids, *, what: str = "the images asked for") -> np.ndarray:
        """``int64`` rows of ``image_ids``; any image without features is a ``FeatureStoreError``."""
        image_ids = [int(i) for i in image_ids]
        rows = np.fromiter((self._row_of.get(i, -1) for i in image_ids), dtype=np.int64, count=len(image_ids))
        usable = (rows >= 0) & (rows < self.progress.committed)
        if self._skipped:
            usable &= ~np.isin(np.asarray(image_ids, dtype=np.int64), list(self._skipped))
        if not usable.all():
            ids = [i for i, ok in zip(image_ids, usable) if not ok]
            raise FeatureStoreError(self.missing_message(ids, what))
        return rows

    def missing_message(self, image_ids: list[int], what: str) -> str:
        reasons: dict[str, list[int]] = {}
        for image_id in image_ids:
            reasons.setdefault(self.why_missing(image_id) or "?", []).append(image_id)
        parts = "; ".join(f"{reason}: image_id {list_ids(ids)}" for reason, ids in reasons.items())
        hint = ""
        if not self.complete:
            hint = (f" (extraction stopped at {self.progress.committed:,} of {self.manifest.count:,} images; "
                    "run the same extract_features command again to finish it)")
        return f"{self.path}: no features for {len(image_ids):,} of {what} ({parts}){hint}"

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """A new array ``(len(rows), *feature_shape)`` in the store's dtype.

        Rows are read in increasing order (sequential reads through the page
        cache) and put back in the order asked for.
        """
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), *self.feature_shape), dtype=self.dtype)
        out[order] = self._features[rows[order]]
        return out

    def features(self, image_ids) -> np.ndarray:
        """The features of ``image_ids`` ``(B, *feature_shape)``, in that order."""
        return self.read_rows(self.rows_of(list(image_ids)))

    def describe(self) -> dict[str, Any]:
        """JSON for events: what the store holds, where, how full (the full identity: ``manifest.identity()``)."""
        return {"path": str(self.path), "features": self.manifest.describe(), "dtype": self.manifest.dtype,
                "count": self.manifest.count, "available": self.available_count, "complete": self.complete}


def check_compatible(expected: dict[str, Any], store: FeatureStore, *, what: str) -> None:
    """Refuse ``store`` when its identity differs from ``expected`` (another store's, a checkpoint's)."""
    found = store.manifest.identity()
    differing = [key for key in found if key in expected and expected[key] != found[key]]
    if differing:
        key = differing[0]
        raise FeatureStoreError(
            f"{store.path}: holds other features than {what} ({key} is {found[key]!r} here, "
            f"{expected[key]!r} there): {store.manifest.describe()}"
        )


# -- writing ------------------------------------------------------------------------------------


class FeatureStoreWriter:
    """Creates a store, or reopens one with the same manifest to resume it.

    ``write(first_row, block)`` writes consecutive rows; ``commit(rows,
    skipped)`` makes them final. Only the extraction routine writes stores.
    """

    def __init__(self, path: Path, manifest: StoreManifest, progress: StoreProgress):
        self.path = path
        self.manifest = manifest
        self.progress = progress
        self._offset = _open_features(path / FEATURES, manifest, mode="r").offset
        try:
            self._file = open(path / FEATURES, "r+b")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise FeatureStoreError(f"{path / FEATURES}: cannot be written ({exc.strerror or exc})") from None

    @classmethod
    def open(cls, path: PathLike, manifest: StoreManifest) -> FeatureStoreWriter:
        """Resume the store at ``path`` if it was made the same way, else create it.

        A store made with other settings or for other images is refused (never
        overwritten); so is a folder holding anything but a store's files.
        """
        path = Path(path)
        manifest_path = path / MANIFEST
        if manifest_path.is_file():
            existing = StoreManifest.from_dict(read_json(manifest_path), source=manifest_path)
            _check_same_store(path, existing, manifest)
            progress = StoreProgress.from_dict(read_json(path / PROGRESS), source=path / PROGRESS,
                                               count=existing.count)
            return cls(path, existing, progress)
        if path.exists() and not path.is_dir():
            raise FeatureStoreError(f"{path}: is a file; --out takes a folder for the feature store")
        if path.is_dir():
            foreign = [p.name for p in path.iterdir()
                       if p.name not in (FEATURES, PROGRESS) and not p.name.startswith(".")]
            if foreign:
                raise FeatureStoreError(
                    f"{path}: not empty and not a feature store (holds {', '.join(sorted(foreign)[:3])}); "
                    "choose a new folder"
                )
        path.mkdir(parents=True, exist_ok=True)
        _create_features_file(path / FEATURES, manifest)
        progress = StoreProgress(committed=0)
        write_json_atomic(path / PROGRESS, progress.to_dict(manifest.count))
        write_json_atomic(manifest_path, manifest.to_dict())  # last: the folder is a store from now on
        return cls(path, manifest, progress)

    def check_free_space(self) -> None:
        """Refuse to start when the disk cannot hold the rows still to write."""
        needed = (self.manifest.count - self.progress.committed) * self.manifest.row_bytes
        free = shutil.disk_usage(self.path).free
        if needed > free:
            raise FeatureStoreError(
                f"{self.path}: the remaining {self.manifest.count - self.progress.committed:,} images need "
                f"{needed / 1e9:.1f} GB and the disk has {free / 1e9:.1f} GB free "
                "(use --dtype float16, the pooled layer, or another disk)"
            )

    def write(self, first_row: int, block: np.ndarray) -> None:
        if first_row < self.progress.committed:
            raise ValueError(f"row {first_row} is already committed; committed rows are never rewritten")
        expected = self.manifest.feature_shape
        if tuple(block.shape[1:]) != expected:
            raise ValueError(f"rows of shape {tuple(block.shape[1:])}, the store holds {expected}")
        data = np.ascontiguousarray(block, dtype=np.dtype(self.manifest.dtype).newbyteorder("<"))
        try:
            self._file.seek(self._offset + first_row * self.manifest.row_bytes)
            self._file.write(data.data)
        except OSError as exc:
            raise FeatureStoreError(
                f"{self.path / FEATURES}: cannot write features ({exc.strerror or exc}); "
                "run the command again to resume once fixed"
            ) from None

    def commit(self, committed: int, skipped: list[SkippedImage]) -> None:
        """Make rows below ``committed`` final: data to disk first, then the count."""
        self.sync()
        self.progress = StoreProgress(committed=committed, skipped=self.progress.skipped + tuple(skipped))
        write_json_atomic(self.path / PROGRESS, self.progress.to_dict(self.manifest.count))

    def sync(self) -> None:
        """The rows written so far onto the disk (before any file says they are done)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise FeatureStoreError(f"{self.path / FEATURES}: cannot write features ({exc.strerror or exc})") from None

    def close(self) -> None:
        self._file.close()


def _check_same_store(path: Path, existing: StoreManifest, wanted: StoreManifest) -> None:
    found, asked = existing.identity(), wanted.identity()
    for key in found:
        if found[key] != asked[key]:
            raise FeatureStoreError(
                f"{path}: this store was made with {key} {found[key]!r}, not {asked[key]!r} "
                f"({existing.describe()}); use another --out folder, or delete this one to start over"
            )
    if existing.precision != wanted.precision:
        raise FeatureStoreError(
            f"{path}: this store was started in {existing.precision} arithmetic, not {wanted.precision}; "
            f"resume it with --precision {existing.precision}, or use another --out folder"
        )
    if existing.image_ids != wanted.image_ids:
        raise FeatureStoreError(
            f"{path}: this store was started for other images ({existing.count:,} images from "
            f"{existing.source.get('images')}); use another --out folder"
        )


def _create_features_file(path: Path, manifest: StoreManifest) -> None:
    """A ``.npy`` header and a sparse file of the full size: rows are filled in later."""
    dtype = np.dtype(manifest.dtype).newbyteorder("<")
    shape = (manifest.count, *manifest.feature_shape)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    try:
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, header)
            handle.truncate(handle.tell() + manifest.count * manifest.row_bytes)
    except OSError as exc:
        raise FeatureStoreError(f"{path}: cannot be created ({exc.strerror or exc})") from None


def _open_features(path: Path, manifest: StoreManifest, *, mode: str) -> np.memmap:
    """``features.npy`` memory-mapped, checked against the manifest."""
    try:
        array = np.lib.format.open_memmap(path, mode=mode)
    except FileNotFoundError:
        raise FeatureStoreError(f"{path}: missing (the store's features file)") from None
    except (OSError, ValueError) as exc:
        raise FeatureStoreError(f"{path}: not a readable .npy features file ({exc})") from None
    expected = (manifest.count, *manifest.feature_shape)
    if array.shape != expected or array.dtype != np.dtype(manifest.dtype):
        raise FeatureStoreError(
            f"{path}: holds {array.dtype} {array.shape}, the manifest says {manifest.dtype} {expected}"
        )
    return array

"""The evaluations on disk: list them, open one, delete one (Qt-free, torch-free).

Each evaluation is a folder ``<user data>/evaluations/<YYYYmmdd-HHMMSS>-<model-slug>-<split>/``
(docs/evaluate.md, "The evaluation folder"). The runner writes it as
``.<name>.partial`` and renames it when complete, so a folder without the
suffix is whole; the list skips hidden folders. Listing reads only manifests
and never raises for one folder: a damaged one is listed with the reason.
Opening reads the manifest and ``metrics.json``; the rows are read when first
asked for (off the GUI thread for big ones), the maps one at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.engine.torch_free.evaluations.manifest import (
    MANIFEST_FILE,
    MAPS_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    ROWS_FILE,
    EvaluationManifest,
    read_manifest,
)
from vqadesk.engine.torch_free.evaluations.maps import MapsFile
from vqadesk.engine.torch_free.evaluations.rows import CaptionRow, EvaluationRows, VqaRow, read_rows
from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import describe_type, kind_of_file, read_json
from vqadesk.paths import user_data_dir

PARTIAL_SUFFIX = ".partial"
_SLUG_LENGTH = 40


def evaluations_root() -> Path:
    """Where evaluations go: ``user_data_dir()/evaluations`` (created on use)."""
    root = user_data_dir() / "evaluations"
    root.mkdir(parents=True, exist_ok=True)
    return root


def slug(text: str) -> str:
    """A file-name-safe short form: lower case, runs of other characters as one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:_SLUG_LENGTH].strip("-") or "model"


def folder_name(created: datetime, model_label: str, split: str) -> str:
    """``<YYYYmmdd-HHMMSS>-<model-slug>-<split-slug>``, the time in ``created``'s own zone."""
    return f"{created.strftime('%Y%m%d-%H%M%S')}-{slug(model_label)}-{slug(split)}"


def partial_folder(final: str | os.PathLike[str]) -> Path:
    """The temporary sibling ``.<name>.partial`` a runner writes before renaming it to ``final``."""
    final = Path(final)
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


@dataclass(frozen=True)
class EvaluationEntry:
    """One folder of the list: its manifest, or why it cannot be read (``problem``)."""

    path: Path
    manifest: EvaluationManifest | None
    problem: str | None = None

    @property
    def damaged(self) -> bool:
        return self.manifest is None


def list_evaluations(root: str | os.PathLike[str] | None = None) -> list[EvaluationEntry]:
    """Every evaluation folder under ``root`` (default ``evaluations_root()``), newest first.

    Hidden folders (``.partial`` ones) and files are skipped; a folder whose
    manifest is missing or malformed is listed as damaged with the one-line
    reason. A missing root is an empty list.
    """
    root = Path(root) if root is not None else evaluations_root()
    try:
        children = sorted(root.iterdir(), key=lambda child: child.name, reverse=True)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise VqadeskError(f"{root}: cannot list the evaluations ({exc.strerror or exc})") from None
    entries = []
    for child in children:
        if child.name.startswith(".") or not child.is_dir():
            continue
        try:
            entries.append(EvaluationEntry(child, read_manifest(child / MANIFEST_FILE)))
        except VqadeskError as exc:
            entries.append(EvaluationEntry(child, None, str(exc)))
    # Newest first by the manifest's time; damaged ones last, newest name (which starts with the time) first.
    return sorted(entries, key=lambda e: e.manifest.created_at.timestamp() if e.manifest else 0.0, reverse=True)


class Evaluation:
    """One opened evaluation: its manifest and metrics now, its rows and maps when asked for."""

    def __init__(self, path: Path, manifest: EvaluationManifest, metrics: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.metrics = metrics
        self._rows: EvaluationRows | None = None
        self._maps = MapsFile(path / MAPS_FILE, manifest.kind) if manifest.has_maps else None

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def rows(self) -> EvaluationRows:
        """Every row, read on first use (about a second per 200k rows: call it off the GUI thread)."""
        if self._rows is None:
            rows = read_rows(self.path / ROWS_FILE, self.manifest.kind)
            if len(rows) != self.manifest.count:
                raise DataFormatError(self.path / ROWS_FILE, f"holds {len(rows):,} rows but {MANIFEST_FILE} "
                                                             f"says count {self.manifest.count:,}")
            self._rows = rows
        return self._rows

    def close(self) -> None:
        """Close the maps file, so the folder can be deleted (on Windows too); maps reopen when asked for."""
        if self._maps is not None:
            self._maps.close()

    def map_for(self, row: VqaRow | CaptionRow) -> np.ndarray | None:
        """The row's attention map: ``(h, w)`` for a question, ``(words, h, w)`` for a caption; None if none."""
        if self._maps is None:
            return None
        if isinstance(row, VqaRow):
            return self._maps.get(row.question_id)
        words = self._maps.words(row.image_id)
        if not words:
            return None
        if len({word.shape for word in words}) != 1:
            raise DataFormatError(self._maps.path, f"the word maps of image {row.image_id} differ in shape", "maps")
        return np.stack(words)


def open_evaluation(path: str | os.PathLike[str]) -> Evaluation:
    """Open an evaluation folder: manifest and metrics checked, results and rows files present."""
    path = Path(path)
    if not path.is_dir():
        raise VqadeskError(f"{path}: not an evaluation folder (no such folder)")
    manifest = read_manifest(path / MANIFEST_FILE)
    metrics = read_json(path / METRICS_FILE)
    if not isinstance(metrics, dict):
        raise DataFormatError(path / METRICS_FILE, f"expected an object, got {describe_type(metrics)}")
    headline_key = "overall" if manifest.kind == "vqa" else "CIDEr"
    if not isinstance(metrics.get(headline_key), (int, float)) or isinstance(metrics.get(headline_key), bool):
        raise DataFormatError(path / METRICS_FILE, "missing or not a number", headline_key)
    for name in (RESULTS_FILE, ROWS_FILE):
        try:
            mode = (path / name).stat().st_mode
        except FileNotFoundError:
            raise DataFormatError(path / name, "file not found (the evaluation folder is incomplete)") from None
        except OSError as exc:
            raise DataFormatError(path / name, f"cannot be read ({exc.strerror or exc})") from None
        if not stat.S_ISREG(mode):
            raise DataFormatError(path / name, f"is not a regular file ({kind_of_file(mode)})")
    return Evaluation(path, manifest, metrics)


def delete_evaluation(path: str | os.PathLike[str]) -> None:
    """Remove an evaluation folder (damaged ones too); a folder that is not one is refused."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        raise VqadeskError(f"{path}: not an evaluation folder (no such folder)")
    if not (path / MANIFEST_FILE).exists() and not path.name.endswith(PARTIAL_SUFFIX):
        raise VqadeskError(f"{path}: not an evaluation folder (no {MANIFEST_FILE}); not deleted")
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise VqadeskError(f"{path}: cannot be deleted ({exc.strerror or exc})") from None

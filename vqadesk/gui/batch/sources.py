"""Where a batch job's photos come from: a folder, the open split, or the browser's selection.

A ``BatchSource`` names its photos' root (the folder their keys are relative
to, recorded in the job's settings) and lists them lazily, in the job's
thread, never the GUI's: a folder through the engine's ``iter_photos`` (the
command line's own listing, so the app and ``vqadesk predict`` key the same
folder the same way and resume each other's jobs), a split or a selection
image by image, each photo keyed by its path under the split's image folder
and carrying its COCO image id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vqadesk.data.dataset import DatasetSplit
from vqadesk.engine.torch_free.batch.photos import Photo, count_photos, iter_photos
from vqadesk.errors import VqadeskError
from vqadesk.text.counts import plural

FOLDER, SPLIT, SELECTION = "folder", "split", "selection"


@dataclass(frozen=True, eq=False)
class BatchSource:
    """A folder (``split`` None), or images of a split (``image_ids`` None: all of them)."""

    kind: str  # FOLDER, SPLIT or SELECTION
    root: Path  # resolved, as the command line records it (``vqadesk predict --images DIR``)
    recursive: bool = False
    split: DatasetSplit | None = None
    image_ids: tuple[int, ...] | None = None

    @classmethod
    def folder(cls, path: str | os.PathLike[str], recursive: bool) -> BatchSource:
        return cls(FOLDER, Path(path).resolve(), recursive)

    @classmethod
    def of_split(cls, split: DatasetSplit, image_ids: list[int] | None = None) -> BatchSource:
        """The whole split, or ``image_ids`` of it (the browser's selection)."""
        return cls(SELECTION if image_ids is not None else SPLIT, split_root(split), False, split,
                   None if image_ids is None else tuple(image_ids))

    def describe(self) -> str:
        """"the folder holiday (and its subfolders)", "the split val (12 photos)", "3 photos of val"."""
        if self.split is None:
            return f"the folder {self.root.name or self.root}" + (" (and its subfolders)" if self.recursive else "")
        if self.image_ids is None:
            return f"the split {self.split.name} ({plural(len(self.split.image_ids), 'photo')})"
        return f"{plural(len(self.image_ids), 'selected photo')} of {self.split.name}"

    def count(self) -> int:
        """How many photos (a folder is listed by name: the job's thread calls this)."""
        if self.split is None:
            return count_photos(self.root, self.recursive)
        return len(self.image_ids if self.image_ids is not None else self.split.image_ids)

    def photos(self) -> Iterator[Photo]:
        """The photos, lazily, in a repeatable order."""
        if self.split is None:
            yield from iter_photos(self.root, self.recursive)
            return
        coco = self.split.coco
        for image_id in self.image_ids if self.image_ids is not None else self.split.image_ids:
            try:
                path = coco.image_path(image_id)
            except VqadeskError:  # not on disk: the job lists it as failed, with the loader's reason
                path = self.root / coco.image(image_id).file_name
            yield Photo(key=_key(path, self.root), path=path, coco_id=image_id)


def split_root(split: DatasetSplit) -> Path:
    """The folder a split's photos are keyed under: its image folder, else their common folder."""
    folder = split.coco.image_dir
    if folder is not None:
        return Path(folder).resolve()
    parents = set()
    for image_id in split.image_ids:
        try:
            parents.add(str(split.coco.image_path(image_id).absolute().parent))
        except VqadeskError:
            continue
    return Path(os.path.commonpath(sorted(parents))).resolve() if parents else Path.cwd()


def _key(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (resolved: a linked folder on the way counts), else its whole path."""
    for candidate in (path.absolute(), path.resolve()):
        if candidate.is_relative_to(root):
            return candidate.relative_to(root).as_posix()
    return path.absolute().as_posix()

"""Open whatever folder the user points at as a browsable dataset.

One entry point, ``open_dataset(path)``, recognises three layouts:

- a COCO-style root (a COCO 2014/2017 download, or a Shapes world written by
  ``vqadesk shapes``): ``annotations/captions_<split>.json`` and/or
  ``annotations/instances_<split>.json`` with images in ``<split>/``, and
  optionally VQA v2 questions/annotations for the same split (in ``vqa/``,
  ``annotations/`` or the root);
- a plain folder of photos with no annotations (one split, "photos");
- a single COCO split folder whose parent is such a root is opened as the root.

Each split joins a ``CocoIndex`` (images, captions, objects) with the split's
VQA questions, so the browser, the Ask panel and the evaluation code all see
the same records. Splits are opened when first asked for (``Dataset.split``,
``Dataset.splits[name]``): a root with train2014 and val2014 costs only the
split shown. ``open_dataset`` opens the one shown first (``preferred_split``:
the one asked for, else a validation split, else the first);
``Dataset.open_splits`` lists those opened so far. A big split is read from
the index cache after the first time (``split_cache``). Nothing here imports Qt.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from vqadesk.data.coco import CocoIndex, dataset_root_files
from vqadesk.data.grouped_rows import row_count
from vqadesk.data.shapes.detect import is_shapes_dataset
from vqadesk.data.split_cache import QuestionGroups, SplitFiles, load_split
from vqadesk.data.vqa import QuestionRecord
from vqadesk.errors import VqadeskError

__all__ = [
    "DROPPED_SPLIT", "Dataset", "DatasetError", "DatasetSplit", "QuestionRecord", "discover_splits",
    "coco_split_files", "find_vqa_files", "locate_splits", "open_coco_files", "open_dataset", "open_photos",
    "preferred_split",
]

_ANNOTATION_FILE = re.compile(r"^(captions|instances)_(?P<split>[\w.-]+)\.json$")


class DatasetError(VqadeskError):
    """The folder is not a dataset vqadesk can open."""


@dataclass
class DatasetSplit:
    """One split: its COCO index and the VQA questions about its images.

    ``questions_by_image`` is a dict, or (from the index cache) a mapping that
    makes an image's records when first asked for.
    """

    name: str
    coco: CocoIndex
    questions_by_image: Mapping[int, list[QuestionRecord]] = field(default_factory=dict)

    @cached_property
    def image_ids(self) -> list[int]:
        return list(self.coco.image_ids)

    @property
    def question_count(self) -> int:
        return row_count(self.questions_by_image)

    def question_texts(self) -> list[str]:
        """Every question's text (image by image, in file order), without making 200k records."""
        if isinstance(self.questions_by_image, QuestionGroups):
            return self.questions_by_image.texts()
        return [record.text for records in self.questions_by_image.values() for record in records]

    def questions(self, image_id: int) -> list[QuestionRecord]:
        return self.questions_by_image.get(image_id, [])

    def filter_image_ids(self, query: str) -> list[int]:
        """Image ids whose id, file name, categories or captions hold every word of ``query``."""
        return self.coco.search(query) if query.strip() else self.image_ids


class LazySplits(Mapping[str, DatasetSplit]):
    """Split name -> ``DatasetSplit``, each opened by ``open_split(name)`` on first access, once.

    Thread-safe: the app opens splits on worker threads, and a second thread
    asking for a split being opened waits for it rather than parsing it again.
    A split that fails to open raises its error and is tried again next time.
    Listing names (``in``, iteration, ``len``) opens nothing; ``values()`` and
    ``items()`` open every split, so ask ``opened()`` for those open so far.
    """

    def __init__(self, names: Sequence[str], open_split: Callable[[str], DatasetSplit]):
        self._names = list(names)
        self._open_split = open_split
        self._opened: dict[str, DatasetSplit] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> DatasetSplit:
        found = self._opened.get(name)
        if found is not None:
            return found
        if name not in self._names:
            raise KeyError(name)
        with self._lock:
            if name not in self._opened:
                self._opened[name] = self._open_split(name)
            return self._opened[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def is_open(self, name: str) -> bool:
        return name in self._opened

    def opened(self) -> dict[str, DatasetSplit]:
        """The splits opened so far, in split order."""
        return {name: self._opened[name] for name in self._names if name in self._opened}


@dataclass
class Dataset:
    """A dataset folder and its splits, in a stable order (train first).

    ``splits`` may be a plain dict (photos) or ``LazySplits`` (COCO roots):
    ``split(name)`` / ``splits[name]`` / ``splits.get(name)`` open a split
    the first time; ``split_names``, ``is_open`` and ``open_splits`` never do.
    """

    root: Path
    kind: str  # "coco" (COCO or Shapes layout) or "photos"
    splits: Mapping[str, DatasetSplit]
    title: str | None = None  # shown instead of the folder's name (e.g. "Dropped photos")
    shown_first: str | None = None  # the split to show first (opened by open_dataset); None: the first

    @property
    def first_split(self) -> str:
        """The split a browser shows first: ``shown_first`` when it is one of the splits, else the first."""
        return self.shown_first if self.shown_first in self.splits else next(iter(self.splits))

    @property
    def name(self) -> str:
        return self.title or self.root.name

    @cached_property
    def is_shapes(self) -> bool:
        """A Shapes world (the bundled models know nothing else), by its COCO files' header."""
        return self.kind == "coco" and is_shapes_dataset(self.root)

    @property
    def is_loose_photos(self) -> bool:
        """Photos opened one by one, not a folder: nothing to reopen at the next launch."""
        return self.title is not None and DROPPED_SPLIT in self.splits

    @property
    def split_names(self) -> list[str]:
        return list(self.splits)

    def split(self, name: str) -> DatasetSplit:
        """The split, opened now if it was not (a bad file raises its ``DataFormatError`` here)."""
        if name not in self.splits:
            raise DatasetError(f"{self.root}: no split named '{name}'")
        return self.splits[name]

    def is_open(self, name: str) -> bool:
        """Whether ``split(name)`` returns at once (no files to read)."""
        splits = self.splits
        return splits.is_open(name) if isinstance(splits, LazySplits) else name in splits

    @property
    def open_splits(self) -> dict[str, DatasetSplit]:
        """The splits opened so far (for summaries that must not open the others)."""
        splits = self.splits
        return splits.opened() if isinstance(splits, LazySplits) else dict(splits)


def preferred_split(names: Sequence[str], wanted: str | None = None) -> str:
    """The split to show first: ``wanted`` (the one the user looked at last) when there is one by
    that name, else the first validation split -- val2014 is half the size of train2014, so it opens
    twice as fast, and the models were not trained on its images --, else the first split."""
    if wanted in names:
        return wanted
    return next((name for name in names if name.startswith("val")), names[0])


def locate_splits(folder: Path, split: str | None = None) -> tuple[Path, list[str], str | None]:
    """The COCO root for ``folder`` (itself, or its parent when it is a split folder such as
    ``val2014/``), the root's splits and the one to show first (``preferred_split``; a split folder
    asks for itself). No splits: ``(folder, [], None)``, a folder of photos."""
    splits = discover_splits(folder)
    if splits:
        return folder, splits, preferred_split(splits, split)
    if (folder.parent / "annotations").is_dir() and (splits := discover_splits(folder.parent)):
        return folder.parent, splits, preferred_split(splits, split or folder.name)
    return folder, [], None


def open_dataset(path: str | Path, split: str | None = None) -> Dataset:
    """Open a COCO/Shapes root, a split folder inside one, or a folder of photos.

    ``split``: the split to show first, if the root has one by that name (else ``preferred_split``).
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: folder not found")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (open single images with File → Open image…)")
    root, splits, first = locate_splits(root, split)
    if first is not None:
        # Open the split shown first now, on the caller's thread, so its problems
        # are reported by open_dataset; the others wait until asked for.
        dataset = Dataset(root=root, kind="coco", splits=LazySplits(splits, lambda s: _open_split(root, s)),
                          shown_first=first)
        dataset.split(first)
        return dataset
    coco = CocoIndex.from_folder(root)
    if not coco.images:
        raise DatasetError(
            f"{root}: no images found (expected a COCO folder with annotations/ or a folder of photos)"
        )
    return Dataset(root=root, kind="photos", splits={"photos": DatasetSplit("photos", coco)})


DROPPED_SPLIT = "dropped photos"


def open_coco_files(annotation_file: str | Path, image_dir: str | Path) -> Dataset:
    """One split from an annotations file the user picked and the folder of its images.

    The split's name comes from the file's (``captions_val2014.json`` -> ``val2014``);
    the other annotation file of that split beside it (captions or instances)
    and its VQA v2 files (in the same folder, ``vqa/`` or the folder above)
    are read too. Any other name is one split called after the file.
    """
    root, split, files = coco_split_files(annotation_file, image_dir)
    return Dataset(root=root, kind="coco", splits={split: _load(split, files)})


def coco_split_files(annotation_file: str | Path, image_dir: str | Path) -> tuple[Path, str, SplitFiles]:
    """``open_coco_files``' root, split name and input files, checked to exist; nothing is parsed."""
    annotation_file = Path(annotation_file).expanduser()
    image_dir = Path(image_dir).expanduser()
    if not annotation_file.is_file():
        raise DatasetError(f"{annotation_file}: file not found")
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: image folder not found")
    match = _ANNOTATION_FILE.match(annotation_file.name)
    split = match["split"] if match else annotation_file.stem
    files = [annotation_file]
    if match:
        for kind in ("captions", "instances"):
            sibling = annotation_file.with_name(f"{kind}_{split}.json")
            if sibling.is_file() and sibling != annotation_file:
                files.append(sibling)
    root = annotation_file.parent.parent if annotation_file.parent.name == "annotations" else annotation_file.parent
    return root, split, SplitFiles(tuple(files), image_dir, *find_vqa_files(root, split))


def open_photos(paths, name: str = "Dropped photos") -> Dataset:
    """Loose photo files (dropped on the window, opened one by one) as a one-split dataset.

    The files stay where they are; ``root`` is the first one's folder. Files
    that are not photos by their name are the caller's to refuse first.
    """
    files = [Path(p).expanduser() for p in paths]
    if not files:
        raise DatasetError("no photos given")
    coco = CocoIndex.from_files(files)
    return Dataset(root=files[0].parent, kind="photos", splits={DROPPED_SPLIT: DatasetSplit(DROPPED_SPLIT, coco)},
                   title=name)


def discover_splits(root: Path) -> list[str]:
    """Split names with a captions or instances file in ``root/annotations``."""
    folder = root / "annotations"
    if not folder.is_dir():
        return []
    names = {m["split"] for p in folder.iterdir() if (m := _ANNOTATION_FILE.match(p.name))}
    # Training splits first, then validation, then the rest alphabetically.
    return sorted(names, key=lambda s: (not s.startswith("train"), not s.startswith("val"), s))


def require_folder(root: Path) -> Path:
    """``root`` if it is a folder; else one ``DatasetError`` line saying what it is."""
    if not root.is_dir():
        raise DatasetError(f"{root}: {'not a folder' if root.exists() else 'folder not found'}")
    return root


def require_split(root: Path, split: str) -> Path:
    """``root`` if it is a dataset folder with the split ``split``; else one ``DatasetError`` line
    naming the files a split needs and the splits the folder has."""
    require_folder(root)
    splits = discover_splits(root)
    if split not in splits:
        known = f"its splits are {', '.join(splits)}" if splits else "it has no annotations/ folder with any"
        raise DatasetError(
            f"{root}: no split '{split}' (expected annotations/captions_{split}.json or "
            f"instances_{split}.json; {known})"
        )
    return root


def find_vqa_files(root: Path, split: str) -> tuple[Path | None, Path | None]:
    """The VQA v2 questions and annotations files for ``split``, if present.

    Official names are ``v2_OpenEnded_mscoco_<split>_questions.json`` and
    ``v2_mscoco_<split>_annotations.json``; the Shapes world writes ``shapes``
    in place of ``mscoco``. They are looked for in ``vqa/``, ``annotations/``
    and the root.
    """
    questions = annotations = None
    for folder in (root / "vqa", root / "annotations", root):
        if not folder.is_dir():
            continue
        questions = questions or _first(folder.glob(f"v2_OpenEnded_*_{split}_questions.json"))
        annotations = annotations or _first(folder.glob(f"v2_*_{split}_annotations.json"))
    return questions, annotations


def _first(paths) -> Path | None:
    found = sorted(paths)
    return found[0] if found else None


def _open_split(root: Path, split: str) -> DatasetSplit:
    files, image_dir = dataset_root_files(root, split)
    return _load(split, SplitFiles(tuple(files), image_dir, *find_vqa_files(root, split)))


def _load(split: str, files: SplitFiles) -> DatasetSplit:
    coco, questions = load_split(files)
    return DatasetSplit(split, coco, questions)

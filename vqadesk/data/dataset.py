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
the same records. Nothing here imports Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from vqadesk.data.coco import CocoIndex
from vqadesk.data.shapes.detect import is_shapes_dataset
from vqadesk.data.vqa import VqaAnnotation, VqaQuestion, read_vqa_annotations, read_vqa_questions
from vqadesk.errors import VqadeskError

_ANNOTATION_FILE = re.compile(r"^(captions|instances)_(?P<split>[\w.-]+)\.json$")


class DatasetError(VqadeskError):
    """The folder is not a dataset vqadesk can open."""


@dataclass(frozen=True)
class QuestionRecord:
    """A question about one image, with its human answers when known."""

    question: VqaQuestion
    annotation: VqaAnnotation | None

    @property
    def text(self) -> str:
        return self.question.question


@dataclass
class DatasetSplit:
    """One split: its COCO index and the VQA questions about its images."""

    name: str
    coco: CocoIndex
    questions_by_image: dict[int, list[QuestionRecord]] = field(default_factory=dict)

    @cached_property
    def image_ids(self) -> list[int]:
        return list(self.coco.image_ids)

    @property
    def question_count(self) -> int:
        return sum(len(records) for records in self.questions_by_image.values())

    def questions(self, image_id: int) -> list[QuestionRecord]:
        return self.questions_by_image.get(image_id, [])

    def filter_image_ids(self, query: str) -> list[int]:
        """Image ids whose id, file name, categories or captions hold every word of ``query``."""
        return self.coco.search(query) if query.strip() else self.image_ids

@dataclass
class Dataset:
    """A dataset folder and its splits, in a stable order (train first)."""

    root: Path
    kind: str  # "coco" (COCO or Shapes layout) or "photos"
    splits: dict[str, DatasetSplit]
    title: str | None = None  # shown instead of the folder's name (e.g. "Dropped photos")

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
        try:
            return self.splits[name]
        except KeyError:
            raise DatasetError(f"{self.root}: no split named '{name}'") from None


def open_dataset(path: str | Path) -> Dataset:
    """Open a COCO/Shapes root, a split folder inside one, or a folder of photos."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: folder not found")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (open single images with File → Open image…)")
    splits = discover_splits(root)
    if not splits and (root.parent / "annotations").is_dir() and discover_splits(root.parent):
        root, splits = root.parent, discover_splits(root.parent)
    if splits:
        return Dataset(root=root, kind="coco", splits={s: _open_split(root, s) for s in splits})
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
    dataset_split = DatasetSplit(split, CocoIndex(files, image_dir=image_dir))
    root = annotation_file.parent.parent if annotation_file.parent.name == "annotations" else annotation_file.parent
    _attach_questions(dataset_split, *find_vqa_files(root, split))
    return Dataset(root=root, kind="coco", splits={split: dataset_split})


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
    dataset_split = DatasetSplit(split, CocoIndex.from_dataset_root(root, split))
    _attach_questions(dataset_split, *find_vqa_files(root, split))
    return dataset_split


def _attach_questions(dataset_split: DatasetSplit, questions_path: Path | None, annotations_path: Path | None) -> None:
    if questions_path is None:
        return
    questions = read_vqa_questions(questions_path).questions
    annotations = read_vqa_annotations(annotations_path) if annotations_path else {}
    by_image: dict[int, list[QuestionRecord]] = {}
    for question in questions:
        record = QuestionRecord(question, annotations.get(question.question_id))
        by_image.setdefault(question.image_id, []).append(record)
    dataset_split.questions_by_image = by_image

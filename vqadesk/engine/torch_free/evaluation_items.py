"""What an evaluation scores: a split's questions (VQA) or images (captioning) with their ground truth.

``split_items(kind, dataset, split, subset, seed)`` reads the split of a dataset root (Shapes or
COCO / VQA v2, the layout ``vqadesk.data.dataset`` opens) and returns the items to evaluate with
everything the evaluation folder records about them: ids, question texts, types, human answers
or reference captions, and each photo's path. It refuses, in one line naming the file or split, a
split that does not exist, a split without the ground truth of the model's kind (a captioner on a
split with no captions, a VQA model on one with no questions), and a split whose questions have
no annotations (test-dev style): an evaluation needs the human answers.

A subset is ``subset`` items drawn without replacement by ``numpy.random.default_rng(seed)``
from the split's items in file order, then put back in file order: the same split, size and seed
give the same subset, on any machine. A subset at least as large as the split is the whole split,
and ``note`` says so. Torch-free: the routine checks its inputs before torch loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqadesk.data.coco import CocoIndex, dataset_root_files
from vqadesk.data.dataset import find_vqa_files, require_split
from vqadesk.data.vqa import VqaAnnotation
from vqadesk.data.vqa_arrays import load_vqa_arrays
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import ImageLoadError, VqadeskError

PathLike = str | os.PathLike[str]


class EvaluationInputError(VqadeskError):
    """The split cannot be evaluated with this model (no ground truth of its kind, no such split...)."""


@dataclass(frozen=True)
class VqaItems:
    """The questions to answer, in file order, each with its annotation and photo."""

    question_ids: list[int]
    image_ids: list[int]
    questions: list[str]
    annotations: list[VqaAnnotation]
    images: list[Path]  # the photo of each question
    questions_path: Path
    annotations_path: Path

    def __len__(self) -> int:
        return len(self.question_ids)


@dataclass(frozen=True)
class CaptionItems:
    """The images to caption, in file order, each with its reference captions."""

    image_ids: list[int]
    references: list[list[str]]
    images: list[Path]
    captions_path: Path

    def __len__(self) -> int:
        return len(self.image_ids)


@dataclass(frozen=True)
class SplitItems:
    """``items``; ``subset`` (``None``: the whole split) and ``split_size``; ``note`` for the user."""

    items: VqaItems | CaptionItems
    split_size: int
    subset: dict[str, int] | None
    note: str | None


def split_items(kind: ModelKind, dataset: PathLike, split: str, subset: int | None = None,
                seed: int = 0) -> SplitItems:
    """The items of ``split`` a ``kind`` model is evaluated on (see the module docstring)."""
    if subset is not None and subset < 1:
        raise EvaluationInputError(f"the subset size must be at least 1, got {subset}")
    if seed < 0:
        raise EvaluationInputError(f"the subset's seed must be at least 0, got {seed}")
    root = require_split(Path(dataset), split)
    if kind == ModelKind.VQA:
        return _vqa_items(root, split, subset, seed)
    return _caption_items(root, split, subset, seed)


def pick_subset(count: int, subset: int | None, seed: int) -> tuple[np.ndarray, str | None]:
    """Rows of the subset (sorted), and the note when the subset is the whole split."""
    if subset is None:
        return np.arange(count), None
    if subset >= count:
        return np.arange(count), (
            f"the subset of {subset:,} is not smaller than the split ({count:,}): evaluating the whole split"
        )
    rows = np.random.default_rng(seed).choice(count, size=subset, replace=False)
    return np.sort(rows), None


def relative_image(path: Path, root: Path) -> str:
    """The photo's path relative to the dataset root (``/`` separators), or absolute when outside it."""
    try:
        return Path(os.path.relpath(path, root)).as_posix() if _inside(path, root) else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _inside(path: Path, root: Path) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(root))


def _vqa_items(root: Path, split: str, subset: int | None, seed: int) -> SplitItems:
    questions_path, annotations_path = find_vqa_files(root, split)
    if questions_path is None:
        raise EvaluationInputError(
            f"{root}: split '{split}' has no VQA questions (v2_OpenEnded_*_{split}_questions.json in vqa/, "
            "annotations/ or the root): a VQA model is evaluated on a split with questions and human answers"
        )
    if annotations_path is None:
        raise EvaluationInputError(
            f"{questions_path}: split '{split}' has questions but no annotations (v2_*_{split}_annotations.json): "
            "an evaluation needs the human answers"
        )
    arrays = load_vqa_arrays(questions_path, annotations_path)
    if not len(arrays):
        raise EvaluationInputError(f"{questions_path}: no questions to evaluate")
    rows, note = pick_subset(len(arrays), subset, seed)
    coco = _image_index(root, split)
    texts = arrays.question_texts
    question_ids = arrays.question_ids[rows].tolist()
    image_ids = arrays.image_ids[rows].tolist()
    photos: dict[int, Path] = {}
    for question_id, image_id in zip(question_ids, image_ids):
        if image_id not in photos:
            photos[image_id] = _photo(coco, image_id, f"asked about by question {question_id}")
    items = VqaItems(
        question_ids=question_ids,
        image_ids=image_ids,
        questions=[texts[row] for row in rows.tolist()],
        annotations=[arrays.annotation(row) for row in rows.tolist()],
        images=[photos[image_id] for image_id in image_ids],
        questions_path=questions_path,
        annotations_path=annotations_path,
    )
    return SplitItems(items, len(arrays), _subset_record(subset, seed, note), note)


def _caption_items(root: Path, split: str, subset: int | None, seed: int) -> SplitItems:
    captions_path = root / "annotations" / f"captions_{split}.json"
    if not captions_path.is_file():
        raise EvaluationInputError(
            f"{root}: split '{split}' has no captions (annotations/captions_{split}.json): a captioner is "
            "evaluated on a split with reference captions"
        )
    coco = _image_index(root, split)
    annotated = [image_id for image_id in coco.image_ids if coco.captions(image_id)]
    if not annotated:
        raise EvaluationInputError(f"{captions_path}: no reference captions: an evaluation needs them")
    rows, note = pick_subset(len(annotated), subset, seed)
    image_ids = [annotated[row] for row in rows.tolist()]
    items = CaptionItems(
        image_ids=image_ids,
        references=[[caption.caption for caption in coco.captions(image_id)] for image_id in image_ids],
        images=[_photo(coco, image_id, "in the captions file") for image_id in image_ids],
        captions_path=captions_path,
    )
    return SplitItems(items, len(annotated), _subset_record(subset, seed, note), note)


def _image_index(root: Path, split: str) -> CocoIndex:
    """The split's images (and captions) from one annotation file: the captions file when there is one.

    Both files list the same images; COCO's instances file is several times larger (objects'
    polygons), and nothing here needs the objects.
    """
    files, image_dir = dataset_root_files(root, split)
    return CocoIndex(files[:1], image_dir=image_dir)


def _photo(coco: CocoIndex, image_id: int, why: str) -> Path:
    path = coco.find_image_path(image_id)
    if path is None:
        raise ImageLoadError(coco.image_dir or "images", f"no image file for image {image_id} ({why})")
    return path


def _subset_record(subset: int | None, seed: int, note: str | None) -> dict[str, int] | None:
    return None if subset is None or note is not None else {"size": subset, "seed": seed}


"""A whole split of the Shapes world in memory: scenes, questions, captions.

Ids and seeds are stable, so files written today and tomorrow line up:

- Each split has its own seed, ``zlib.crc32`` of "vqadesk-shapes:<seed>:<split>"
  (never Python's ``hash()``, which changes between runs).
- Scene ``i`` is drawn from its own ``random.Random(split_seed * 2**32 + i)``,
  so the first 20 scenes are the same whether 20 or 500 are generated.
  Questions draw from one split-wide generator, in image order, so they are
  prefix-stable too.
- Image ids live in a block of a million per split: train 1,000,001...,
  val 2,000,001..., test 3,000,001...; any other split name gets a block
  from the crc32 of its name (100..899,099), well clear of the standard ones.
  Question ids are image_id * 1000 + k, as in VQA; caption and object ids are
  image_id * 10 + k.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from vqadesk.data.shapes.captions import scene_captions
from vqadesk.data.shapes.questions import AnswerBalancer, ShapesQuestion, generate_questions
from vqadesk.data.shapes.scene import (
    DEFAULT_IMAGE_SIZE,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    Scene,
    sample_scene,
)
from vqadesk.errors import VqadeskError

IMAGES_PER_BLOCK = 1_000_000
MAX_IMAGES_PER_SPLIT = IMAGES_PER_BLOCK - 1
STANDARD_SPLIT_BLOCKS = {"train": 1, "val": 2, "test": 3}
_CUSTOM_BLOCK_FIRST = 100
_CUSTOM_BLOCK_COUNT = 899_000
# Letters, digits and hyphens: "_" separates fields in the file names, and
# "annotations" / "vqa" are folders of their own next to the image folders.
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
_RESERVED_SPLIT_NAMES = {"annotations", "vqa"}


class ShapesConfigError(VqadeskError):
    """A Shapes world was asked for with impossible settings."""


@dataclass(frozen=True)
class ShapesCaption:
    caption_id: int
    image_id: int
    caption: str


@dataclass(frozen=True)
class ShapesSplit:
    """Everything in one split, ready to be written or used directly."""

    name: str
    seed: int  # the split's own seed, derived from the dataset seed
    image_size: int
    scenes: tuple[Scene, ...]
    questions: tuple[ShapesQuestion, ...]
    captions: tuple[ShapesCaption, ...]

    def file_name(self, scene: Scene) -> str:
        return image_file_name(self.name, scene.image_id)


def check_split_name(name: str) -> str:
    """Return ``name`` if it can be a split name, else raise ``ShapesConfigError``."""
    if not isinstance(name, str) or not _SPLIT_NAME.fullmatch(name) or name in _RESERVED_SPLIT_NAMES:
        raise ShapesConfigError(
            f"split name {name!r} is not allowed: use 1-32 letters, digits or hyphens "
            "(not 'annotations' or 'vqa')"
        )
    return name


def check_image_count(n_images: int) -> int:
    if isinstance(n_images, bool) or not isinstance(n_images, int) or not 1 <= n_images <= MAX_IMAGES_PER_SPLIT:
        raise ShapesConfigError(f"number of images must be between 1 and {MAX_IMAGES_PER_SPLIT}, got {n_images!r}")
    return n_images


def check_image_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise ShapesConfigError(
            f"image size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels, got {size!r}"
        )
    return size


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ShapesConfigError(f"seed must be an integer, got {seed!r}")
    return seed


def split_seed(seed: int, split: str) -> int:
    """The split's own seed: stable across runs, machines and Python versions."""
    return zlib.crc32(f"vqadesk-shapes:{seed}:{split}".encode())


def image_id_block(split: str) -> int:
    if split in STANDARD_SPLIT_BLOCKS:
        return STANDARD_SPLIT_BLOCKS[split]
    return _CUSTOM_BLOCK_FIRST + zlib.crc32(split.encode("utf-8")) % _CUSTOM_BLOCK_COUNT


def image_id_for(split: str, index: int) -> int:
    """Id of the split's ``index``-th image (0-based)."""
    return image_id_block(split) * IMAGES_PER_BLOCK + index + 1


def image_file_name(split: str, image_id: int) -> str:
    return f"shapes_{split}_{image_id:012d}.png"


def generate_split(
    split: str,
    n_images: int,
    seed: int,
    size: int = DEFAULT_IMAGE_SIZE,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ShapesSplit:
    """Sample ``n_images`` scenes with their questions and captions.

    ``progress(done, total)`` is called after each scene, for long runs.
    """
    check_split_name(split)
    check_image_count(n_images)
    check_seed(seed)
    check_image_size(size)
    own_seed = split_seed(seed, split)
    question_rng = random.Random(own_seed)
    balancer = AnswerBalancer()
    scenes: list[Scene] = []
    questions: list[ShapesQuestion] = []
    captions: list[ShapesCaption] = []
    for index in range(n_images):
        scene_rng = random.Random(own_seed * 2**32 + index)
        scene = sample_scene(scene_rng, image_id=image_id_for(split, index), image_size=size)
        scenes.append(scene)
        questions.extend(generate_questions(scene, question_rng, balancer))
        captions.extend(
            ShapesCaption(scene.image_id * 10 + k, scene.image_id, text)
            for k, text in enumerate(scene_captions(scene))
        )
        if progress is not None:
            progress(index + 1, n_images)
    return ShapesSplit(
        name=split,
        seed=own_seed,
        image_size=size,
        scenes=tuple(scenes),
        questions=tuple(questions),
        captions=tuple(captions),
    )

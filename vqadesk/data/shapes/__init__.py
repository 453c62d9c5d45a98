"""The Shapes world: vqadesk's built-in synthetic dataset (docs/shapes-world.md).

Small images of 2-6 coloured circles, squares and triangles, with COCO
instances and captions and VQA v2 questions and answers about them, written
in the real file formats so every reader, model and metric can run on it
offline. The same seed always gives the same bytes.

The modules read in this order: ``scene`` (what is where), ``render``
(pixels and polygons), ``language`` (naming objects), ``questions`` (seven
balanced families), ``captions`` (five phrasings), ``generate`` (a split in
memory, ids and seeds), ``writer`` (files on disk).

>>> split = generate_split("val", 2, seed=0)
>>> len(split.scenes), len(split.captions)
(2, 10)
"""

from __future__ import annotations

from vqadesk.data.shapes.captions import CAPTION_STYLES, scene_captions
from vqadesk.data.shapes.generate import (
    MAX_IMAGES_PER_SPLIT,
    ShapesCaption,
    ShapesConfigError,
    ShapesSplit,
    generate_split,
    image_file_name,
    image_id_for,
    split_seed,
)
from vqadesk.data.shapes.questions import ANSWER_TYPES, FAMILIES, QUESTIONS_PER_IMAGE, ShapesQuestion
from vqadesk.data.shapes.render import object_polygon, render_scene
from vqadesk.data.shapes.scene import (
    COLOR_NAMES,
    COLORS,
    DEFAULT_IMAGE_SIZE,
    SHAPES,
    SIZES,
    Scene,
    ShapeObject,
    sample_scene,
)
from vqadesk.data.shapes.writer import (
    CATEGORIES,
    DEFAULT_IMAGES_PER_SPLIT,
    DEFAULT_SEED,
    DEFAULT_SPLITS,
    ShapesDatasetSummary,
    ShapesWriteError,
    SplitFiles,
    SplitSummary,
    split_files,
    write_shapes_dataset,
    write_split,
)

__all__ = [
    "ANSWER_TYPES",
    "CAPTION_STYLES",
    "CATEGORIES",
    "COLORS",
    "COLOR_NAMES",
    "DEFAULT_IMAGES_PER_SPLIT",
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_SEED",
    "DEFAULT_SPLITS",
    "FAMILIES",
    "MAX_IMAGES_PER_SPLIT",
    "QUESTIONS_PER_IMAGE",
    "SHAPES",
    "SIZES",
    "Scene",
    "ShapeObject",
    "ShapesCaption",
    "ShapesConfigError",
    "ShapesDatasetSummary",
    "ShapesQuestion",
    "ShapesSplit",
    "ShapesWriteError",
    "SplitFiles",
    "SplitSummary",
    "generate_split",
    "image_file_name",
    "image_id_for",
    "object_polygon",
    "render_scene",
    "sample_scene",
    "scene_captions",
    "split_files",
    "split_seed",
    "write_shapes_dataset",
    "write_split",
]

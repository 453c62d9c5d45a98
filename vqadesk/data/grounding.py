"""Question grounding: which object instances a VQA question names, in order.

VQA v2 has no such field; the Shapes world knows it exactly (it chose the
objects before writing the question), so it writes one more file beside the
questions, ``vqa/shapes_<split>_grounding.json``::

    {"format": "vqadesk-grounding", "version": 1, "data_subtype": "train",
     "grounding": [{"question_id": 1000, "image_id": 1, "instance_ids": [10, 12]}, ...]}

``instance_ids`` are ``id``s of the split's COCO instances annotations, in the
order the question names the objects: "Is the red circle left of the square?"
lists the circle, then the square. Questions that name groups (counts,
existence, comparisons) are not listed. Training uses it to supervise where
the attention model's glimpses look (``vqadesk/engine/training/grounding.py``,
docs/training.md); any other dataset simply has no such file.
"""

from __future__ import annotations

import os
from pathlib import Path

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import check_format, expect, field, read_json

GROUNDING_FORMAT = "vqadesk-grounding"
GROUNDING_VERSION = 1

PathLike = str | os.PathLike[str]


def grounding_file_name(source: str, split: str) -> str:
    """``shapes_train_grounding.json``: the name the Shapes world writes."""
    return f"{source}_{split}_grounding.json"


def find_grounding_file(questions_path: PathLike, split: str) -> Path | None:
    """The grounding file of ``split`` beside its questions file, if there is one."""
    found = sorted(Path(questions_path).parent.glob(f"*_{split}_grounding.json"))
    return found[0] if found else None


def grounding_document(split: str, rows: list[tuple[int, int, tuple[int, ...]]]) -> dict:
    """The file's content for ``(question_id, image_id, instance_ids)`` rows."""
    return {
        "format": GROUNDING_FORMAT,
        "version": GROUNDING_VERSION,
        "data_subtype": split,
        "grounding": [
            {"question_id": question_id, "image_id": image_id, "instance_ids": list(instance_ids)}
            for question_id, image_id, instance_ids in rows
        ],
    }


def read_grounding(path: PathLike) -> dict[int, tuple[int, tuple[int, ...]]]:
    """``{question_id: (image_id, instance_ids)}``; a malformed file names its field."""
    path = Path(path)
    data = read_json(path)
    check_format(data, name=GROUNDING_FORMAT, version=GROUNDING_VERSION, source=path,
                 what="a vqadesk grounding file", version_label="grounding file version")
    found: dict[int, tuple[int, tuple[int, ...]]] = {}
    for position, raw in enumerate(field(data, "grounding", list, path)):
        where = f"grounding[{position}]"
        question_id = field(raw, "question_id", int, path, where)
        image_id = field(raw, "image_id", int, path, where)
        ids = field(raw, "instance_ids", list, path, where)
        instance_ids = tuple(expect(v, int, path, f"{where}.instance_ids[{k}]") for k, v in enumerate(ids))
        if question_id in found:
            raise DataFormatError(path, f"question {question_id} is listed twice", where)
        found[question_id] = (image_id, instance_ids)
    return found

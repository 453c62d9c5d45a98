"""The image the panels are about: its file, and what the dataset knows of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vqadesk.data.coco import CocoCaption
from vqadesk.data.dataset import DatasetSplit, QuestionRecord
from vqadesk.errors import VqadeskError


@dataclass(frozen=True)
class ImageContext:
    path: Path
    image_id: int
    split: DatasetSplit
    is_shapes: bool  # from a Shapes world (the bundled models know nothing else)

    @property
    def questions(self) -> list[QuestionRecord]:
        return self.split.questions(self.image_id)

    @property
    def captions(self) -> tuple[CocoCaption, ...]:
        return self.split.coco.captions(self.image_id)

    @property
    def title(self) -> str:
        return self.split.coco.image(self.image_id).file_name


def question_key(text: str) -> str:
    """How two spellings of one question compare: case, spaces and the final '?' ignored."""
    return " ".join(text.lower().split()).rstrip("?").strip()


def find_question(context: ImageContext | None, text: str) -> QuestionRecord | None:
    """The dataset's record of ``text`` about this image, if the dataset asks it."""
    if context is None:
        return None
    key = question_key(text)
    return next((record for record in context.questions if question_key(record.text) == key), None)


def question_problem(context: ImageContext | None, question: str) -> str | None:
    """Why ``question`` cannot be asked about ``context`` now (the panel says it), or None."""
    if context is None:
        return "Select an image first."
    if not question.strip():
        return "Type a question first: the question is empty."
    return None


def describe_image(split: DatasetSplit, image_id: int) -> str:
    """The line above the viewer (rich text): file, id, size, split and the annotated objects."""
    image = split.coco.image(image_id)
    objects = split.coco.objects(image_id)
    try:
        width, height = split.coco.image_size(image_id)
        size = f"{width} × {height}"
    except VqadeskError:
        size = "unreadable file"
    counts = Counter(obj.category_name for obj in objects)
    summary = ", ".join(f"{name} × {n}" for name, n in sorted(counts.items())) or "no annotated objects"
    return f"<b>{image.file_name}</b> · id {image_id} · {size} · {split.name} · {summary}"

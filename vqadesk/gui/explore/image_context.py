"""The image the panels are about: its file, and what the dataset knows of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vqadesk.data.coco import CocoCaption
from vqadesk.data.dataset import DatasetSplit, QuestionRecord


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

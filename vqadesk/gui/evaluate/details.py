"""What the mistakes browser shows about the selected row: its photo (read off the GUI thread), its text."""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from PySide6.QtGui import QImage

from vqadesk.data.images import load_image
from vqadesk.gui.qimage import pil_to_qimage


def load_photo(image_path: Path) -> QImage:
    """Pool thread: the row's photo."""
    return pil_to_qimage(load_image(image_path))


def describe_row(record) -> str:
    """The selected row as rich text: what was asked, what the model said, what people said, the score."""
    if hasattr(record, "question"):
        top = ", ".join(f"{html.escape(answer)} {score * 100:.0f}%" for answer, score in record.top_k) or "—"
        humans = Counter(record.human_answers)
        people = ", ".join(f"{html.escape(a)}" + (f" ×{n}" if n > 1 else "") for a, n in humans.most_common())
        return (f"<b>{html.escape(record.question)}</b><br>"
                f"Model: <b>{html.escape(record.answer)}</b> — accuracy {record.accuracy:.0f}<br>"
                f"Top answers: {top}<br>Ten people said: {people}<br>"
                f"<small>question {record.question_id}, image {record.image_id}, "
                f"{html.escape(record.question_type)} / {html.escape(record.answer_type)}</small>")
    references = "".join(f"<li>{html.escape(text)}</li>" for text in record.references)
    return (f"<b>{html.escape(record.caption)}</b><br>CIDEr-D {record.cider:.3f}, BLEU-4 {record.bleu4:.3f}"
            f"<br>References:<ul>{references}</ul><small>image {record.image_id}</small>")

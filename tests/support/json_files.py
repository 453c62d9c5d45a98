"""Small JSON documents written by tests: a file in one call, and VQA v2 human answers."""

from __future__ import annotations

import json
from pathlib import Path


def write(path: Path, document) -> Path:
    """``document`` as JSON in ``path`` (UTF-8); the path, for use inline."""
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def human_answers(*answers: str) -> list[dict]:
    """The ``answers`` list of a VQA v2 annotation: one entry per answer, numbered from 1."""
    return [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]

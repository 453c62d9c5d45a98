"""What a batch job makes: its settings, one row per caption or answer, and the photos that failed.

Plain frozen records that pickle (the app sends them between its processes)
and turn into the JSON objects of the progress file (``to_dict`` /
``from_dict``). A photo's rows are one ``CaptionRow`` (its captions, best
first) or one ``AnswerRow`` per question; a photo that could not be read is a
``FailedPhoto``. Each row records the model and the precision that made it
(``ModelResult.precision``); ``edit`` is the text a person wrote in place of
the model's best caption or answer (the app's results table), and ``caption`` /
``answer_text`` give the text that counts: the edit when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vqadesk.errors import VqadeskError
from vqadesk.jsonio import PathLike, expect, optional_field
from vqadesk.jsonio import field as json_field
from vqadesk.text.tokenizer import normalize_text

CAPTIONS = "captions"
VQA = "vqa"
BatchKind = Literal["captions", "vqa"]


class BatchSettingsError(VqadeskError):
    """Settings that cannot make a batch job (no questions for a VQA job, an empty question...)."""


@dataclass(frozen=True)
class BatchSettings:
    """What a job asks of which photos: the header of its progress file and of the JSON export.

    ``kind`` is ``"captions"`` (``beam``, ``num_captions`` count) or ``"vqa"``
    (``questions``, ``top_k`` count); the fields of the other kind are ignored
    by ``differences`` and left out of ``to_dict``. ``model`` is the name or
    path as the user gave it, ``precision`` the one asked for (``auto``...;
    each row records the one that ran). ``root`` is the folder the photos'
    keys are relative to (absolute), ``recursive`` whether subfolders count.
    """

    kind: BatchKind
    model: str
    precision: str = "auto"
    beam: int = 3
    num_captions: int = 1
    top_k: int = 1
    questions: tuple[str, ...] = ()
    root: str | None = None
    recursive: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (CAPTIONS, VQA):
            raise BatchSettingsError(f"a batch job is 'captions' or 'vqa', got {self.kind!r}")
        object.__setattr__(self, "questions", tuple(self.questions))
        if self.kind == VQA:
            if not self.questions:
                raise BatchSettingsError("a VQA batch job needs at least one question")
            for position, question in enumerate(self.questions, 1):
                if not normalize_text(question).strip():  # zero-width spaces count as whitespace, as in answers
                    raise BatchSettingsError(f"question {position} is empty")
        for name in ("beam", "num_captions", "top_k"):
            if getattr(self, name) < 1:
                raise BatchSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")

    def _compared(self) -> dict[str, Any]:
        """The fields that matter for this kind, in the order messages name them."""
        own = {"beam": self.beam, "num_captions": self.num_captions} if self.kind == CAPTIONS else {
            "questions": list(self.questions), "top_k": self.top_k}
        return {"kind": self.kind, "model": self.model, "precision": self.precision, **own,
                "root": self.root, "recursive": self.recursive}

    def differences(self, other: BatchSettings) -> list[str]:
        """``["beam 5 (was 3)", ...]``: how these settings differ from ``other`` (empty: the same job)."""
        mine, theirs = self._compared(), other._compared()
        if mine["kind"] != theirs["kind"]:
            return [f"kind {self.kind} (was {other.kind})"]
        return [f"{name} {_shown(mine[name])} (was {_shown(theirs.get(name))})"
                for name in mine if mine[name] != theirs.get(name)]

    def to_dict(self) -> dict[str, Any]:
        return self._compared()

    @classmethod
    def from_dict(cls, data: Any, *, source: PathLike = "<JSON>", where: str = "settings") -> BatchSettings:
        kind = json_field(data, "kind", str, source, where)
        if kind not in (CAPTIONS, VQA):
            raise BatchSettingsError(f"{source}: field '{where}.kind': expected 'captions' or 'vqa', got {kind!r}")
        questions = optional_field(data, "questions", list, source, where, [])
        for position, question in enumerate(questions):
            expect(question, str, source, f"{where}.questions[{position}]")
        root = optional_field(data, "root", str, source, where)
        try:
            return cls(
                kind=kind, model=json_field(data, "model", str, source, where),
                precision=json_field(data, "precision", str, source, where),
                beam=optional_field(data, "beam", int, source, where, 3),
                num_captions=optional_field(data, "num_captions", int, source, where, 1),
                top_k=optional_field(data, "top_k", int, source, where, 1),
                questions=tuple(questions), root=root,
                recursive=optional_field(data, "recursive", bool, source, where, False),
            )
        except BatchSettingsError as exc:
            raise BatchSettingsError(f"{source}: field '{where}': {exc}") from None


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(repr(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class CaptionRow:
    """A photo's captions, best first, as ``(text, score)`` (score: the model's ranking, higher is better)."""

    key: str
    path: Path
    captions: list[tuple[str, float]]
    model: str
    precision: str
    coco_id: int | None = None
    edit: str | None = None

    @property
    def caption(self) -> str:
        """The caption that counts: the edit, else the model's best."""
        return self.edit if self.edit is not None else self.captions[0][0]

    @property
    def score(self) -> float:
        """The model's best caption's score (also for an edited row)."""
        return self.captions[0][1]


@dataclass(frozen=True)
class AnswerRow:
    """The answer to one question about a photo: the best answer, its score and the top-k (best first)."""

    key: str
    path: Path
    question: str
    answer: str
    score: float
    top_k: list[tuple[str, float]]
    model: str
    precision: str
    coco_id: int | None = None
    edit: str | None = None

    @property
    def answer_text(self) -> str:
        """The answer that counts: the edit, else the model's best."""
        return self.edit if self.edit is not None else self.answer


@dataclass(frozen=True)
class FailedPhoto:
    """A photo the job could not use, and why in one line (``"truncated image"``, ``"file not found"``...)."""

    key: str
    reason: str
    path: Path | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RowEdit:
    """A person's text for a photo's caption (``question`` None) or for its answer to ``question``."""

    key: str
    text: str
    question: str | None = None


Row = CaptionRow | AnswerRow
PhotoResult = CaptionRow | AnswerRow | FailedPhoto


def with_edit(row: Row, edit: RowEdit | None) -> Row:
    """``row`` carrying ``edit``'s text (``row`` itself when there is none)."""
    return row if edit is None else replace(row, edit=edit.text)


@dataclass(frozen=True)
class BatchResults:
    """A job's results read back: its settings (None for files that do not carry them: jsonl, csv,
    coco), its rows in the job's order (edits applied), and the photos that failed."""

    settings: BatchSettings | None
    rows: list[Row]
    failed: list[FailedPhoto]

"""A VQA v2 questions file (and its annotations) as compact arrays, made once and cached.

``load_vqa_arrays(questions, annotations)`` reads the files with the strict
readers of ``vqa.py`` the first time (so a damaged file is named exactly as
there), tokenises every question, normalises every distinct answer once, and
keeps only arrays and string tables:

* per question: ``question_ids``, ``image_ids``, the text, and its tokens as ids
  into a split-local token table (``token_ids`` flat, ``token_offsets`` N + 1) --
  any question vocabulary encodes them with one table lookup;
* per question with annotations: the ``multiple_choice_answer`` and the (usually
  ten) human answers as ids into a table of distinct raw answers, each raw
  answer's official normalisation (``raw_to_normalized``), confidences,
  answer and question types as ids into their tables. The human answers and
  their confidences are flat (``answer_raw``, ``answer_confidence``, question
  i's at ``answer_offsets[i]:answer_offsets[i + 1]``), not padded to the
  longest list: one question with 200,000 answers costs its own answers, not
  200,000 slots for every question.

``array_cache`` stores them beside the questions file and reuses them until
an input changes: the 443,757 questions of VQA v2 train are read back in well
under a second instead of being parsed again (docs/benchmarks.md).
``VqaArrays.annotation(i)`` rebuilds the ``VqaAnnotation`` of question ``i``
on demand, for the official metric; ``AnnotationRows`` is a lazy sequence of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from vqadesk.data.array_cache import CacheInfo, cached_arrays, pack_strings, unpack_strings
from vqadesk.data.vqa import VqaAnnotation, join_questions, read_vqa_annotations, read_vqa_questions

PathLike = str | os.PathLike[str]

# Bump when _build changes what it stores (the tokeniser's or the normaliser's rules
# included): every older cache entry is then rebuilt.
BUILDER_VERSION = 2  # 2: flat answers and confidences (int32), no padding


def load_vqa_arrays(questions_path: PathLike, annotations_path: PathLike | None = None) -> VqaArrays:
    """The questions (joined with their annotations when given) as ``VqaArrays``, cached."""
    inputs = [Path(questions_path)] + ([Path(annotations_path)] if annotations_path is not None else [])
    kind = "vqa-annotated" if annotations_path is not None else "vqa-questions"
    arrays, info = cached_arrays(kind, inputs, lambda: _build(*inputs), builder_version=BUILDER_VERSION)
    return VqaArrays(arrays, questions_path=Path(questions_path),
                     annotations_path=Path(annotations_path) if annotations_path is not None else None, cache=info)


class StringTable:
    """Distinct strings -> consecutive ids, in first-seen order."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, text: str) -> int:
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.ids)
        return found

    def packed(self, name: str) -> dict[str, np.ndarray]:
        data, offsets = pack_strings(list(self.ids))
        return {f"{name}_utf8": data, f"{name}_offsets": offsets}


def _build(questions_path: Path, annotations_path: Path | None = None) -> dict[str, np.ndarray]:
    # Imported here: spaCy loads in about a second, and only a rebuild needs it.
    from vqadesk.text.answers import normalize_answer
    from vqadesk.text.tokenizer import tokenize_questions

    questions = read_vqa_questions(questions_path)
    annotations = read_vqa_annotations(annotations_path) if annotations_path is not None else None
    samples = join_questions(questions.questions, annotations, questions_path=questions_path,
                             annotations_path=annotations_path or "annotations")
    texts = [s.question.question for s in samples]
    tokens = StringTable()
    token_lists = tokenize_questions(texts)
    token_ids = np.fromiter((tokens.id(t) for ts in token_lists for t in ts), dtype=np.int32)
    token_offsets = np.zeros(len(samples) + 1, dtype=np.int64)
    np.cumsum([len(ts) for ts in token_lists], out=token_offsets[1:])
    text_data, text_offsets = pack_strings(texts)
    arrays = {
        "question_ids": np.array([s.question.question_id for s in samples], dtype=np.int64),
        "image_ids": np.array([s.question.image_id for s in samples], dtype=np.int64),
        "text_utf8": text_data, "text_offsets": text_offsets,
        "token_ids": token_ids, "token_offsets": token_offsets, **tokens.packed("tokens"),
    }
    if annotations is None:
        return arrays

    raw, confidences, answer_types, question_types = StringTable(), StringTable(), StringTable(), StringTable()
    records = [s.annotation for s in samples]
    answer_offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r.answers) for r in records], out=answer_offsets[1:])
    answer_raw = np.fromiter((raw.id(a) for r in records for a in r.answers), dtype=np.int32,
                             count=int(answer_offsets[-1]))
    answer_confidence = np.fromiter((confidences.id(c) for r in records for c in r.answer_confidences),
                                    dtype=np.int32, count=int(answer_offsets[-1]))
    multiple_choice = np.array([raw.id(r.multiple_choice_answer) for r in records], dtype=np.int32)
    normalized = StringTable()
    raw_to_normalized = np.array([normalized.id(normalize_answer(text)) for text in raw.ids], dtype=np.int32)
    arrays.update({
        "answer_offsets": answer_offsets, "answer_raw": answer_raw, "answer_confidence": answer_confidence,
        "multiple_choice": multiple_choice,
        "raw_to_normalized": raw_to_normalized,
        "answer_type": np.array([answer_types.id(r.answer_type) for r in records], dtype=np.int32),
        "question_type": np.array([question_types.id(r.question_type) for r in records], dtype=np.int32),
        **raw.packed("raw"), **normalized.packed("normalized"), **confidences.packed("confidences"),
        **answer_types.packed("answer_types"), **question_types.packed("question_types"),
    })
    return arrays


class VqaArrays:
    """One questions file's arrays (see the module docstring); ``has_answers`` with annotations."""

    def __init__(self, arrays: dict[str, np.ndarray], *, questions_path: Path, annotations_path: Path | None,
                 cache: CacheInfo):
        self.questions_path = questions_path
        self.annotations_path = annotations_path
        self.cache = cache
        self.question_ids: np.ndarray = arrays["question_ids"]  # (N,) int64
        self.image_ids: np.ndarray = arrays["image_ids"]  # (N,) int64
        self.token_ids: np.ndarray = arrays["token_ids"]  # (total tokens,) int32 ids into `tokens`
        self.token_offsets: np.ndarray = arrays["token_offsets"]  # (N + 1,) int64
        self.tokens: tuple[str, ...] = tuple(_strings(arrays, "tokens"))
        self._arrays = arrays
        self.has_answers = "answer_offsets" in arrays
        if self.has_answers:
            self.answer_offsets: np.ndarray = arrays["answer_offsets"]  # (N + 1,) int64
            self.answer_raw: np.ndarray = arrays["answer_raw"]  # (total answers,) int32 ids into `raw_answers`
            self.answer_confidence: np.ndarray = arrays["answer_confidence"]  # (total,) int32 ids into `confidences`
            self.multiple_choice: np.ndarray = arrays["multiple_choice"]  # (N,) ids into `raw_answers`
            self.raw_to_normalized: np.ndarray = arrays["raw_to_normalized"]  # ids into `normalized_answers`
            self.answer_type: np.ndarray = arrays["answer_type"]  # (N,) ids into `answer_types`
            self.question_type: np.ndarray = arrays["question_type"]
            self.raw_answers = tuple(_strings(arrays, "raw"))
            self.normalized_answers = tuple(_strings(arrays, "normalized"))
            self.confidences = tuple(_strings(arrays, "confidences"))
            self.answer_types = tuple(_strings(arrays, "answer_types"))
            self.question_types = tuple(_strings(arrays, "question_types"))

    def __len__(self) -> int:
        return len(self.question_ids)

    @cached_property
    def question_texts(self) -> tuple[str, ...]:
        return tuple(_strings(self._arrays, "text"))

    def annotation(self, row: int) -> VqaAnnotation:
        """The ``VqaAnnotation`` of question ``row``, as the reader made it."""
        if not self.has_answers:
            raise ValueError(f"{self.questions_path}: read without annotations")
        start, end = int(self.answer_offsets[row]), int(self.answer_offsets[row + 1])
        return VqaAnnotation(
            question_id=int(self.question_ids[row]),
            image_id=int(self.image_ids[row]),
            question_type=self.question_types[self.question_type[row]],
            answer_type=self.answer_types[self.answer_type[row]],
            multiple_choice_answer=self.raw_answers[self.multiple_choice[row]],
            answers=tuple(self.raw_answers[i] for i in self.answer_raw[start:end].tolist()),
            answer_confidences=tuple(self.confidences[i] for i in self.answer_confidence[start:end].tolist()),
        )

    def describe(self) -> dict[str, Any]:
        return {"questions": str(self.questions_path),
                "annotations": str(self.annotations_path) if self.annotations_path else None,
                "cache": self.cache.to_dict()}


class AnnotationRows(Sequence[VqaAnnotation]):
    """The annotations of questions ``rows`` of a ``VqaArrays``, made when read.

    Holding 443k ``VqaAnnotation`` objects costs hundreds of MB; the training
    split only needs their answer types, the validation split builds them for
    the metric, once per validation.
    """

    def __init__(self, arrays: VqaArrays, rows: np.ndarray):
        self.arrays = arrays
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return AnnotationRows(self.arrays, self.rows[index])
        return self.arrays.annotation(int(self.rows[index]))

    def take(self, positions: Sequence[int]) -> AnnotationRows:
        return AnnotationRows(self.arrays, self.rows[np.asarray(positions, dtype=np.int64)])

    @property
    def answer_types(self) -> tuple[str, ...]:
        table = self.arrays.answer_types
        return tuple(table[i] for i in self.arrays.answer_type[self.rows].tolist())

    @property
    def question_types(self) -> tuple[str, ...]:
        table = self.arrays.question_types
        return tuple(table[i] for i in self.arrays.question_type[self.rows].tolist())


def _strings(arrays: dict[str, np.ndarray], name: str) -> list[str]:
    return unpack_strings(arrays[f"{name}_utf8"], arrays[f"{name}_offsets"])

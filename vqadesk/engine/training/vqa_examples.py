"""VQA training data: one split of a dataset root as tensors, one example per question.

``VqaExamples.from_dataset(root, split)`` reads a COCO-style root (a Shapes
world written by ``vqadesk shapes``, or COCO with VQA v2 files) and holds:

* ``images`` -- ``uint8 (N_img, 3, S, S)``, every image asked about, loaded
  once (see ``image_tensors``), or, built with a feature store, a
  ``StoreImages`` whose rows are read from the memory-mapped store per batch
  (full-scale COCO: 123k images' features never in memory at once);
* per question: ``image_rows`` (row in ``images``), ``questions`` -- token ids
  ``long (N_q, T)`` padded with ``<pad>`` = 0, ``lengths``, ``answers`` -- the
  class of the normalised ``multiple_choice_answer`` or -1 when it is not in
  the answer vocabulary, soft targets, ``question_ids``, ``annotations``
  (answer and question types, the ten raw human answers, for the official
  metric).

The JSON files are read once into compact arrays cached beside them
(``vqadesk.data.vqa_arrays``); later runs read the arrays back.

Vocabularies: the training split builds the question ``Vocabulary`` and the
top-K ``AnswerVocabulary`` from itself; the validation split is given the
training ones and maps words it does not know to ``<unk>`` and answers it
does not know to -1.

Soft targets (as in Teney et al. 2017 and MMF): every human answer is
normalised with the official ``normalize_answer``, like the answers of the
answer vocabulary (the bottom-up baseline counts human answers raw, so "Net"
misses the "net" class there), equal ones are counted, and each answer in the
vocabulary scores ``min(count / 3, 1)`` (``soft_score="min3"``, the VQA
paper's formula), or the official accuracy a prediction of it would earn, the
mean over the ten leave-one-out subsets (``"official"``: 1 -> 0.3, 2 -> 0.6,
3 -> 0.9, 4+ -> 1). They are kept sparse (the classes each question has,
padded with -1) and made dense, ``(K,)``, per item (docs/training-data.md).

Questions whose answer is out of the vocabulary are kept, with ``answer`` -1
and an all-zero soft target when no human answer is in it either. The
official baselines (Antol et al.'s VQA_LSTM_CNN) drop them from training with
their single-answer cross-entropy; soft-score (BCE) training keeps them.
``trainable_mask()`` selects the questions a single-answer loss can use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from vqadesk.data.coco import CocoIndex
from vqadesk.data.dataset import DatasetError, find_vqa_files
from vqadesk.data.feature_store import FeatureStore
from vqadesk.data.grounding import find_grounding_file, read_grounding
from vqadesk.data.vqa import VqaAnnotation
from vqadesk.data.vqa_arrays import AnnotationRows, VqaArrays, load_vqa_arrays
from vqadesk.engine.training.examples import ExampleSet, check_rows, readable_rows, split_images
from vqadesk.engine.training.grounding import grounding_boxes
from vqadesk.engine.training.vqa_encoding import (
    answer_targets,
    build_answer_vocabulary,
    build_question_vocabulary,
    encode_questions,
    first_asked_images,
)
from vqadesk.errors import ImageLoadError
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import UNK_ID, Vocabulary

PathLike = str | os.PathLike[str]
SoftScore = Literal["min3", "official"]
SOFT_SCORES: tuple[str, ...] = ("min3", "official")


class VqaExamples(ExampleSet):
    """One split's questions as tensors; ``examples[i]`` is a dict of tensors.

    Build it with ``from_dataset``; ``subset``/``first`` make smaller views
    that share the image tensor and the vocabularies.
    """

    VOCABULARIES = {"question_vocab": Vocabulary, "answer_vocab": AnswerVocabulary}
    INDEX_WORDS = "subset index"

    def __init__(
        self,
        *,
        split: str,
        question_vocab: Vocabulary,
        answer_vocab: AnswerVocabulary,
        images: torch.Tensor,
        image_ids: Sequence[int],
        image_rows: torch.Tensor,
        questions: torch.Tensor,
        lengths: torch.Tensor,
        token_counts: torch.Tensor,
        answers: torch.Tensor,
        target_classes: torch.Tensor,
        target_scores: torch.Tensor,
        question_ids: Sequence[int],
        question_texts: Sequence[str],
        annotations: Sequence[VqaAnnotation],
        soft_score: SoftScore,
        grounding: torch.Tensor | None = None,
    ):
        count = len(question_ids)
        check_rows(count, "questions", (
            ("image_rows", image_rows),
            ("questions", questions),
            ("lengths", lengths),
            ("token_counts", token_counts),
            ("answers", answers),
            ("target_classes", target_classes),
            ("target_scores", target_scores),
            *((("grounding", grounding),) if grounding is not None else ()),
        ))
        if len(question_texts) != count or len(annotations) != count:
            raise ValueError("question_texts and annotations need one entry per question")
        self.split = split
        self.question_vocab = question_vocab
        self.answer_vocab = answer_vocab
        self.images = images  # (N_img, 3, S, S) uint8
        self.image_ids: tuple[int, ...] = tuple(image_ids)  # image id of each row of ``images``
        self.image_rows = image_rows  # (N_q,) long
        self.questions = questions  # (N_q, T) long, <pad> = 0
        self.lengths = lengths  # (N_q,) long, 1..T
        self.token_counts = token_counts  # (N_q,) long, before truncation (0 for an empty question)
        self.answers = answers  # (N_q,) long, -1 = not in the answer vocabulary
        self.target_classes = target_classes  # (N_q, W) long, -1 padded
        self.target_scores = target_scores  # (N_q, W) float32, 0 where padded
        self.question_ids: tuple[int, ...] = tuple(question_ids)
        self.question_texts: tuple[str, ...] = tuple(question_texts)
        # Built from the compact arrays, annotations stay lazy (AnnotationRows): a full split's
        # annotations as objects would cost hundreds of MB (docs/benchmarks.md).
        self.annotations_list: Sequence[VqaAnnotation] = (
            annotations if isinstance(annotations, AnnotationRows) else tuple(annotations)
        )
        self.soft_score = soft_score
        # (N_q, MAX_NAMED, 4) boxes of the objects each question names (engine/training/grounding.py),
        # NaN where it names fewer; None when the dataset has no grounding file.
        self.grounding = grounding
        self.source: dict[str, Any] = {}  # the files (and feature store) these examples were read from

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_dataset(
        cls,
        root: PathLike,
        split: str,
        *,
        question_vocab: Vocabulary | None = None,
        answer_vocab: AnswerVocabulary | None = None,
        top_k: int = 1000,
        max_question_len: int = 20,
        image_size: int = 128,
        min_word_count: int = 1,
        soft_score: SoftScore = "min3",
        features: FeatureStore | None = None,
        questions_path: PathLike | None = None,
        annotations_path: PathLike | None = None,
        drop_unreadable_images: bool = False,
        read_grounding_file: bool = False,
    ) -> VqaExamples:
        """Read ``split`` of ``root``; vocabularies not given are built from it.

        ``top_k`` answers make the answer vocabulary; questions are cut to
        ``max_question_len`` tokens; words seen fewer than ``min_word_count``
        times stay out of a question vocabulary built here.

        With ``features`` (a feature store) the images are that store's rows
        and neither COCO annotation files nor photos are read; with
        ``drop_unreadable_images`` questions about images the extraction had
        to skip are left out (``summary()["dropped_questions"]``).
        ``questions_path`` / ``annotations_path`` replace the files found in
        ``root`` (``find_vqa_files``). The JSON is read through the compact
        arrays of ``vqadesk.data.vqa_arrays``, cached beside it. With
        ``read_grounding_file`` the boxes of the objects each question names
        are read from a grounding file beside the questions, when there is one
        and the images are read from the dataset (``engine/training/grounding.py``).
        """
        if max_question_len < 1:
            raise ValueError(f"max_question_len must be at least 1, got {max_question_len}")
        if soft_score not in SOFT_SCORES:
            raise ValueError(f"unknown soft_score {soft_score!r}; expected one of {SOFT_SCORES}")
        root = Path(root)
        # Pixels need the COCO index to find the files; it also names a missing annotations/ folder.
        coco = CocoIndex.from_dataset_root(root, split) if features is None else None
        questions_path, annotations_path = vqa_split_files(root, split, questions_path, annotations_path)
        if annotations_path is None:
            raise DatasetError(
                f"{root}: no VQA annotations (answers) for split '{split}' "
                f"(expected v2_<source>_{split}_annotations.json {_PLACES}); training needs the answers"
            )
        arrays = load_vqa_arrays(questions_path, annotations_path)
        if not len(arrays):
            raise DatasetError(f"{questions_path}: no questions to train on")
        rows = readable_rows(arrays.image_ids, features, drop_unreadable_images)

        if question_vocab is None:
            question_vocab = build_question_vocabulary(arrays, rows, min_word_count)
        if answer_vocab is None:
            answer_vocab = build_answer_vocabulary(arrays, rows, top_k)
        questions, lengths, token_counts = encode_questions(arrays, rows, question_vocab, max_question_len)
        answers, target_classes, target_scores = answer_targets(arrays, rows, answer_vocab, soft_score)

        # Images in the order questions first ask about them.
        image_ids, image_rows = first_asked_images(arrays.image_ids[rows])
        images = split_images(features, image_ids.tolist(),
                              what=f"the {len(image_ids):,} images the '{split}' questions ask about",
                              image_files=lambda: question_image_files(coco, arrays, rows, image_ids),
                              image_size=image_size)

        grounding = None
        grounding_path = find_grounding_file(questions_path, split) if read_grounding_file and coco else None
        if grounding_path is not None:
            grounding = grounding_boxes(read_grounding(grounding_path), grounding_path, coco,
                                        arrays.question_ids[rows].tolist(), arrays.image_ids[rows].tolist())

        examples = cls(
            split=split,
            question_vocab=question_vocab,
            answer_vocab=answer_vocab,
            images=images,
            image_ids=image_ids.tolist(),
            image_rows=torch.from_numpy(image_rows),
            questions=questions,
            lengths=lengths,
            token_counts=token_counts,
            answers=answers,
            target_classes=target_classes,
            target_scores=target_scores,
            question_ids=arrays.question_ids[rows].tolist(),
            question_texts=[arrays.question_texts[r] for r in rows.tolist()],
            annotations=AnnotationRows(arrays, rows),
            soft_score=soft_score,
            grounding=grounding,
        )
        examples.source = {**arrays.describe(), "dropped_questions": len(arrays) - len(rows),
                           "grounding": str(grounding_path) if grounding_path is not None else None,
                           "features": features.describe() if features is not None else None}
        return examples

    # -- Dataset ----------------------------------------------------------------------------------

    def columns(self, at: int | torch.Tensor) -> dict[str, torch.Tensor]:
        one = not isinstance(at, torch.Tensor)
        rows = slice(at, at + 1) if one else at  # the soft targets are made dense a batch at a time
        soft_targets = self._dense_targets(self.target_classes[rows], self.target_scores[rows])  # (B, K) float32
        return {
            "question": self.questions[at],  # (T,) long, or (B, T)
            "length": self.lengths[at],  # () long, or (B,)
            "answer": self.answers[at],  # () long, or (B,): -1 = out of vocabulary
            "soft_target": soft_targets[0] if one else soft_targets,
            **({"grounding": self.grounding[at]} if self.grounding is not None else {}),  # ([B,] MAX_NAMED, 4)
        }

    def _dense_targets(self, classes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        dense = torch.zeros((classes.shape[0], len(self.answer_vocab)), dtype=torch.float32)  # (B, K)
        # Padding (-1) goes to class 0 with score 0: scatter_add leaves it unchanged.
        dense.scatter_add_(1, classes.clamp(min=0), scores)
        return dense

    # -- views ------------------------------------------------------------------------------------

    def subset_arguments(self, rows: torch.Tensor) -> dict[str, Any]:
        picked = rows.tolist()
        return {
            "questions": self.questions[rows],
            "lengths": self.lengths[rows],
            "token_counts": self.token_counts[rows],
            "answers": self.answers[rows],
            "target_classes": self.target_classes[rows],
            "target_scores": self.target_scores[rows],
            "question_ids": [self.question_ids[i] for i in picked],
            "question_texts": [self.question_texts[i] for i in picked],
            "annotations": _take(self.annotations_list, picked),
            "soft_score": self.soft_score,
            "grounding": self.grounding[rows] if self.grounding is not None else None,
        }

    def trainable_mask(self) -> torch.Tensor:
        """``bool (N_q,)``: the questions whose answer is in the vocabulary.

        A single-answer (cross-entropy) loss can only use these, as the
        official baselines do: ``examples.subset(examples.trainable_mask().nonzero().flatten())``.
        """
        return self.answers >= 0

    # -- per-question metadata --------------------------------------------------------------------

    @property
    def annotations(self) -> dict[int, VqaAnnotation]:
        """``{question_id: annotation}`` of these questions: ground truth for ``evaluate_vqa``."""
        return dict(zip(self.question_ids, self.annotations_list))

    @property
    def answer_types(self) -> tuple[str, ...]:
        if isinstance(self.annotations_list, AnnotationRows):
            return self.annotations_list.answer_types  # from the arrays, no annotation built
        return tuple(a.answer_type for a in self.annotations_list)

    @property
    def question_types(self) -> tuple[str, ...]:
        if isinstance(self.annotations_list, AnnotationRows):
            return self.annotations_list.question_types
        return tuple(a.question_type for a in self.annotations_list)

    @property
    def human_answers(self) -> tuple[tuple[str, ...], ...]:
        """The raw human answers (usually ten) of each question, as in the file."""
        return tuple(a.answers for a in self.annotations_list)

    @property
    def question_image_ids(self) -> tuple[int, ...]:
        return tuple(self.image_ids[row] for row in self.image_rows.tolist())

    @property
    def max_question_len(self) -> int:
        return int(self.questions.shape[1])

    def summary(self) -> dict[str, Any]:
        """Sizes and coverage for the training routine's ``start`` event (JSON-ready)."""
        in_vocab = self.answers >= 0
        by_type: dict[str, list[bool]] = {}
        for answer_type, known in zip(self.answer_types, in_vocab.tolist()):
            by_type.setdefault(answer_type, []).append(known)
        words = int(self.lengths.sum())
        return {
            **self.sizes("questions"),
            "question_vocab_size": len(self.question_vocab),
            "answer_vocab_size": len(self.answer_vocab),
            # Coverage of the split the answer vocabulary was built from (training).
            "answer_vocab_coverage": self.answer_vocab.coverage,
            # Coverage of these questions (differs on a validation split).
            "answer_coverage": _fraction(int(in_vocab.sum()), len(self)),
            "answer_coverage_by_type": {t: _fraction(sum(v), len(v)) for t, v in sorted(by_type.items())},
            "unanswerable_questions": int((~in_vocab).sum()),
            "max_question_len": self.max_question_len,
            "truncated_questions": int((self.token_counts > self.max_question_len).sum()),
            "unknown_word_rate": _fraction(int((self.questions == UNK_ID).sum()), words),
            "soft_score": self.soft_score,
            # Questions whose named objects supervise the attention (engine/training/grounding.py).
            "grounded_questions": (0 if self.grounding is None
                                   else int((~self.grounding[:, 0].isnan().any(dim=1)).sum())),
            "source": self.source,  # files, cache, feature store, questions dropped for unreadable images
        }


# -- reading --------------------------------------------------------------------------------------

_PLACES = "in vqa/, annotations/ or the root"


def vqa_split_files(
    root: Path, split: str, questions_path: PathLike | None = None, annotations_path: PathLike | None = None
) -> tuple[Path, Path | None]:
    """The split's questions file and annotations file (None when there is none).

    Paths given win; otherwise ``find_vqa_files`` looks in ``vqa/``,
    ``annotations/`` and the root by the official names.
    """
    found_questions, found_annotations = find_vqa_files(root, split)
    questions = Path(questions_path) if questions_path is not None else found_questions
    annotations = Path(annotations_path) if annotations_path is not None else found_annotations
    if questions is None:
        raise DatasetError(
            f"{root}: no VQA questions for split '{split}' "
            f"(expected v2_OpenEnded_<source>_{split}_questions.json {_PLACES})"
        )
    return questions, annotations


def question_image_files(coco: CocoIndex, arrays: VqaArrays, rows: np.ndarray, image_ids: np.ndarray) -> list[Path]:
    """The file of every image, in ``image_ids`` order; a missing one names the question asking."""
    paths = []
    for image_id in image_ids.tolist():
        path = coco.find_image_path(image_id)
        if path is None:
            asking = int(arrays.question_ids[rows][arrays.image_ids[rows] == image_id][0])
            raise ImageLoadError(
                coco.image_dir or "images",
                f"no image file for image {image_id} (asked about by question {asking})",
            )
        paths.append(path)
    return paths


def _take(annotations: Sequence[VqaAnnotation], picked: list[int]) -> Sequence[VqaAnnotation]:
    if isinstance(annotations, AnnotationRows):
        return annotations.take(picked)
    return [annotations[i] for i in picked]


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole else 0.0

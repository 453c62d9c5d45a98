"""A trained checkpoint on a dataset split: official-format results and official metrics.

``evaluate_checkpoint(checkpoint, data, split)`` reads the checkpoint's kind
from the file, loads the model with its own vocabularies, reads the split at
the checkpoint's image size and question length, answers every question (VQA)
or captions every image (captioning), and returns the results in the official
format together with the official metrics: VQA accuracy overall, per answer
type and per question type; corpus BLEU-1..4 and CIDEr-D. A split without
ground truth (test-dev style: questions without annotations, images without
captions) gets results only, and ``missing_ground_truth`` says why there are
no metrics. A model trained on a feature store reads the split's images
from a store made the same way (``SplitFiles.features``), so no photo and no
COCO annotation file is needed. ``python -m training.evaluate`` is its
command line.

``answer_questions`` and ``caption_images`` are the decoding loops, under
``torch.inference_mode`` (nothing they make reaches autograd) and
``precision``'s autocast, except a captioner's beam search, which always
decodes in float32 (the Predictor's rule too: docs/performance.md). The training tasks validate with them too, in
fp32 (the choice of ``best`` and early stopping never depend on a CPU's
bf16 support), so ``--precision fp32`` reproduces an ``epoch`` event's
metrics exactly and ``auto`` to within what docs/performance.md measures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from vqadesk.data.coco import CocoIndex
from vqadesk.data.dataset import DatasetError, require_folder, require_split
from vqadesk.data.feature_store import FeatureStore
from vqadesk.data.vqa_arrays import load_vqa_arrays
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.checkpoints.trained_models import (
    TrainedCaptioner,
    TrainedVqa,
    load_trained_captioner,
    load_trained_vqa,
)
from vqadesk.engine.features.store_features import StoreImages, check_store_matches
from vqadesk.engine.image_tensors import gather_images, load_image_tensors
from vqadesk.engine.precision import autocast
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.training.caption_examples import CaptionExamples
from vqadesk.engine.training.vqa_encoding import encode_questions, first_asked_images
from vqadesk.engine.training.vqa_examples import VqaExamples, question_image_files, vqa_split_files
from vqadesk.errors import EvaluationError
from vqadesk.metrics import CaptionEvaluation, VqaEvaluation, evaluate_captions, evaluate_vqa
from vqadesk.metrics.results_io import CaptionResult, VqaResult, write_caption_results, write_vqa_results
from vqadesk.models import Captioner, ImageEncoderConfig, VqaModel
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import Vocabulary

PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None]  # (done, total) after each batch

# The training tasks' validation batch sizes: a VQA batch is cheap (one
# forward), a caption batch runs beam search over every image of it.
VQA_BATCH = 256
CAPTION_BATCH = 64
DEFAULT_BEAM_SIZE = 3


class QuestionTensors(Protocol):
    """What ``answer_questions`` reads; ``VqaExamples`` is one."""

    images: Tensor  # (N_img, 3, S, S) uint8
    image_rows: Tensor  # (N_q,) long: the row of ``images`` each question is about
    questions: Tensor  # (N_q, T) long, <pad> = 0
    lengths: Tensor  # (N_q,) long
    question_ids: Sequence[int]


@dataclass(frozen=True)
class CheckpointEvaluation:
    """Results of one checkpoint on one split, with the official metrics when the split allows.

    Exactly one of ``vqa`` / ``captions`` is set when there is ground truth;
    otherwise both are ``None`` and ``missing_ground_truth`` says what is missing.
    """

    kind: ModelKind
    split: str
    checkpoint: Path
    results: tuple[VqaResult, ...] | tuple[CaptionResult, ...]
    precision: str = "fp32"  # the arithmetic the model ran in (resolved)
    vqa: VqaEvaluation | None = None
    captions: CaptionEvaluation | None = None
    missing_ground_truth: str | None = None

    def metrics(self) -> dict[str, Any] | None:
        """The metrics as JSON: the official VQA key names (without the per-question
        table), or ``{"BLEU-1", ..., "CIDEr"}``; ``None`` without ground truth."""
        if self.vqa is not None:
            return {
                "overall": self.vqa.overall,
                "perAnswerType": dict(self.vqa.per_answer_type),
                "perQuestionType": dict(self.vqa.per_question_type),
                "questions": self.vqa.num_questions,
            }
        if self.captions is not None:
            return {**self.captions.scores(), "images": self.captions.num_images}
        return None

    def write_results(self, path: PathLike) -> None:
        """The official results file, written atomically."""
        if self.kind == ModelKind.VQA:
            write_vqa_results(path, self.results)
        else:
            write_caption_results(path, self.results)


# -- the decoding loops (shared with the training tasks' validation) -----------------------------


@torch.inference_mode()
def answer_questions(
    model: VqaModel,
    questions: QuestionTensors,
    answer_vocab: AnswerVocabulary,
    *,
    device: torch.device,
    batch_size: int = VQA_BATCH,
    progress: Progress | None = None,
    precision: str = "fp32",
) -> dict[int, str]:
    """``{question_id: answer}``: the highest-scoring answer to every question.

    Each image of a batch goes through the image encoder once, however many
    of the batch's questions ask about it.
    """
    count = len(questions.question_ids)
    answers: dict[int, str] = {}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, count, batch_size):
            rows = torch.arange(start, min(start + batch_size, count))
            images, per_question = torch.unique(questions.image_rows[rows], return_inverse=True)
            with autocast(precision, device):
                features = model.encode_images(gather_images(questions.images, images).to(device))
                output = model.answer(
                    features[per_question.to(device)],  # one row per question
                    questions.questions[rows].to(device),
                    questions.lengths[rows].to(device),
                )
            best = output.logits.argmax(dim=1).tolist()  # (B,)
            for row, index in zip(rows.tolist(), best):
                answers[questions.question_ids[row]] = answer_vocab.answer_of(index)
            if progress is not None:
                progress(int(rows[-1]) + 1, count)
    finally:
        model.train(was_training)
    return answers


def decode_caption(vocab: Vocabulary, token_ids: list[int]) -> str:
    """Word ids (no ``<start>``/``<end>``) as the caption text the metrics read."""
    return " ".join(vocab.decode(token_ids))


@torch.inference_mode()
def caption_images(
    model: Captioner,
    vocab: Vocabulary,
    images: Tensor,
    image_ids: Sequence[int],
    *,
    device: torch.device,
    beam_size: int = DEFAULT_BEAM_SIZE,
    batch_size: int = CAPTION_BATCH,
    rows: Tensor | None = None,
    progress: Progress | None = None,
    precision: str = "fp32",
) -> dict[int, str]:
    """``{image_id: caption}``: the best beam's caption of each image.

    ``images`` (N, 3, S, S) uint8 with ``image_ids[i]`` the id of row i;
    ``rows`` picks the rows to caption (default: all of them).
    """
    rows = torch.arange(images.shape[0]) if rows is None else rows.reshape(-1)
    count = int(rows.numel())
    captions: dict[int, str] = {}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, count, batch_size):
            batch_rows = rows[start : start + batch_size]
            with autocast(precision, device):
                features = model.encode_images(gather_images(images, batch_rows).to(device))
            generated = model.generate(features.float(), beam_size=beam_size)  # fp32: see CAPTION_DECODING
            for row, best_first in zip(batch_rows.tolist(), generated):
                captions[image_ids[row]] = decode_caption(vocab, best_first[0].token_ids)
            if progress is not None:
                progress(start + len(batch_rows), count)
    finally:
        model.train(was_training)
    return captions


# -- a checkpoint on a split ----------------------------------------------------------------------


@dataclass(frozen=True)
class SplitFiles:
    """Where a split's data are when not (only) in the dataset root's official places.

    ``features``: a feature store holding the split's images (for models trained
    on one); ``questions`` / ``annotations`` (VQA) and ``captions`` replace the
    files found by their official names.
    """

    features: PathLike | None = None
    questions: PathLike | None = None
    annotations: PathLike | None = None
    captions: PathLike | None = None


def evaluate_checkpoint(
    checkpoint: PathLike,
    data: PathLike,
    split: str,
    *,
    device: torch.device,
    batch_size: int | None = None,
    beam_size: int | None = None,
    progress: Progress | None = None,
    files: SplitFiles = SplitFiles(),
    precision: str = "fp32",
) -> CheckpointEvaluation:
    """Evaluate ``checkpoint`` (VQA or captioning) on ``split`` of the dataset root ``data``.

    ``batch_size`` defaults to the training tasks' validation batch;
    ``beam_size`` (captioning) to the checkpoint's training setting, else 3.
    A model trained on a feature store needs ``files.features``: the split's
    images in a store made the same way. ``precision`` is resolved
    (``fp32``, ``bf16``, ``fp16``). Every problem with the files is a
    ``VqadeskError`` naming the file.
    """
    if batch_size is not None and batch_size < 1:
        raise EvaluationError(f"the batch size must be at least 1, got {batch_size}")
    if beam_size is not None and beam_size < 1:
        raise EvaluationError(f"the beam size must be at least 1, got {beam_size}")
    # With a feature store no COCO annotation file is needed (test-dev has none).
    root = require_split(Path(data), split) if files.features is None else require_folder(Path(data))
    # The kind decides which loader to use; load_checkpoint also refuses pickles
    # and foreign files before any model is built. The loader reads the pair
    # again, which costs little next to the evaluation.
    kind = load_checkpoint(checkpoint).kind
    if kind == ModelKind.VQA:
        trained = load_trained_vqa(checkpoint, device)
        store = _store_for(trained, files)
        return _evaluate_vqa(trained, root, split, device, batch_size or VQA_BATCH, progress, store, files, precision)
    trained = load_trained_captioner(checkpoint, device)
    store = _store_for(trained, files)
    beam_size = beam_size or _trained_beam_size(trained)
    return _evaluate_captioner(trained, root, split, device, batch_size or CAPTION_BATCH, beam_size, progress,
                               store, files, precision)


def _store_for(trained: TrainedVqa | TrainedCaptioner, files: SplitFiles) -> FeatureStore | None:
    """The feature store a precomputed-features model reads, checked against its checkpoint."""
    config = trained.model.config.image_encoder
    if files.features is None:
        _pixels_encoder(config, trained.path)  # refuses precomputed-features models
        return None
    if config.name != "precomputed":
        raise EvaluationError(
            f"{trained.path}: this model encodes images itself ({config.name}); --features is for models "
            "trained on a feature store"
        )
    store = FeatureStore(files.features)
    check_store_matches(store, trained.checkpoint.metadata.get("image_features"), config, source=str(trained.path))
    return store


def _pixels_encoder(config: ImageEncoderConfig, checkpoint: Path) -> int:
    """The image size the model reads, refusing models that read precomputed features."""
    if config.name == "precomputed":
        raise EvaluationError(
            f"{checkpoint}: the model reads precomputed image features ({config.layer}, "
            f"{config.feature_dim}-d), not images; pass --features STORE with the split's images "
            "extracted the way its training store was (python -m training.extract_features)"
        )
    return config.image_size


def _trained_beam_size(trained: TrainedCaptioner) -> int:
    """The beam the run validated with (its ``training_config``), else the default."""
    training_config = trained.checkpoint.metadata.get("training_config")
    beam = training_config.get("beam_size") if isinstance(training_config, dict) else None
    return beam if isinstance(beam, int) and not isinstance(beam, bool) and beam >= 1 else DEFAULT_BEAM_SIZE


def _evaluate_vqa(
    trained: TrainedVqa, root: Path, split: str, device: torch.device, batch_size: int, progress: Progress | None,
    store: FeatureStore | None, files: SplitFiles, precision: str,
) -> CheckpointEvaluation:
    config = trained.model.config
    image_size = config.image_encoder.image_size
    questions_path, annotations_path = vqa_split_files(root, split, files.questions, files.annotations)
    if annotations_path is None:
        questions = _unannotated_questions(
            root, split, questions_path, trained.question_vocab, config.max_question_len, image_size, store
        )
    else:
        questions = VqaExamples.from_dataset(
            root, split, question_vocab=trained.question_vocab, answer_vocab=trained.answer_vocab,
            max_question_len=config.max_question_len, image_size=image_size, features=store,
            questions_path=questions_path, annotations_path=annotations_path,
        )
    answers = answer_questions(
        trained.model, questions, trained.answer_vocab, device=device, batch_size=batch_size, progress=progress,
        precision=precision,
    )
    results = tuple(VqaResult(qid, answers[qid]) for qid in questions.question_ids)
    common = {"kind": ModelKind.VQA, "split": split, "checkpoint": trained.path, "results": results,
              "precision": precision}
    if annotations_path is None:
        return CheckpointEvaluation(
            **common, missing_ground_truth=f"split '{split}' has questions ({questions_path.name}) but no annotations"
        )
    evaluation = evaluate_vqa(questions.question_ids, questions.annotations, answers)
    return CheckpointEvaluation(**common, vqa=evaluation)


@dataclass(frozen=True)
class _UnannotatedQuestions:
    """A test-dev style split's questions as ``QuestionTensors`` (no answers to train on)."""

    images: Tensor | StoreImages
    image_rows: Tensor
    questions: Tensor
    lengths: Tensor
    question_ids: tuple[int, ...]


def _unannotated_questions(
    root: Path, split: str, questions_path: Path, vocab: Vocabulary, max_len: int, image_size: int,
    store: FeatureStore | None,
) -> _UnannotatedQuestions:
    coco = CocoIndex.from_dataset_root(root, split) if store is None else None
    arrays = load_vqa_arrays(questions_path)
    if not len(arrays):
        raise DatasetError(f"{questions_path}: no questions to answer")
    rows = np.arange(len(arrays))
    questions, lengths, _ = encode_questions(arrays, rows, vocab, max_len)  # as the training data encode them
    image_ids, image_rows = first_asked_images(arrays.image_ids)
    if store is not None:
        images = StoreImages(store, image_ids.tolist(),
                             what=f"the {len(image_ids):,} images the '{split}' questions ask about")
    else:
        images = load_image_tensors(question_image_files(coco, arrays, rows, image_ids), image_size)
    return _UnannotatedQuestions(
        images=images,
        image_rows=torch.from_numpy(image_rows),
        questions=questions,
        lengths=lengths,
        question_ids=tuple(arrays.question_ids.tolist()),
    )


def _evaluate_captioner(
    trained: TrainedCaptioner, root: Path, split: str, device: torch.device, batch_size: int,
    beam_size: int, progress: Progress | None, store: FeatureStore | None, files: SplitFiles, precision: str,
) -> CheckpointEvaluation:
    config = trained.model.config
    image_size = config.image_encoder.image_size
    captions_path = Path(files.captions) if files.captions else root / "annotations" / f"captions_{split}.json"
    references: dict[int, list[str]] | None = None
    if store is not None and captions_path.is_file():
        has_captions = True
    elif store is not None:
        has_captions = False
    else:
        coco = CocoIndex.from_dataset_root(root, split)
        has_captions = coco.caption_count > 0
    if has_captions:
        examples = CaptionExamples.from_dataset(
            root, split, vocab=trained.vocab, max_len=config.max_len + 2, image_size=image_size,
            features=store, captions_path=files.captions,
        )
        unique = examples.unique_images()
        images, image_ids, rows = examples.images, examples.image_ids, unique.rows
        references = examples.references_by_image()
    elif store is not None:  # no captions (a test split): caption every image of the store
        image_ids = store.image_ids
        images = StoreImages(store, image_ids, what=f"the images of split '{split}'")
        rows = None
    else:  # no captions (a test split): caption every image of the split
        image_ids = coco.image_ids
        if not image_ids:
            raise DatasetError(f"{', '.join(map(str, coco.annotation_files))}: no images in split '{split}'")
        images = load_image_tensors([coco.image_path(image_id) for image_id in image_ids], image_size)
        rows = None
    captions = caption_images(
        trained.model, trained.vocab, images, image_ids, device=device, beam_size=beam_size,
        batch_size=batch_size, rows=rows, progress=progress, precision=precision,
    )
    results = tuple(CaptionResult(image_id, caption) for image_id, caption in captions.items())
    common = {"kind": ModelKind.CAPTIONING, "split": split, "checkpoint": trained.path, "results": results,
              "precision": precision}
    if references is None:
        return CheckpointEvaluation(**common, missing_ground_truth=f"split '{split}' has images but no captions")
    return CheckpointEvaluation(**common, captions=evaluate_captions(references, captions))

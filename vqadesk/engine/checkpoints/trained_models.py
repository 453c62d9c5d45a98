"""A checkpoint back into a ready model with its vocabularies.

``load_trained_vqa`` / ``load_trained_captioner`` read a checkpoint pair
(never unpickling), rebuild the model from the config stored in it, load its
weights and return it in eval mode on ``device`` together with what it needs
to read questions and write answers or captions. The Predictor, the
evaluation routine and the GUI all load models through here. A checkpoint of
the wrong kind or missing metadata is one clear error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from vqadesk.engine.checkpoints.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model_state
from vqadesk.models import (
    Captioner,
    CaptionerConfig,
    VqaModel,
    VqaModelConfig,
    build_captioner,
    build_vqa_model,
)
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import Vocabulary


@dataclass
class TrainedVqa:
    model: VqaModel
    question_vocab: Vocabulary
    answer_vocab: AnswerVocabulary
    checkpoint: Checkpoint
    path: Path


@dataclass
class TrainedCaptioner:
    model: Captioner
    vocab: Vocabulary
    checkpoint: Checkpoint
    path: Path


def _checked(path: str | Path, kind: str, device: torch.device) -> Checkpoint:
    checkpoint = load_checkpoint(path, map_location=device)
    if checkpoint.kind != kind:
        raise CheckpointError(
            f"{checkpoint.source or path}: is a {checkpoint.kind} checkpoint, not a {kind} model", path=path
        )
    return checkpoint


def _metadata(checkpoint: Checkpoint, key: str, path: str | Path) -> Any:
    try:
        return checkpoint.metadata[key]
    except KeyError:
        raise CheckpointError(f"{path}: field 'metadata.{key}': missing", path=path) from None


def _without_initial_weights(config):
    """The checkpoint holds every weight: do not read the files the encoder was
    initialised from when it was trained (ImageNet, another model's encoder),
    which need not exist where the checkpoint is used."""
    return replace(config, image_encoder=replace(config.image_encoder, weights="none"))


def load_trained_vqa(path: str | Path, device: torch.device) -> TrainedVqa:
    checkpoint = _checked(path, "vqa", device)
    source = checkpoint.source or path
    config = VqaModelConfig.from_dict(checkpoint.model_config, source=source, where="model_config")
    model = build_vqa_model(_without_initial_weights(config))
    load_model_state(model, checkpoint)
    question_vocab = Vocabulary.from_dict(
        _metadata(checkpoint, "question_vocabulary", source), source=source, where="metadata.question_vocabulary"
    )
    answer_vocab = AnswerVocabulary.from_dict(
        _metadata(checkpoint, "answer_vocabulary", source), source=source, where="metadata.answer_vocabulary"
    )
    return TrainedVqa(model.to(device).eval(), question_vocab, answer_vocab, checkpoint, Path(source))


def load_trained_captioner(path: str | Path, device: torch.device) -> TrainedCaptioner:
    checkpoint = _checked(path, "captioning", device)
    source = checkpoint.source or path
    config = CaptionerConfig.from_dict(checkpoint.model_config, source=source, where="model_config")
    model = build_captioner(_without_initial_weights(config))
    load_model_state(model, checkpoint)
    vocab = Vocabulary.from_dict(
        _metadata(checkpoint, "word_vocabulary", source), source=source, where="metadata.word_vocabulary"
    )
    return TrainedCaptioner(model.to(device).eval(), vocab, checkpoint, Path(source))

"""A checkpoint back into a ready model with its vocabularies.

``load_trained_vqa`` / ``load_trained_captioner`` read a checkpoint pair
(never unpickling), rebuild the model from the config stored in it, load its
weights and return it in eval mode on ``device`` together with what it needs
to read questions and write answers or captions. The Predictor, the
evaluation routine and the GUI all load models through here. A checkpoint of
the wrong kind or missing metadata is one clear error naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vqadesk.engine.checkpoints.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_model_state,
    load_checkpoint,
    load_model_state,
)
from vqadesk.engine.torch_free.model_kind import ModelKind
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


def _checked(path: str | Path, kind: ModelKind, device: torch.device) -> Checkpoint:
    checkpoint = load_checkpoint(path, map_location=device)
    if checkpoint.kind != kind:
        raise CheckpointError(
            f"{checkpoint.source or path}: is a {checkpoint.kind} checkpoint, not a {kind} model", path=path
        )
    return checkpoint


def _vocabulary(checkpoint: Checkpoint, key: str, vocabulary_class: Any, source: str | Path) -> Any:
    """The vocabulary stored in the checkpoint's ``metadata[key]``; missing or damaged: a ``CheckpointError``
    or ``DataFormatError`` naming the file and the field."""
    try:
        data = checkpoint.metadata[key]
    except KeyError:
        raise CheckpointError(f"{source}: field 'metadata.{key}': missing", path=source) from None
    return vocabulary_class.from_dict(data, source=source, where=f"metadata.{key}")


def _without_initial_weights(config):
    """The checkpoint holds every weight: do not read the files the encoder was
    initialised from when it was trained (ImageNet, another model's encoder),
    which need not exist where the checkpoint is used."""
    return replace(config, image_encoder=replace(config.image_encoder, weights="none"))


def _load_model(
    path: str | Path, kind: ModelKind, config_class: Any, build: Callable[[Any], nn.Module], device: torch.device
) -> tuple[Any, Checkpoint, str | Path]:
    """A ``kind`` checkpoint's model rebuilt from its config with its weights loaded,
    the checkpoint, and the file it came from."""
    checkpoint = _checked(path, kind, device)
    source = checkpoint.source or path
    config = _without_initial_weights(config_class.from_dict(checkpoint.model_config, source=source,
                                                             where="model_config"))
    # First on the meta device, which allocates nothing: a config that does not
    # describe the stored weights (an absurd size typed into the JSON) is refused
    # before it can ask for memory; one that does costs no more than the weights.
    try:
        with torch.device("meta"):
            skeleton = build(config)
    except (RuntimeError, ValueError, OverflowError) as exc:  # sizes whose product overflows, negative sizes
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{source}: field 'model_config': describes no model that can be built ({detail})",
                              path=source) from None
    check_model_state(skeleton, checkpoint)
    model = build(config)
    load_model_state(model, checkpoint)
    return model, checkpoint, source


def load_trained_vqa(path: str | Path, device: torch.device) -> TrainedVqa:
    model, checkpoint, source = _load_model(path, ModelKind.VQA, VqaModelConfig, build_vqa_model, device)
    question_vocab = _vocabulary(checkpoint, "question_vocabulary", Vocabulary, source)
    answer_vocab = _vocabulary(checkpoint, "answer_vocabulary", AnswerVocabulary, source)
    return TrainedVqa(model.to(device).eval(), question_vocab, answer_vocab, checkpoint, Path(source))


def load_trained_captioner(path: str | Path, device: torch.device) -> TrainedCaptioner:
    model, checkpoint, source = _load_model(path, ModelKind.CAPTIONING, CaptionerConfig, build_captioner, device)
    vocab = _vocabulary(checkpoint, "word_vocabulary", Vocabulary, source)
    return TrainedCaptioner(model.to(device).eval(), vocab, checkpoint, Path(source))

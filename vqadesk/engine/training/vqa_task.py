"""VQA as a training task: answer classification over the top-K answers.

Data come from ``VqaExamples`` (questions as token ids, images as uint8
tensors, soft answer targets); the model from ``vqadesk.models``; validation
is the official VQA accuracy (``vqadesk.metrics.evaluate_vqa``), overall and
per answer type, on the validation split — or on the training subset itself
with ``--overfit N``, the cs231n sanity check.

Loss: with ``--target soft`` (default) a soft cross entropy against the
human answers' scores min(#humans/3, 1), normalised to sum to one; questions
none of whose answers is in the vocabulary carry no target and are left out
of the loss. With ``--target single``, plain cross entropy on the most common
answer (questions whose answer is out of vocabulary ignored), as the original
VQA baselines trained. The attention model adds ``--grounding-weight`` times
the grounding loss (``engine/training/grounding.py``) where the training split has a
grounding file naming each question's objects.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vqadesk.data.feature_store import FeatureStore
from vqadesk.engine.features.store_features import (
    features_metadata,
    open_training_stores,
    precomputed_encoder,
    require_grid,
)
from vqadesk.engine.inference.evaluation import VQA_BATCH, answer_questions
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.grounding import grounding_loss
from vqadesk.engine.training.image_groups import ImageGroups
from vqadesk.engine.training.vqa_examples import VqaExamples
from vqadesk.metrics import evaluate_vqa
from vqadesk.models import ImageEncoderConfig, VqaModelConfig, build_vqa_model
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import Vocabulary

VALIDATION_BATCH = VQA_BATCH


def image_encoder_config(config: TrainingConfig, *, needs_grid: bool) -> ImageEncoderConfig:
    """The image encoder a training config asks for, with a layer that suits the model."""
    if needs_grid or config.image_encoder == "small_cnn":
        layer = "grid"  # models without attention mean-pool the grid
    else:
        layer = "fc7" if config.image_encoder == "vgg16" else "pooled"
    return ImageEncoderConfig(
        name=config.image_encoder, layer=layer, image_size=config.image_size,
        weights=config.weights, trainable=not config.freeze_encoder,
    )


class _VqaTrainingForward(nn.Module):
    """Each image of the batch encoded once, its features shared by its questions;
    the whole forward in one call so DistributedDataParallel sees every parameter."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images, image_index, questions, lengths):
        features = self.model.encode_images(images)[image_index]  # (B, C, h, w): one row per question
        return self.model.answer(features, questions, lengths)


class VqaTask:
    kind = "vqa"
    metric_name = "accuracy"

    def __init__(self) -> None:
        self.config: TrainingConfig | None = None
        self.train_examples: VqaExamples | None = None
        self.train_set: ImageGroups | None = None  # what the loop samples: images
        self.val_set: VqaExamples | None = None
        self.store: FeatureStore | None = None  # --features

    def load(self, config: TrainingConfig, metadata: dict[str, Any] | None) -> None:
        self.config = config
        question_vocab = answer_vocab = None
        if metadata is not None:  # resuming: the checkpoint's vocabularies, not new ones
            question_vocab = Vocabulary.from_dict(metadata["question_vocabulary"], where="metadata.question_vocabulary")
            answer_vocab = AnswerVocabulary.from_dict(metadata["answer_vocabulary"], where="metadata.answer_vocabulary")
        # With --features the images are a feature store's rows (docs/real-data.md).
        self.store, val_store = open_training_stores(config.features, config.val_features,
                                                     (metadata or {}).get("image_features"))
        require_grid(self.store, config.model == "attention", "--model attention")
        train = VqaExamples.from_dataset(
            config.data, config.train_split, question_vocab=question_vocab, answer_vocab=answer_vocab,
            top_k=config.top_k, max_question_len=config.max_len, image_size=config.image_size,
            features=self.store, questions_path=config.questions, annotations_path=config.annotations,
            drop_unreadable_images=True, read_grounding_file=self._grounds(config),
        )
        if config.overfit:
            train = train.first(config.overfit)
            self.val_set = train
        else:
            self.val_set = VqaExamples.from_dataset(
                config.data, config.val_split, question_vocab=train.question_vocab,
                answer_vocab=train.answer_vocab, max_question_len=config.max_len,
                image_size=config.image_size, features=val_store, questions_path=config.val_questions,
                annotations_path=config.val_annotations, drop_unreadable_images=True,
            )
        self.train_examples = train
        self.train_set = ImageGroups(train)

    @staticmethod
    def _grounds(config: TrainingConfig) -> bool:
        """Whether this run supervises attention with the objects questions name (only models with glimpses)."""
        return config.model == "attention" and config.grounding_weight > 0

    def summary(self) -> dict[str, Any]:
        return {"train": self.train_examples.summary(), "val": self.val_set.summary(),
                "validation_on": "train subset (--overfit)" if self.config.overfit else self.config.val_split}

    def model_config(self) -> dict[str, Any]:
        return self._model_config().to_dict()

    def _model_config(self) -> VqaModelConfig:
        c = self.config
        return VqaModelConfig(
            model=c.model, question_encoder=c.question_encoder,
            image_encoder=(precomputed_encoder(self.store) if self.store is not None
                           else image_encoder_config(c, needs_grid=c.model == "attention")),
            vocab_size=len(self.train_examples.question_vocab),
            num_answers=len(self.train_examples.answer_vocab),
            embed_dim=c.embed_dim, hidden_dim=c.hidden_dim, fusion_dim=2 * c.hidden_dim,
            attention_dim=c.hidden_dim, dropout=c.dropout, max_question_len=c.max_len,
        )

    def build_model(self) -> nn.Module:
        return build_vqa_model(self._model_config())

    def training_module(self, model: nn.Module) -> nn.Module:
        return _VqaTrainingForward(model)

    def metadata(self) -> dict[str, Any]:
        return {
            "question_vocabulary": self.train_examples.question_vocab.to_dict(),
            "answer_vocabulary": self.train_examples.answer_vocab.to_dict(),
            "dataset": {"root": str(self.config.data), "train_split": self.config.train_split,
                        "val_split": self.config.val_split},
            # What made the features a precomputed-features model reads (None: it reads images).
            "image_features": features_metadata(self.store) if self.store is not None else None,
        }

    def batch(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in self.train_set.batch(indices).items()}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = model(batch["image"], batch["image_index"], batch["question"], batch["length"])
        loss = self._answer_loss(output.logits, batch)
        if "grounding" in batch and output.attention is not None:
            loss = loss + self.config.grounding_weight * grounding_loss(output.attention, batch["grounding"])
        return loss

    def _answer_loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, K) logits against the batch's answers (module docstring)."""
        if self.config.target == "single":
            return F.cross_entropy(logits, batch["answer"], ignore_index=-1)
        targets = batch["soft_target"]  # (B, K)
        totals = targets.sum(dim=1)  # (B,)
        answerable = totals > 0
        if not answerable.any():
            return logits.sum() * 0.0  # no target in this batch: a zero loss that still backpropagates
        log_probs = F.log_softmax(logits[answerable], dim=1)
        weights = targets[answerable] / totals[answerable].unsqueeze(1)
        return -(weights * log_probs).sum(dim=1).mean()

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        val = self.val_set
        predictions = answer_questions(model, val, val.answer_vocab, device=device, batch_size=VALIDATION_BATCH)
        result = evaluate_vqa(val.question_ids, val.annotations, predictions)
        return {"accuracy": result.overall, "per_answer_type": dict(result.per_answer_type),
                "questions": len(val)}

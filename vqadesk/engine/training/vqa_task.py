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
from vqadesk.engine.features.store_features import precomputed_encoder, require_grid
from vqadesk.engine.inference.evaluation import VQA_BATCH, answer_questions
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.grounding import grounding_loss
from vqadesk.engine.training.task import ExampleTask, image_encoder_config
from vqadesk.engine.training.vqa_examples import VqaExamples
from vqadesk.metrics import evaluate_vqa
from vqadesk.models import VqaModel, VqaModelConfig, VqaOutput, build_vqa_model
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import Vocabulary

VALIDATION_BATCH = VQA_BATCH


class VqaTask(ExampleTask):
    kind = ModelKind.VQA
    metric_name = "accuracy"
    VOCABULARY_METADATA = {
        "question_vocabulary": ("question_vocab", Vocabulary),
        "answer_vocabulary": ("answer_vocab", AnswerVocabulary),
    }
    TOKENS = "question"
    build = staticmethod(build_vqa_model)

    @staticmethod
    def head(model: VqaModel, features: torch.Tensor, questions: torch.Tensor, lengths: torch.Tensor) -> VqaOutput:
        return model.answer(features, questions, lengths)

    def check_features(self, config: TrainingConfig) -> None:
        require_grid(self.store, config.model == "attention", "--model attention")

    def read_split(
        self, config: TrainingConfig, *, training: bool, features: FeatureStore | None, vocabularies: dict[str, Any]
    ) -> VqaExamples:
        if not training:
            return VqaExamples.from_dataset(
                config.data, config.val_split, **vocabularies, max_question_len=config.max_len,
                image_size=config.image_size, features=features, questions_path=config.val_questions,
                annotations_path=config.val_annotations, drop_unreadable_images=True,
            )
        return VqaExamples.from_dataset(
            config.data, config.train_split, **vocabularies,
            top_k=config.top_k, max_question_len=config.max_len, image_size=config.image_size,
            features=features, questions_path=config.questions, annotations_path=config.annotations,
            drop_unreadable_images=True, read_grounding_file=self._grounds(config),
        )

    @staticmethod
    def _grounds(config: TrainingConfig) -> bool:
        """Whether this run supervises attention with the objects questions name (only models with glimpses)."""
        return config.model == "attention" and config.grounding_weight > 0

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

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = self.training_output(model, batch)
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

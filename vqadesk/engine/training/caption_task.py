"""Captioning as a training task: next-word prediction, validated with BLEU-4 and CIDEr-D.

Data come from ``CaptionExamples`` (every image-caption pair one example);
the model is ``vqadesk.models.Captioner``; the loss is the masked cross
entropy with the doubly stochastic attention regulariser of "Show, Attend and
Tell" (``caption_loss``). Validation decodes each validation image once with
beam search and scores the captions against the references with the corpus
BLEU-1..4 and CIDEr-D of ``vqadesk.metrics``; CIDEr-D picks the best checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vqadesk.data.feature_store import FeatureStore
from vqadesk.engine.features.store_features import precomputed_encoder, require_grid
from vqadesk.engine.inference.evaluation import CAPTION_BATCH, caption_images
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.caption_examples import CaptionExamples
from vqadesk.engine.training.task import ExampleTask, image_encoder_config
from vqadesk.metrics import evaluate_captions
from vqadesk.models import Captioner, CaptionerConfig, build_captioner, caption_loss
from vqadesk.text.vocabulary import Vocabulary

VALIDATION_BATCH = CAPTION_BATCH


class CaptionTask(ExampleTask):
    kind = ModelKind.CAPTIONING
    metric_name = "CIDEr"
    VOCABULARY_METADATA = {"word_vocabulary": ("vocab", Vocabulary)}
    TOKENS = "caption"
    build = staticmethod(build_captioner)

    @staticmethod
    def head(captioner: Captioner, features: torch.Tensor, captions: torch.Tensor, lengths: torch.Tensor):
        return captioner(features, captions, lengths)

    def check_features(self, config: TrainingConfig) -> None:
        require_grid(self.store, config.attention, "soft attention (use --no-attention for vectors)")

    def read_split(
        self, config: TrainingConfig, *, training: bool, features: FeatureStore | None, vocabularies: dict[str, Any]
    ) -> CaptionExamples:
        return CaptionExamples.from_dataset(
            config.data, config.train_split if training else config.val_split, **vocabularies,
            max_len=config.max_len, image_size=config.image_size, features=features,
            captions_path=config.captions if training else config.val_captions, drop_unreadable_images=True,
        )

    def _model_config(self) -> CaptionerConfig:
        c = self.config
        return CaptionerConfig(
            cell=c.model, attention=c.attention,
            image_encoder=(precomputed_encoder(self.store) if self.store is not None
                           else image_encoder_config(c, needs_grid=c.attention)),
            vocab_size=len(self.train_examples.vocab), embed_dim=c.embed_dim, hidden_dim=c.hidden_dim,
            attention_dim=c.hidden_dim, dropout=c.dropout,
            max_len=c.max_len - 2,  # words, without <start> and <end>
        )

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return caption_loss(self.training_output(model, batch), batch["caption"])

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        val = self.val_set
        candidates = caption_images(
            model, val.vocab, val.images, val.image_ids, rows=val.unique_images().rows, device=device,
            beam_size=self.config.beam_size, batch_size=VALIDATION_BATCH,
        )
        references = {image_id: val.references(image_id) for image_id in candidates}
        scores = evaluate_captions(references, candidates).scores()
        return {**scores, "images": len(candidates)}

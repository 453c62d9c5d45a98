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
from vqadesk.engine.features.store_features import (
    features_metadata,
    open_training_stores,
    precomputed_encoder,
    require_grid,
)
from vqadesk.engine.inference.evaluation import CAPTION_BATCH, caption_images, decode_caption  # noqa: F401 - re-exported
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.caption_examples import CaptionExamples
from vqadesk.engine.training.image_groups import ImageGroups
from vqadesk.engine.training.vqa_task import image_encoder_config
from vqadesk.metrics import evaluate_captions
from vqadesk.models import Captioner, CaptionerConfig, build_captioner, caption_loss
from vqadesk.text.vocabulary import Vocabulary

VALIDATION_BATCH = CAPTION_BATCH


class _CaptionTrainingForward(nn.Module):
    """Each image of the batch encoded once, its features shared by its captions;
    the whole forward in one call so DistributedDataParallel sees every parameter."""

    def __init__(self, captioner: Captioner):
        super().__init__()
        self.captioner = captioner

    def forward(self, images, image_index, captions, lengths):
        features = self.captioner.encode_images(images)[image_index]  # one row per caption
        return self.captioner(features, captions, lengths)


class CaptionTask:
    kind = "captioning"
    metric_name = "CIDEr"

    def __init__(self) -> None:
        self.config: TrainingConfig | None = None
        self.train_examples: CaptionExamples | None = None
        self.train_set: ImageGroups | None = None  # what the loop samples: images
        self.val_set: CaptionExamples | None = None
        self.store: FeatureStore | None = None  # --features

    def load(self, config: TrainingConfig, metadata: dict[str, Any] | None) -> None:
        self.config = config
        vocab = None
        if metadata is not None:  # resuming: the checkpoint's vocabulary, not a new one
            vocab = Vocabulary.from_dict(metadata["word_vocabulary"], where="metadata.word_vocabulary")
        # With --features the images are a feature store's rows (docs/real-data.md).
        self.store, val_store = open_training_stores(config.features, config.val_features,
                                                     (metadata or {}).get("image_features"))
        require_grid(self.store, config.attention, "soft attention (use --no-attention for vectors)")
        train = CaptionExamples.from_dataset(
            config.data, config.train_split, vocab=vocab, max_len=config.max_len, image_size=config.image_size,
            features=self.store, captions_path=config.captions, drop_unreadable_images=True,
        )
        if config.overfit:
            train = train.first(config.overfit)
            self.val_set = train
        else:
            self.val_set = CaptionExamples.from_dataset(
                config.data, config.val_split, vocab=train.vocab, max_len=config.max_len,
                image_size=config.image_size, features=val_store, captions_path=config.val_captions,
                drop_unreadable_images=True,
            )
        self.train_examples = train
        self.train_set = ImageGroups(train)

    def summary(self) -> dict[str, Any]:
        return {"train": self.train_examples.summary(), "val": self.val_set.summary(),
                "validation_on": "train subset (--overfit)" if self.config.overfit else self.config.val_split}

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

    def model_config(self) -> dict[str, Any]:
        return self._model_config().to_dict()

    def build_model(self) -> nn.Module:
        return build_captioner(self._model_config())

    def training_module(self, model: nn.Module) -> nn.Module:
        return _CaptionTrainingForward(model)

    def metadata(self) -> dict[str, Any]:
        return {
            "word_vocabulary": self.train_examples.vocab.to_dict(),
            "dataset": {"root": str(self.config.data), "train_split": self.config.train_split,
                        "val_split": self.config.val_split},
            # What made the features a precomputed-features model reads (None: it reads images).
            "image_features": features_metadata(self.store) if self.store is not None else None,
        }

    def batch(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in self.train_set.batch(indices).items()}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = model(batch["image"], batch["image_index"], batch["caption"], batch["length"])
        return caption_loss(output, batch["caption"])

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        val = self.val_set
        candidates = caption_images(
            model, val.vocab, val.images, val.image_ids, rows=val.unique_images().rows, device=device,
            beam_size=self.config.beam_size, batch_size=VALIDATION_BATCH,
        )
        references = {image_id: val.references(image_id) for image_id in candidates}
        scores = evaluate_captions(references, candidates).scores()
        return {**scores, "images": len(candidates)}

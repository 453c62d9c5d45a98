"""What the training loop needs from a task (VQA or captioning), and what both tasks share.

The loop (``trainer.train``) is the same for both; a task supplies the data,
the model, the loss and the validation metric. ``vqa_task.VqaTask`` and
``caption_task.CaptionTask`` implement it on the base ``ExampleTask``, which
loads the training and validation examples (from the dataset or a feature
store, reusing a resumed checkpoint's vocabularies) and writes the metadata
both kinds of checkpoint carry.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any, Protocol

import torch
from torch import nn

from vqadesk.data.feature_store import FeatureStore
from vqadesk.engine.features.store_features import features_metadata, open_training_stores
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.examples import ExampleSet
from vqadesk.engine.training.image_groups import ImageGroups
from vqadesk.models import ImageEncoderConfig


class TrainingTask(Protocol):
    kind: ModelKind  # the checkpoint kind
    metric_name: str  # the validation metric that picks `best` and drives early stopping
    train_set: Sized

    def load(self, config: TrainingConfig, metadata: dict[str, Any] | None) -> None:
        """Build the training and validation sets; ``metadata`` (from a resumed
        checkpoint) carries the vocabularies to reuse instead of rebuilding them."""

    def summary(self) -> dict[str, Any]:
        """Dataset sizes, vocabulary sizes, answer coverage: for the start event."""

    def build_model(self) -> nn.Module: ...

    def training_module(self, model: nn.Module) -> nn.Module:
        """The module a training step calls with a batch (images in, outputs out);
        it shares ``model``'s parameters. DistributedDataParallel wraps this one."""

    def model_config(self) -> dict[str, Any]:
        """The model's config as JSON, enough to rebuild it from a checkpoint."""

    def metadata(self) -> dict[str, Any]:
        """Vocabularies, answer list and anything else a checkpoint must carry."""

    def batch(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        """The examples of ``train_set`` items ``indices``, on ``device``; the
        ``length`` tensor has one entry per example (throughput counts them)."""

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        """Metrics on the validation split (or the overfit subset), incl. ``metric_name``."""


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


class SharedImagesForward(nn.Module):
    """Each image of the batch encoded once, its features shared by its examples (questions
    or captions); the whole forward in one call so DistributedDataParallel sees every parameter."""

    def __init__(self, model: nn.Module, head: Callable[..., Any]):
        super().__init__()
        self.model = model
        self.head = head  # (model, features, token ids, lengths) -> the model's output

    def forward(self, images, image_index, tokens, lengths):
        features = self.model.encode_images(images)[image_index]  # one row per example
        return self.head(self.model, features, tokens, lengths)


class ExampleTask:
    """Base of the two tasks: loading the examples, the summary, batches and shared metadata.

    A subclass reads one split (``read_split``), names the vocabularies it keeps
    in a checkpoint's metadata (``VOCABULARY_METADATA``), checks the feature
    store fits its model (``check_features``), and gives its model's config,
    builder (``build``) and output from image features (``head``).
    """

    kind: ModelKind
    metric_name: str
    # Metadata key -> (the examples' attribute, its class with ``to_dict`` / ``from_dict``).
    VOCABULARY_METADATA: dict[str, tuple[str, Any]] = {}
    TOKENS: str  # the batch entry of the token ids: "question" or "caption"
    build: Callable[[Any], nn.Module]  # the model from its config
    head: Callable[..., Any]  # (model, features, token ids, lengths) -> the model's output

    def __init__(self) -> None:
        self.config: TrainingConfig | None = None
        self.train_examples: ExampleSet | None = None
        self.train_set: ImageGroups | None = None  # what the loop samples: images
        self.val_set: ExampleSet | None = None
        self.store: FeatureStore | None = None  # --features

    def load(self, config: TrainingConfig, metadata: dict[str, Any] | None) -> None:
        self.config = config
        vocabularies = {}
        if metadata is not None:  # resuming: the checkpoint's vocabularies, not new ones
            vocabularies = {attribute: cls.from_dict(metadata[key], where=f"metadata.{key}")
                            for key, (attribute, cls) in self.VOCABULARY_METADATA.items()}
        # With --features the images are a feature store's rows (docs/real-data.md).
        self.store, val_store = open_training_stores(config.features, config.val_features,
                                                     (metadata or {}).get("image_features"))
        self.check_features(config)
        train = self.read_split(config, training=True, features=self.store, vocabularies=vocabularies)
        if config.overfit:
            train = train.first(config.overfit)
            self.val_set = train
        else:
            vocabularies = {attribute: getattr(train, attribute) for attribute, _ in self.VOCABULARY_METADATA.values()}
            self.val_set = self.read_split(config, training=False, features=val_store, vocabularies=vocabularies)
        self.train_examples = train
        self.train_set = ImageGroups(train)

    def check_features(self, config: TrainingConfig) -> None:
        """Raise when the feature store (``self.store``) cannot feed the model ``config`` asks for."""

    def read_split(
        self, config: TrainingConfig, *, training: bool, features: FeatureStore | None, vocabularies: dict[str, Any]
    ) -> ExampleSet:
        """The training or the validation split's examples, encoded with ``vocabularies``
        (keyword arguments of the examples' ``from_dataset``; empty: build them)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {"train": self.train_examples.summary(), "val": self.val_set.summary(),
                "validation_on": "train subset (--overfit)" if self.config.overfit else self.config.val_split}

    def model_config(self) -> dict[str, Any]:
        return self._model_config().to_dict()

    def _model_config(self) -> Any:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        return self.build(self._model_config())

    def training_module(self, model: nn.Module) -> nn.Module:
        return SharedImagesForward(model, self.head)

    def training_output(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> Any:
        """The training module's output for ``batch``."""
        return model(batch["image"], batch["image_index"], batch[self.TOKENS], batch["length"])

    def metadata(self) -> dict[str, Any]:
        return {
            **{key: getattr(self.train_examples, attribute).to_dict()
               for key, (attribute, _) in self.VOCABULARY_METADATA.items()},
            "dataset": {"root": str(self.config.data), "train_split": self.config.train_split,
                        "val_split": self.config.val_split},
            # What made the features a precomputed-features model reads (None: it reads images).
            "image_features": features_metadata(self.store) if self.store is not None else None,
        }

    def batch(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in self.train_set.batch(indices).items()}

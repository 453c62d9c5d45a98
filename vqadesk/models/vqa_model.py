"""The interface all VQA models share, and the pieces they are built from.

A VQA model scores every answer in its answer vocabulary:

    features = model.encode_images(images_uint8)          # encoder.prepare + encoder
    output = model.answer(features, questions, lengths)   # VqaOutput(logits, attention)
    output = model(images_uint8, questions, lengths)      # the two in one

``encode_images`` and ``answer`` are separate so a caller can cache image
features (the Predictor does, per image and encoder) and ask many questions
about one image without running the CNN again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from vqadesk.models.dropout import Dropout
from vqadesk.models.image_encoders import ImageEncoder, build_image_encoder
from vqadesk.models.question_encoders import QuestionEncoder, build_question_encoder
from vqadesk.models.vqa_config import VqaModelConfig


@dataclass(frozen=True)
class VqaOutput:
    """``logits`` (B, K) over the answer vocabulary; ``attention`` (B, G, h, w) or None.

    Each of the G attention maps sums to 1 over the h x w grid cells.
    """

    logits: Tensor
    attention: Tensor | None


class VqaModel(nn.Module):
    """Base class: holds the config and the image encoder, wires ``forward``."""

    def __init__(self, *, config: VqaModelConfig):
        super().__init__()
        self.config = config
        self.image_encoder: ImageEncoder = build_image_encoder(config.image_encoder)
        self.question_encoder: nn.Module  # set by each model

    def configured_question_encoder(self, *, lstm_states: str) -> QuestionEncoder:
        """The question encoder the config names, at its sizes; an LSTM gives ``lstm_states``."""
        config = self.config
        return build_question_encoder(
            config.question_encoder, vocab_size=config.vocab_size, embed_dim=config.embed_dim,
            hidden_dim=config.hidden_dim, dropout=config.dropout, max_len=config.max_question_len,
            lstm_states=lstm_states,
        )

    def encode_images(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 -> features (B, C, h, w) or (B, D), on the model's device.

        For a ``precomputed`` encoder, ``images`` are the features themselves.
        """
        return self.image_encoder(self.image_encoder.prepare(images))

    def answer(self, features: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        """Answer scores for ``questions`` (B, T) long of ``lengths`` (B,) about ``features``."""
        raise NotImplementedError

    def forward(self, images: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        return self.answer(self.encode_images(images), questions, lengths)

    def init_word_embeddings(self, matrix: np.ndarray | Tensor) -> None:
        """Start the question embeddings from word vectors (vocab_size, embed_dim)."""
        self.question_encoder.init_embeddings(matrix)


def global_feature(features: Tensor) -> Tensor:
    """(B, C, h, w) grid -> (B, C) mean over positions; (B, D) vectors pass through."""
    return features.mean(dim=(2, 3)) if features.dim() == 4 else features


def l2_normalise(features: Tensor, dim: int = 1) -> Tensor:
    """Unit length along ``dim`` (the "norm I" of the VQA paper); zero vectors stay zero."""
    return F.normalize(features, p=2.0, dim=dim, eps=1e-8)


def classifier_mlp(
    *, in_dim: int, hidden_dim: int, layers: int, num_answers: int, dropout: float
) -> nn.Sequential:
    """``layers`` x (Linear -> ReLU -> Dropout) of ``hidden_dim``, then Linear -> answer logits."""
    parts: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        parts += [nn.Linear(width, hidden_dim), nn.ReLU(inplace=True), Dropout(dropout)]
        width = hidden_dim
    parts.append(nn.Linear(width, num_answers))
    return nn.Sequential(*parts)

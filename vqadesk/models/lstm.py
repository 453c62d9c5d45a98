"""``lstm``: "deeper LSTM Q + norm I" of the VQA paper (Antol et al., ICCV 2015).

A 2-layer LSTM reads the question; its final hidden and cell states of both
layers (2 x 2 x 512 = 2048-d) are projected to ``fusion_dim`` with tanh. The
global image feature (VGG-16 fc7 in the paper; the mean of the grid for grid
encoders) is L2-normalised and projected to ``fusion_dim`` with tanh too. The
two are fused by element-wise product and classified by an MLP:

    question (B, T) --LSTM--> (B, 2048) --Linear, tanh--> (B, F) -+
                                                                  * --MLP--> logits (B, K)
    image --mean, L2 norm--> (B, C) --Linear, tanh--> (B, F) -----+

With ``question_encoder="transformer"`` (or "bow") that encoder's vector takes
the LSTM's place. No attention map.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vqadesk.models.dropout import Dropout
from vqadesk.models.vqa_config import VqaModelConfig
from vqadesk.models.vqa_model import VqaModel, VqaOutput, classifier_mlp, global_feature, l2_normalise


class LstmVqa(VqaModel):
    """LSTM question x normalised global image feature -> MLP."""

    def __init__(self, *, config: VqaModelConfig):
        super().__init__(config=config)
        self.question_encoder = self.configured_question_encoder(lstm_states="all")
        image_dim, _ = self.image_encoder.output_shape
        self.question_projection = nn.Sequential(
            Dropout(config.dropout),
            nn.Linear(self.question_encoder.output_dim, config.fusion_dim),
            nn.Tanh(),
        )
        self.image_projection = nn.Sequential(
            Dropout(config.dropout), nn.Linear(image_dim, config.fusion_dim), nn.Tanh()
        )
        self.dropout = Dropout(config.dropout)
        self.classifier = classifier_mlp(
            in_dim=config.fusion_dim, hidden_dim=config.fusion_dim, layers=config.mlp_layers,
            num_answers=config.num_answers, dropout=config.dropout,
        )

    def answer(self, features: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        question = self.question_encoder(questions.to(features.device), lengths)  # (B, 2 * 2 * H)
        question = self.question_projection(question)  # (B, F)
        image = self.image_projection(l2_normalise(global_feature(features)))  # (B, F)
        fused = self.dropout(torch.mul(question, image))  # (B, F)
        return VqaOutput(logits=self.classifier(fused), attention=None)  # (B, K)

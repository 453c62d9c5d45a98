"""``attention``: "Show, Ask, Attend and Answer" (Kazemi & Elqursh, 2017), the default.

A strong, simple relative of the stacked attention networks (Yang et al. 2016):
the question looks at the image grid ``glimpses`` times in parallel, and the
attended image vectors answer it together with the question.

    grid (B, C, h, w) --L2 norm over C--> v                   question --LSTM--> q (B, H)
    [v ; q tiled over h x w] --conv1x1, ReLU--> (B, A, h, w) --conv1x1--> (B, G, h, w)
    softmax over the h*w cells                                 -> attention (B, G, h, w)
    glimpse g = sum over cells of attention_g * v              -> (B, G*C)
    [glimpses ; q] --MLP--> logits (B, K)

The question encoder is the last LSTM layer's final hidden state (or the
transformer's pooled output with ``question_encoder="transformer"``). The
attention maps are returned for plotting; each sums to 1 over the grid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vqadesk.models.question_encoders import build_question_encoder
from vqadesk.models.vqa_config import VqaModelConfig
from vqadesk.models.vqa_model import VqaModel, VqaOutput, classifier_mlp, l2_normalise


class AttentionVqa(VqaModel):
    """Question-guided soft attention over the image grid, ``glimpses`` maps."""

    def __init__(self, *, config: VqaModelConfig):
        super().__init__(config=config)
        self.question_encoder = build_question_encoder(
            config.question_encoder, vocab_size=config.vocab_size, embed_dim=config.embed_dim,
            hidden_dim=config.hidden_dim, dropout=config.dropout, max_len=config.max_question_len,
            lstm_states="last",
        )  # fmt: skip
        image_channels, _ = self.image_encoder.output_shape
        question_dim = self.question_encoder.output_dim
        self.dropout = nn.Dropout(config.dropout)
        self.attention = nn.Sequential(
            nn.Conv2d(image_channels + question_dim, config.attention_dim, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Conv2d(config.attention_dim, config.glimpses, kernel_size=1),
        )
        self.classifier = classifier_mlp(
            in_dim=config.glimpses * image_channels + question_dim, hidden_dim=config.fusion_dim,
            layers=config.mlp_layers, num_answers=config.num_answers, dropout=config.dropout,
        )  # fmt: skip

    def answer(self, features: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        if features.dim() != 4:
            raise ValueError(
                f"the attention model needs grid features (B, C, h, w), got {tuple(features.shape)}"
            )
        batch, _, height, width = features.shape
        image = l2_normalise(features, dim=1)  # (B, C, h, w)
        question = self.question_encoder(questions.to(features.device), lengths)  # (B, Q)
        tiled = question[:, :, None, None].expand(-1, -1, height, width)  # (B, Q, h, w)
        scores = self.attention(self.dropout(torch.cat((image, tiled), dim=1)))  # (B, G, h, w)
        weights = torch.softmax(scores.flatten(2), dim=2)  # (B, G, h*w), sums to 1 per glimpse
        glimpses = torch.bmm(weights, image.flatten(2).transpose(1, 2))  # (B, G, C)
        fused = self.dropout(torch.cat((glimpses.flatten(1), question), dim=1))  # (B, G*C + Q)
        attention = weights.view(batch, -1, height, width)  # (B, G, h, w)
        return VqaOutput(logits=self.classifier(fused), attention=attention)

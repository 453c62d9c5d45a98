"""``bow``: the "BoW Q + I" baseline of the VQA paper (Antol et al., ICCV 2015).

The question is the mean of its word embeddings (300-d); the image one global
feature (VGG-16 fc7 in the paper, the mean of the grid for grid encoders),
L2-normalised. Their concatenation goes through an MLP to the answer scores:

    question (B, T) --BagOfWords--> (B, E) -+
                                            +-cat-> (B, E + C) --MLP--> logits (B, K)
    image features --mean, L2 norm--> (B, C) -+

No attention map. The question encoder setting is ignored (always a bag of words).
"""

from __future__ import annotations

import torch
from torch import Tensor

from vqadesk.models.dropout import Dropout
from vqadesk.models.question_encoders import BagOfWords
from vqadesk.models.vqa_config import VqaModelConfig
from vqadesk.models.vqa_model import VqaModel, VqaOutput, classifier_mlp, global_feature, l2_normalise


class BowVqa(VqaModel):
    """Bag-of-words question + global image feature -> MLP."""

    def __init__(self, *, config: VqaModelConfig):
        super().__init__(config=config)
        self.question_encoder = BagOfWords(vocab_size=config.vocab_size, embed_dim=config.embed_dim)
        image_dim, _ = self.image_encoder.output_shape
        self.dropout = Dropout(config.dropout)
        self.classifier = classifier_mlp(
            in_dim=config.embed_dim + image_dim, hidden_dim=config.fusion_dim,
            layers=config.mlp_layers, num_answers=config.num_answers, dropout=config.dropout,
        )

    def answer(self, features: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        question = self.question_encoder(questions.to(features.device), lengths)  # (B, E)
        image = l2_normalise(global_feature(features))  # (B, C)
        fused = self.dropout(torch.cat((question, image), dim=1))  # (B, E + C)
        return VqaOutput(logits=self.classifier(fused), attention=None)  # (B, K)


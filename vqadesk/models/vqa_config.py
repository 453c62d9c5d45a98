"""``VqaModelConfig``: everything needed to rebuild a VQA model, as one frozen dataclass.

The defaults are those for real photos (VQA v2 with 300-d word vectors and a
1,000- or 3,000-answer vocabulary); the Shapes world's training routine passes
smaller sizes. Stored as JSON beside a checkpoint's tensors (``to_dict`` /
``from_dict``); reading a foreign or corrupt one raises ``DataFormatError``
naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vqadesk.models.config_checks import (
    ConfigError,
    JsonConfig,
    check_choice,
    check_non_negative,
    check_positive,
    check_probability,
    nested,
)
from vqadesk.models.image_encoder_base import ImageEncoderConfig
from vqadesk.models.question_encoders import QUESTION_ENCODER_NAMES

VQA_MODEL_NAMES = ("bow", "lstm", "attention")
DEFAULT_VQA_MODEL = "attention"


@dataclass(frozen=True, kw_only=True)
class VqaModelConfig(JsonConfig):
    """A VQA model's architecture and sizes (see docs/models.md for each model).

    ``question_encoder`` is ignored by ``bow``, which always uses a bag of words
    (the config stores "bow" then). ``mlp_layers`` hidden layers of ``fusion_dim``
    units sit between the fused vector and the answer scores (0: a linear
    classifier). ``attention_dim`` and ``glimpses`` are the attention model's.
    ``max_question_len`` is how many tokens of a question the model reads.
    """

    model: str = DEFAULT_VQA_MODEL
    question_encoder: str = "lstm"
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    vocab_size: int
    num_answers: int
    embed_dim: int = 300
    hidden_dim: int = 512
    fusion_dim: int = 1024
    mlp_layers: int = 1
    attention_dim: int = 512
    glimpses: int = 2
    dropout: float = 0.5
    max_question_len: int = 20

    def __post_init__(self) -> None:
        check_choice(self.model, VQA_MODEL_NAMES, "model")
        if self.model == "bow":
            object.__setattr__(self, "question_encoder", "bow")
        check_choice(self.question_encoder, QUESTION_ENCODER_NAMES, "question_encoder")
        if not isinstance(self.image_encoder, ImageEncoderConfig):
            raise ConfigError("image_encoder", f"must be an ImageEncoderConfig, got {self.image_encoder!r}")
        for name in ("vocab_size", "num_answers", "embed_dim", "hidden_dim", "fusion_dim",
                     "attention_dim", "glimpses", "max_question_len"):
            check_positive(getattr(self, name), name)
        check_non_negative(self.mlp_layers, "mlp_layers")
        check_probability(self.dropout, "dropout")
        if self.vocab_size < 5:
            raise ConfigError(
                "vocab_size", f"must count the 4 special tokens and a word, got {self.vocab_size}"
            )
        if self.model == "attention" and not self.image_encoder.gives_grid:
            raise nested(
                "image_encoder",
                ConfigError("layer", f"the attention model needs a grid, got {self.image_encoder.layer!r}"),
            )

"""``CaptionerConfig``: everything needed to rebuild a captioning model.

Defaults are those for real photos (COCO with 300-d word vectors); the Shapes
world's routine passes smaller sizes. Stored as JSON beside the checkpoint's
tensors; ``from_dict`` raises ``DataFormatError`` naming the file and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vqadesk.models.config_checks import (
    ConfigError,
    JsonConfig,
    check_bool,
    check_choice,
    check_positive,
    check_probability,
    nested,
)
from vqadesk.models.image_encoder_base import ImageEncoderConfig

CAPTIONER_CELLS = ("lstm", "rnn")


@dataclass(frozen=True, kw_only=True)
class CaptionerConfig(JsonConfig):
    """A captioner's decoder and image encoder (see docs/models.md).

    ``cell``: "lstm", or "rnn" for a vanilla tanh RNN cell (the cs231n exercise).
    ``attention``: soft attention over the grid with a gating scalar ("Show,
    Attend and Tell"), or, when False, the mean image feature as a fixed context
    at every step. ``max_len``: the most words ``generate`` writes before ``<end>``.
    """

    cell: str = "lstm"
    attention: bool = True
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    vocab_size: int
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5
    max_len: int = 20

    def __post_init__(self) -> None:
        check_choice(self.cell, CAPTIONER_CELLS, "cell")
        check_bool(self.attention, "attention")
        if not isinstance(self.image_encoder, ImageEncoderConfig):
            raise ConfigError("image_encoder", f"must be an ImageEncoderConfig, got {self.image_encoder!r}")
        for name in ("vocab_size", "embed_dim", "hidden_dim", "attention_dim", "max_len"):
            check_positive(getattr(self, name), name)
        check_probability(self.dropout, "dropout")
        if self.vocab_size < 5:
            raise ConfigError(
                "vocab_size", f"must count the 4 special tokens and a word, got {self.vocab_size}"
            )
        if self.attention and not self.image_encoder.gives_grid:
            raise nested(
                "image_encoder",
                ConfigError("layer", f"attention needs a grid, got {self.image_encoder.layer!r}"),
            )

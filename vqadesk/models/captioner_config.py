"""``CaptionerConfig``: everything needed to rebuild a captioning model.

Defaults are those for real photos (COCO with 300-d word vectors); the Shapes
world's routine passes smaller sizes. Stored as JSON beside the checkpoint's
tensors; ``from_dict`` raises ``DataFormatError`` naming the file and field.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from vqadesk.models.config_checks import (
    ConfigError,
    check_bool,
    check_choice,
    check_positive,
    check_probability,
    config_from_dict,
    nested,
)
from vqadesk.models.image_encoder_base import ImageEncoderConfig

CAPTIONER_CELLS = ("lstm", "rnn")


@dataclass(frozen=True, kw_only=True)
class CaptionerConfig:
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_encoder"] = self.image_encoder.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, *, source: str | os.PathLike[str], where: str = "") -> CaptionerConfig:
        """The config in ``data`` (from ``to_dict``); problems name ``source`` and the field."""

        def image_encoder(value: dict, name: str) -> ImageEncoderConfig:
            return ImageEncoderConfig.from_dict(value, source=source, where=name)

        return config_from_dict(
            cls, data, _JSON_TYPES, source=source, where=where, convert={"image_encoder": image_encoder}
        )


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "cell": str,
    "attention": bool,
    "image_encoder": dict,
    "vocab_size": int,
    "embed_dim": int,
    "hidden_dim": int,
    "attention_dim": int,
    "dropout": float,
    "max_len": int,
}

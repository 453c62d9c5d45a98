"""The VQA and captioning models (PyTorch, Qt-free), one model per file.

VQA models (``build_vqa_model(config)``; docs/models.md has the papers and shapes):

* ``bow`` (``bow.py``): bag-of-words question + global image feature -> MLP;
* ``lstm`` (``lstm.py``): "deeper LSTM Q + norm I", element-wise product fusion;
* ``attention`` (``attention.py``, the default): question-guided attention over the
  image grid with several glimpses ("Show, Ask, Attend and Answer").

All share ``encode_images`` / ``answer`` / ``forward`` (``vqa_model.py``). The
captioner (``captioner.py``) decodes words with optional soft attention and beam
search (``beam_search.py``). Image encoders are pluggable (``image_encoders.py``),
question encoders too (``question_encoders.py``).
"""

from __future__ import annotations

from vqadesk.models.attention import AttentionVqa
from vqadesk.models.bow import BowVqa
from vqadesk.models.captioner import (
    Captioner,
    CaptionerConfig,
    CaptionOutput,
    GeneratedCaption,
    build_captioner,
    caption_loss,
)
from vqadesk.models.config_checks import ConfigError
from vqadesk.models.image_encoders import (
    IMAGE_ENCODER_NAMES,
    ImageEncoder,
    ImageEncoderConfig,
    WeightsError,
    build_image_encoder,
)
from vqadesk.models.lstm import LstmVqa
from vqadesk.models.question_encoders import QUESTION_ENCODER_NAMES
from vqadesk.models.vqa_config import DEFAULT_VQA_MODEL, VQA_MODEL_NAMES, VqaModelConfig
from vqadesk.models.vqa_model import VqaModel, VqaOutput

VQA_MODELS: dict[str, type[VqaModel]] = {"bow": BowVqa, "lstm": LstmVqa, "attention": AttentionVqa}
assert tuple(VQA_MODELS) == VQA_MODEL_NAMES, "the registry and the config's choices must agree"


def build_vqa_model(config: VqaModelConfig) -> VqaModel:
    """The VQA model ``config`` describes (image encoder weights loaded as configured)."""
    return VQA_MODELS[config.model](config=config)


__all__ = [
    "DEFAULT_VQA_MODEL",
    "IMAGE_ENCODER_NAMES",
    "QUESTION_ENCODER_NAMES",
    "VQA_MODELS",
    "VQA_MODEL_NAMES",
    "AttentionVqa",
    "BowVqa",
    "CaptionOutput",
    "Captioner",
    "CaptionerConfig",
    "ConfigError",
    "GeneratedCaption",
    "ImageEncoder",
    "ImageEncoderConfig",
    "LstmVqa",
    "VqaModel",
    "VqaModelConfig",
    "VqaOutput",
    "WeightsError",
    "build_captioner",
    "build_image_encoder",
    "build_vqa_model",
    "caption_loss",
]

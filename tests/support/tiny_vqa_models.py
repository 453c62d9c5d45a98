"""Tiny random ViLT-VQA and BLIP-VQA models, saved as transformers saves the real ones.

Each builder writes a folder with what ``save_pretrained`` writes for the released models
(``config.json``, ``model.safetensors``, the processor's and tokenizer's files) from
transformers' own config classes: 2 layers of width 32, a BERT word-piece vocabulary small enough
to read (``vocab.txt``), the image processors of the real models with smaller sizes. The weights
are random (seeded), so answers are arbitrary but the code path is the real one, and a folder
loads in well under a second.

* ``write_tiny_vilt_vqa(folder)``: ``ViltForQuestionAnswering`` with ``ANSWER_LABELS``; its
  processor resizes the shorter side to 96 px (longer side at most 160) in multiples of 16, so a
  640 x 480 photo becomes 96 x 128 pixels, a 6 x 8 grid of 16-pixel patches.
* ``write_tiny_blip_vqa(folder)``: ``BlipForQuestionAnswering``; its processor resizes every
  photo to 64 x 64, a 4 x 4 grid of 16-pixel patches.

``tiny_vqa_models(tmp_path_factory)`` builds both once per test session.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

# The answers the tiny ViLT knows (config.id2label), as the real model's VQA v2 labels look.
ANSWER_LABELS = ("yes", "no", "2", "skateboard", "red", "kite", "baseball")
VILT_GRID_LANDSCAPE = (6, 8)  # a 4:3 landscape photo's patch grid (rows, columns)
BLIP_GRID = (4, 4)

_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_BLIP_SPECIAL = ("[DEC]", "[ENC]")  # BLIP's decoder start and encoder tokens, as in Salesforce's vocabulary
_WORDS = (
    "what", "is", "the", "man", "riding", "how", "many", "are", "there", "color", "of", "a", "on", "in",
    "sport", "this", "cats", "kite", "yes", "no", "skateboard", "red", "blue", "baseball", "snow", "table",
)
_SEED = 14


@dataclass(frozen=True)
class TinyVqaModels:
    vilt: Path  # a ViltForQuestionAnswering folder
    blip: Path  # a BlipForQuestionAnswering folder


_built: dict[Path, TinyVqaModels] = {}


def tiny_vqa_models(tmp_path_factory) -> TinyVqaModels:
    """Both tiny models, written once per session under its base temporary folder."""
    base = tmp_path_factory.getbasetemp()
    if base not in _built:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # save_pretrained's bars: noise in the test log
        try:
            root = base / "tiny-vqa-models"
            _built[base] = TinyVqaModels(
                vilt=write_tiny_vilt_vqa(root / "vilt"), blip=write_tiny_blip_vqa(root / "blip")
            )
        finally:
            transformers_logging.enable_progress_bar()
    return _built[base]


def vocabulary(special: tuple[str, ...] = ()) -> list[str]:
    """A word-piece vocabulary in which every ASCII word tokenises: specials, words, letters and ``##`` pieces."""
    pieces = list(string.ascii_lowercase) + list(string.digits)
    return [*_SPECIAL, *special, *_WORDS, *string.punctuation, *pieces, *(f"##{p}" for p in pieces)]


def write_tokenizer(folder: Path, special: tuple[str, ...] = ()):
    """A ``BertTokenizer`` over ``vocabulary(special)``, its ``vocab.txt`` written into ``folder``."""
    from transformers import BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary(special)) + "\n", encoding="utf-8")
    return BertTokenizer(vocab=str(vocab_file))


def write_tiny_vilt_vqa(folder: Path) -> Path:
    """A tiny random ``ViltForQuestionAnswering`` and its ``ViltProcessor``, saved into ``folder``."""
    import torch
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

    tokenizer = write_tokenizer(folder)
    config = ViltConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=40, image_size=96, patch_size=16, max_image_length=-1,
        id2label=dict(enumerate(ANSWER_LABELS)), label2id={label: i for i, label in enumerate(ANSWER_LABELS)},
    )
    torch.manual_seed(_SEED)
    model = ViltForQuestionAnswering(config)
    with torch.no_grad():
        model.classifier[-1].weight.mul_(50.0)  # answer probabilities that differ visibly, not all ~1/K
    _sharpen_attention(model)
    model.save_pretrained(folder)
    images = ViltImageProcessor(size={"shortest_edge": 96}, size_divisor=16)
    ViltProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def write_tiny_blip_vqa(folder: Path) -> Path:
    """A tiny random ``BlipForQuestionAnswering`` and its ``BlipProcessor``, saved into ``folder``."""
    import torch
    from transformers import BlipConfig, BlipForQuestionAnswering, BlipImageProcessor, BlipProcessor

    tokenizer = write_tokenizer(folder, _BLIP_SPECIAL)
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    width = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    config = BlipConfig(
        text_config={
            **width, "vocab_size": len(tokenizer), "max_position_embeddings": 64,
            "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "sep_token_id": tokenizer.sep_token_id,
        },
        vision_config={**width, "image_size": 64, "patch_size": 16, "initializer_range": 0.02},
    )
    torch.manual_seed(_SEED)
    model = BlipForQuestionAnswering(config)
    _sharpen_attention(model)
    _prefer_short_answers(model, tokenizer)
    model.save_pretrained(folder)
    images = BlipImageProcessor(size={"height": 64, "width": 64})
    BlipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def _sharpen_attention(model) -> None:
    """Larger query weights: random attention of width 32 is nearly uniform, a useless heatmap to test."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("query.weight"):
                parameter.mul_(20.0)


def _prefer_short_answers(model, tokenizer) -> None:
    """A decoder bias towards a few answer words and ``[SEP]``: short answers with visible probabilities,
    as a trained BLIP gives, instead of ten random word pieces."""
    import torch

    preferred = tokenizer.convert_tokens_to_ids([*ANSWER_LABELS, "[SEP]"])
    with torch.no_grad():
        model.text_decoder.cls.predictions.bias[preferred] += 6.0

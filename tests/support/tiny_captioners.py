"""Tiny random pretrained captioners of the three supported architectures, saved like a real download.

Each builder makes a model with transformers' own config classes (2 layers, width 32, 2 heads,
32 x 32 images in 16 px patches, so a 2 x 2 patch grid), a tokenizer from a small vocabulary and
the image processor the released model uses, and writes them with ``save_pretrained``
(``model.safetensors``, ``config.json``, ``generation_config.json``, processor and tokenizer
files) into a folder, so they are resolved (``resolve_pretrained``) and loaded through the same code
path as a model from the Hugging Face cache. The seed is fixed: a folder built twice holds the same
weights.

The vocabularies hold subword pieces on purpose (WordPiece ``##`` continuations for BLIP and GIT,
GPT-2 byte-level pieces without a leading ``Ġ`` for the vision-encoder-decoder), so the random
captions have words made of several tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vqadesk.engine.torch_free.hub.references import PretrainedSource, resolve_pretrained
from vqadesk.engine.torch_free.model_kind import ModelKind

IMAGE_SIZE = 32
PATCH_SIZE = 16
GRID = (IMAGE_SIZE // PATCH_SIZE, IMAGE_SIZE // PATCH_SIZE)
MAX_NEW_TOKENS = 8  # greedy captions never stop on their own (``_random_model``): each is this long
SEED = 1234

_WIDTH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
_VISION = dict(_WIDTH, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE)

WORDPIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")
WORDPIECE_PIECES = (
    "a", "man", "woman", "dog", "cat", "on", "the", "with", "riding", "skate", "##board", "##s", "sit", "##ting",
    "couch", "two", "in", "of", "red", "ball", "field", "snow", "ski", "##er", "play", "##ing", ".", ",", "kite",
)

GPT2_END = "<|endoftext|>"
# Byte-level pieces: "Ġ" is the space byte, so "Ġskate" starts a word and "board" continues one.
GPT2_PIECES = (
    "a", "Ġa", "Ġman", "Ġwoman", "Ġdog", "Ġcat", "Ġon", "Ġthe", "Ġwith", "Ġriding", "Ġskate", "board", "s",
    "Ġsit", "ting", "Ġcouch", "Ġtwo", "Ġin", "Ġof", "Ġred", "Ġball", "Ġfield", "Ġsnow", "Ġski", "er", "ing",
    ".", ",", "Ġkite",
)


def wordpiece_tokenizer(**kwargs):
    """A BERT WordPiece tokenizer over ``WORDPIECE_SPECIALS + WORDPIECE_PIECES``."""
    from transformers import BertTokenizerFast

    vocab = {token: index for index, token in enumerate(WORDPIECE_SPECIALS + WORDPIECE_PIECES)}
    return BertTokenizerFast(vocab=vocab, **kwargs)


def gpt2_tokenizer():
    """A GPT-2 byte-level BPE tokenizer: the byte characters ``GPT2_PIECES`` need, the pieces, merges making them."""
    from transformers import GPT2TokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    byte_characters = set(bytes_to_unicode().values())
    # The characters of the pieces, and the two bytes of "é" ("Ã", "©"): a word split inside a character.
    alphabet = sorted({c for piece in GPT2_PIECES for c in piece} | {"Ã", "©"})
    assert set(alphabet) <= byte_characters
    vocab: dict[str, int] = {}
    merges: list[tuple[str, str]] = []
    for token in (GPT2_END, *alphabet):
        vocab.setdefault(token, len(vocab))
    for piece in GPT2_PIECES:
        for end in range(2, len(piece) + 1):  # build each piece left to right: "Ġs"+"k", "Ġsk"+"a", ...
            left, right, whole = piece[: end - 1], piece[end - 1], piece[:end]
            if whole not in vocab:
                vocab[whole] = len(vocab)
                merges.append((left, right))
    return GPT2TokenizerFast(vocab=vocab, merges=merges, pad_token=GPT2_END)


def build_blip(folder: Path) -> PretrainedSource:
    """A ``BlipForConditionalGeneration`` with a ``BlipProcessor`` (resizes the whole photo to 32 x 32)."""
    from transformers import (
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    tokenizer = wordpiece_tokenizer(bos_token="[DEC]")
    ids = tokenizer.convert_tokens_to_ids
    text = BlipTextConfig(
        vocab_size=len(tokenizer), encoder_hidden_size=32, max_position_embeddings=64,
        bos_token_id=ids("[DEC]"), sep_token_id=ids("[SEP]"), pad_token_id=ids("[PAD]"), eos_token_id=ids("[SEP]"),
        **_WIDTH,
    )
    vision = BlipVisionConfig(initializer_range=0.02, **_VISION)
    config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32,
                        image_text_hidden_size=32)
    image_processor = BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return _save(BlipForConditionalGeneration, config, processor, folder, ids("[SEP]"))


def build_git(folder: Path) -> PretrainedSource:
    """A ``GitForCausalLM`` with a ``GitProcessor`` (CLIP's: shorter side to 32, then the centre 32 x 32)."""
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor, GitVisionConfig

    tokenizer = wordpiece_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    vision = GitVisionConfig(**_VISION)
    config = GitConfig(
        vision_config=vision.to_dict(), vocab_size=len(tokenizer), max_position_embeddings=64,
        bos_token_id=ids("[CLS]"), eos_token_id=ids("[SEP]"), pad_token_id=ids("[PAD]"), **_WIDTH,
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = GitProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return _save(GitForCausalLM, config, processor, folder, ids("[SEP]"))


def build_vision_encoder_decoder(folder: Path) -> PretrainedSource:
    """A ``VisionEncoderDecoderModel`` (ViT encoder, GPT-2 decoder with cross-attention), as
    nlpconnect/vit-gpt2-image-captioning is: a ViT image processor (whole photo to 32 x 32) and a
    GPT-2 tokenizer saved side by side, no processor class."""
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    tokenizer = gpt2_tokenizer()
    end = tokenizer.convert_tokens_to_ids(GPT2_END)
    encoder = ViTConfig(**_VISION)
    decoder = GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64, add_cross_attention=True,
        is_decoder=True, bos_token_id=end, eos_token_id=end, pad_token_id=end,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = end
    config.pad_token_id = end
    config.eos_token_id = end
    model = _random_model(VisionEncoderDecoderModel, config, end)
    model.save_pretrained(folder)
    ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return source_of(folder, "VisionEncoderDecoderModel")


BUILDERS = {
    "BlipForConditionalGeneration": build_blip,
    "GitForCausalLM": build_git,
    "VisionEncoderDecoderModel": build_vision_encoder_decoder,
}


def _random_model(model_class: type, config, end_token: int):
    """The model with seeded random weights and a zero output row for ``end_token``: its logit is always 0
    while the others' are random around 0, so greedy search never stops and beam search hardly ever
    does, and every caption has words."""
    torch.manual_seed(SEED)
    model = model_class(config).eval()
    model.generation_config.max_new_tokens = MAX_NEW_TOKENS
    model.generation_config.bos_token_id = getattr(config, "bos_token_id", None)
    decoder = model.text_decoder if hasattr(model, "text_decoder") else model  # BLIP's head is its decoder's
    head = decoder.get_output_embeddings()
    with torch.no_grad():
        head.weight[end_token] = 0.0
        if head.bias is not None:
            head.bias[end_token] = 0.0
    return model


def _save(model_class: type, config, processor, folder: Path, end_token: int) -> PretrainedSource:
    model = _random_model(model_class, config, end_token)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return source_of(folder, model_class.__name__)


def source_of(folder: Path, architecture: str) -> PretrainedSource:
    """The folder resolved as ``--model FOLDER`` resolves it (config, architecture, safetensors checked)."""
    source = resolve_pretrained(Path(folder), ModelKind.CAPTIONING)
    assert source is not None and source.architecture == architecture
    return source

"""Full-size pretrained architectures with random weights, saved as a Hub download would hold them.

``bench_pretrained.py`` times these instead of the released models, which cannot be downloaded on
the machines the project is built on: each config is its class's default (which is the released
base model's: BLIP ViT-B/16 at 384 px with a 12-layer BERT text model, ViLT-B/32 at 384 px with
3,129 answers, GIT-base with its 6-layer decoder, ViT-B/16 + GPT-2), so the arithmetic is the
released model's. The tokenizers have the released vocabulary sizes, made of filler tokens: the
text they write is nonsense, its length is capped the same for every contender.
"""

from __future__ import annotations

from pathlib import Path

BERT_VOCAB_SIZE = 30522
GPT2_VOCAB_SIZE = 50257
VQA_ANSWERS = 3129  # VQA v2's answer set in ViLT's config
MAX_NEW_TOKENS = 20  # every contender writes at most this many tokens


def bert_tokenizer():
    """A BERT WordPiece tokenizer with the released vocabulary size: special tokens, letters, a few words, filler."""
    from transformers import BertTokenizerFast

    words = ["a", "the", "man", "is", "riding", "skateboard", "what", "how", "many", "people", "are", "there",
             "colour", "color", "of", "on", "in", "yes", "no", "two", "?"]
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += [chr(c) for c in range(ord("a"), ord("z") + 1)] + [f"##{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
    vocab += [w for w in words if w not in vocab]
    vocab += [f"filler{i}" for i in range(BERT_VOCAB_SIZE - len(vocab))]
    return BertTokenizerFast(vocab={token: index for index, token in enumerate(vocab)}, do_lower_case=True)


def gpt2_tokenizer():
    """A byte-level BPE tokenizer with GPT-2's vocabulary size and ``<|endoftext|>`` last."""
    from transformers import GPT2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokens = list(bytes_to_unicode().values())
    # Filler pieces, half starting a word (GPT-2 marks a leading space with "Ġ"), as in GPT-2's vocabulary.
    fillers = GPT2_VOCAB_SIZE - 1 - len(tokens)
    tokens += [f"{'Ġ' if i % 2 else ''}filler{i}" for i in range(fillers)] + ["<|endoftext|>"]
    return GPT2Tokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[])


def build(architecture: str, folder: Path) -> Path:
    """Save ``architecture`` at full size with random weights, and its processor, into ``folder``."""
    import torch

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    model, processors = _builders()[architecture]()
    if getattr(model, "generation_config", None) is not None:  # ViLT chooses an answer, it writes none
        model.generation_config.max_new_tokens = MAX_NEW_TOKENS
        model.generation_config.max_length = None
    model.save_pretrained(folder)  # safetensors
    for processor in processors:  # a processor, or an image processor and a tokenizer side by side
        processor.save_pretrained(folder)
    return folder


def _blip(model_class):
    def make():
        from transformers import BlipConfig, BlipImageProcessor, BlipProcessor

        tokenizer = bert_tokenizer()
        tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
        processor = BlipProcessor(image_processor=BlipImageProcessor(), tokenizer=tokenizer)
        return model_class(BlipConfig()), [processor]

    return make


def _vilt():
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

    labels = {i: f"answer{i}" for i in range(VQA_ANSWERS)}
    config = ViltConfig(num_labels=VQA_ANSWERS, id2label=labels, label2id={v: k for k, v in labels.items()})
    processor = ViltProcessor(image_processor=ViltImageProcessor(), tokenizer=bert_tokenizer())
    return ViltForQuestionAnswering(config), [processor]


def _git():
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    image_processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    processor = GitProcessor(image_processor=image_processor, tokenizer=bert_tokenizer())
    return GitForCausalLM(GitConfig()), [processor]


def _vit_gpt2():
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )
    tokenizer = gpt2_tokenizer()
    decoder = GPT2Config(add_cross_attention=True, is_decoder=True, bos_token_id=GPT2_VOCAB_SIZE - 1,
                         eos_token_id=GPT2_VOCAB_SIZE - 1)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(ViTConfig(), decoder)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = GPT2_VOCAB_SIZE - 1
    # What nlpconnect's repository holds: an image processor and a tokenizer, no processor class.
    return VisionEncoderDecoderModel(config), [ViTImageProcessor(), tokenizer]


def _builders():
    from transformers import BlipForConditionalGeneration, BlipForQuestionAnswering

    return {
        "BlipForConditionalGeneration": _blip(BlipForConditionalGeneration),
        "BlipForQuestionAnswering": _blip(BlipForQuestionAnswering),
        "ViltForQuestionAnswering": _vilt,
        "GitForCausalLM": _git,
        "VisionEncoderDecoderModel": _vit_gpt2,
    }

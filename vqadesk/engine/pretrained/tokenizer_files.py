"""Refuse a model folder whose tokenizer is missing or damaged, which transformers would not.

transformers 5 builds a tokenizer with an empty vocabulary (only its special tokens) when a
folder has none of the tokenizer's files, so every word of a question would read as ``[UNK]`` and
the model would answer nonsense without a word of warning. ``check_tokenizer_files`` (before
loading) wants one of the files a tokenizer is made from; ``check_vocabulary`` (after) wants
the tokenizer to know about as many tokens as the model's embedding table has rows.
"""

from __future__ import annotations

from vqadesk.engine.torch_free.hub.references import PretrainedModelError, PretrainedSource

# What the five architectures' tokenizers are made from: the fast tokenizer's own file, a BERT
# word-piece vocabulary (BLIP, ViLT, GIT), a GPT-2 byte-pair vocabulary, sentencepiece models.
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "tokenizer.model")
_KNOWN_SHARE = 0.9  # a tokenizer may leave a few of the embedding table's rows unused, never most


def check_tokenizer_files(source: PretrainedSource) -> None:
    """One line naming the folder when it has none of ``TOKENIZER_FILES``."""
    if not any((source.folder / name).is_file() for name in TOKENIZER_FILES):
        raise PretrainedModelError(
            f"{source.name}: no tokenizer in {source.folder} (none of {', '.join(TOKENIZER_FILES)}); "
            "the download is incomplete: download it again"
        )


def check_vocabulary(tokenizer, vocab_size: int, source: PretrainedSource) -> None:
    """One line naming the folder when ``tokenizer`` knows far fewer tokens than the model's ``vocab_size``."""
    known = len(tokenizer)
    if known < _KNOWN_SHARE * vocab_size:
        raise PretrainedModelError(
            f"{source.name}: the tokenizer in {source.folder} knows {known} tokens, the model {vocab_size}; "
            "its tokenizer files are damaged or do not belong to it"
        )

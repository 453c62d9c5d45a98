"""Which files of a Hub revision vqadesk downloads: what loading needs, safetensors weights only.

A model repository holds much more than a model needs: the same weights as a pickle, for
TensorFlow and for Flax, ONNX exports, sample images. Loading needs the config files, the
processor and tokenizer files, and the safetensors weights (``model.safetensors``, or a sharded
index with its shards). A revision whose only weights are pickles is refused here, before a
single weight byte is fetched, since vqadesk never opens a pickle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vqadesk.engine.checkpoints.checkpoint_files import PICKLE_SUFFIXES
from vqadesk.engine.torch_free.hub.catalogue import catalogue_entry
from vqadesk.engine.torch_free.hub.references import (
    SAFETENSORS_INDEX,
    SAFETENSORS_WEIGHTS,
    HubReference,
    PickleOnlyModelError,
    PretrainedModelError,
)

CONFIG = "config.json"
# The configuration, processor and tokenizer files transformers reads, in the order they are fetched.
LOADING_FILES = (
    CONFIG,
    "generation_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "image_processor_config.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
_SHARD = re.compile(r"^model-\d+-of-\d+\.safetensors$")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a Hub revision: its size and its etag (the LFS sha256, else the git blob id).

    The etag is also the name of its blob in the Hugging Face cache and the hash its bytes must have.
    """

    name: str
    size: int
    etag: str


def choose_files(reference: HubReference, revision: str, files: list[RemoteFile]) -> list[RemoteFile]:
    """The files loading needs, small ones first (``config.json`` first of all), the weights last.

    Raises ``PickleOnlyModelError`` for a revision whose weights are only pickles and
    ``PretrainedModelError`` for one without ``config.json`` or without any weights.
    """
    by_name = {file.name: file for file in files}
    where = f"{reference.text} (revision {revision})"
    if CONFIG not in by_name:
        raise PretrainedModelError(f"{where} has no {CONFIG}: it is not a transformers model")
    weights = _safetensors_weights(by_name)
    if not weights:
        pickles = sorted(name for name in by_name if "/" not in name and _is_pickle(name))
        if pickles:
            raise PickleOnlyModelError(_pickle_only_message(reference, revision, where, pickles))
        raise PretrainedModelError(f"{where} has no {SAFETENSORS_WEIGHTS}: nothing vqadesk can load")
    small = [by_name[name] for name in LOADING_FILES if name in by_name]
    return small + weights


def _safetensors_weights(by_name: dict[str, RemoteFile]) -> list[RemoteFile]:
    if SAFETENSORS_WEIGHTS in by_name:
        return [by_name[SAFETENSORS_WEIGHTS]]
    if SAFETENSORS_INDEX in by_name:
        shards = sorted(name for name in by_name if _SHARD.match(name))
        if shards:
            return [by_name[SAFETENSORS_INDEX], *(by_name[name] for name in shards)]
    return []


def _is_pickle(name: str) -> bool:
    return any(name.lower().endswith(suffix) for suffix in PICKLE_SUFFIXES)


def _pickle_only_message(reference: HubReference, revision: str, where: str, pickles: list[str]) -> str:
    message = (
        f"{where} has only pickled weights ({', '.join(pickles)}), which vqadesk never downloads "
        "nor opens because unpickling can run code"
    )
    entry = catalogue_entry(reference.repo_id)
    if entry is not None and entry.revision != revision:
        return f"{message}; the catalogue's revision has model.safetensors: vqadesk models download hf:{entry.repo_id}"
    return f"{message}; pick a revision with model.safetensors (hf:{reference.repo_id}@REVISION)"

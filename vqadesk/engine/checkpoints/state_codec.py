"""Nested training state (optimiser / scheduler state dicts) <-> JSON + tensors.

``optimizer.state_dict()`` mixes tensors (Adam's moments, SGD's momentum
buffers), numbers, tuples (Adam's ``betas``), ``None`` and dicts keyed by
parameter index (ints). Pickle could store that as is, but loading a pickle
runs code, so a checkpoint splits it instead: the tensors go to the
safetensors file under readable keys (``optimizer.state.0.exp_avg``) and
everything else to JSON, in a form that rebuilds an *identical* structure:
same container types, same key types, same numbers, same tensor dtypes.

The JSON form of each value::

    None, bool, int, str, finite float   themselves
    nan, inf, -inf                        {"$float": "nan" | "inf" | "-inf"}
    tensor                                {"$tensor": "<safetensors key>"}
    tuple                                 {"$tuple": [...]}
    list                                  [...]
    dict, str keys not starting with "$"  {...}
    any other dict (int keys, ...)        {"$dict": [[key, value], ...]}

numpy scalars are stored as the equivalent Python number. Anything else (a
function, a numpy array, a custom object) is refused when saving with a
``TypeError`` naming where it sits: that is a programming error in what was
handed to the checkpoint, not something to paper over.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from vqadesk.errors import DataFormatError

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_KEY_TYPES = (type(None), bool, int, float, str, tuple)


def encode_state(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """The JSON form of ``value``; its tensors are added to ``tensors`` under ``prefix.*``.

    A tensor that appears twice (the same object) is stored once and both
    places refer to it, so identity survives the round trip.
    """
    seen: dict[int, str] = {}

    def encode(item: Any, path: list[str]) -> Any:
        if isinstance(item, np.generic) and isinstance(item, (np.bool_, np.integer, np.floating)):
            item = item.item()  # a numpy scalar (a sampler position...) stored as the Python number
        if item is None or isinstance(item, (bool, int, str)):
            return item
        if isinstance(item, float):
            return item if math.isfinite(item) else {"$float": repr(item)}
        if isinstance(item, torch.Tensor):
            if id(item) not in seen:
                seen[id(item)] = _free_key(".".join([prefix, *path]), tensors)
                tensors[seen[id(item)]] = item
            return {"$tensor": seen[id(item)]}
        if isinstance(item, tuple):
            return {"$tuple": [encode(part, [*path, str(i)]) for i, part in enumerate(item)]}
        if isinstance(item, list):
            return [encode(part, [*path, str(i)]) for i, part in enumerate(item)]
        if isinstance(item, dict):
            if all(isinstance(key, str) and not key.startswith("$") for key in item):
                return {key: encode(part, [*path, key]) for key, part in item.items()}
            pairs = []
            for key, part in item.items():
                if not isinstance(key, _KEY_TYPES):
                    raise TypeError(
                        f"{_dotted(prefix, path)}: cannot store a {type(key).__name__} dict key in a checkpoint"
                    )
                pairs.append([encode(key, [*path, "key"]), encode(part, [*path, str(key)])])
            return {"$dict": pairs}
        raise TypeError(
            f"{_dotted(prefix, path)}: cannot store a {type(item).__name__} in a checkpoint "
            "(only tensors, numbers, strings, booleans, None, lists, tuples and dicts)"
        )

    return encode(value, [])


def decode_state(
    tree: Any,
    tensors: Mapping[str, torch.Tensor],
    *,
    source: str | os.PathLike[str],
    where: str,
) -> Any:
    """Rebuild what ``encode_state`` encoded; problems name ``source`` and the JSON field.

    ``tensors`` holds the safetensors file's tensors (full keys). A tensor
    referenced twice comes back as one object referenced twice.
    """
    rebuilt: dict[str, torch.Tensor] = {}

    def decode(item: Any, at: str) -> Any:
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if isinstance(item, list):
            return [decode(part, f"{at}[{i}]") for i, part in enumerate(item)]
        if not isinstance(item, dict):
            raise DataFormatError(source, f"unexpected {type(item).__name__}", at)
        tags = [key for key in item if key.startswith("$")]
        if not tags:
            return {key: decode(part, f"{at}.{key}") for key, part in item.items()}
        if len(item) != 1:
            raise DataFormatError(source, f"a tagged value has exactly one key, got {sorted(item)}", at)
        tag, body = tags[0], item[tags[0]]
        inner = f"{at}.{tag}"
        if tag == "$tensor":
            if not isinstance(body, str):
                raise DataFormatError(source, "expected a tensor name", inner)
            if body not in tensors:
                raise DataFormatError(source, f"names tensor '{body}', which the safetensors file lacks", inner)
            return rebuilt.setdefault(body, tensors[body])
        if tag == "$float":
            if body not in _NON_FINITE:
                raise DataFormatError(source, "expected 'nan', 'inf' or '-inf'", inner)
            return _NON_FINITE[body]
        if tag == "$tuple":
            if not isinstance(body, list):
                raise DataFormatError(source, "expected a list", inner)
            return tuple(decode(part, f"{inner}[{i}]") for i, part in enumerate(body))
        if tag == "$dict":
            return decode_pairs(body, inner)
        raise DataFormatError(source, f"unknown tag {tag!r}", at)

    def decode_pairs(body: Any, at: str) -> dict:
        if not isinstance(body, list):
            raise DataFormatError(source, "expected a list of [key, value] pairs", at)
        result = {}
        for i, pair in enumerate(body):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise DataFormatError(source, "expected a [key, value] pair", f"{at}[{i}]")
            key = decode(pair[0], f"{at}[{i}][0]")
            if not _is_key(key):
                raise DataFormatError(source, f"a {type(key).__name__} cannot be a dict key", f"{at}[{i}][0]")
            result[key] = decode(pair[1], f"{at}[{i}][1]")
        return result

    try:
        return decode(tree, where)
    except RecursionError:
        raise DataFormatError(source, "nested too deeply", where) from None


def _is_key(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_key(part) for part in value)
    return isinstance(value, _KEY_TYPES)


def _free_key(wanted: str, tensors: Mapping[str, torch.Tensor]) -> str:
    # Keys come from the path, so two paths can only collide in odd cases
    # (a dict with both 0 and "0" as keys); number the later ones.
    key, n = wanted, 1
    while key in tensors:
        key, n = f"{wanted}~{n}", n + 1
    return key


def _dotted(prefix: str, path: list[str]) -> str:
    return ".".join([prefix, *path])

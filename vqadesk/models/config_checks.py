"""Checks shared by the model configs, and reading them back from JSON.

A config is built two ways: in code (training options, tests) and from JSON (the
config stored beside a checkpoint's tensors). Both go through the same checks in the
dataclass's ``__post_init__``, which raise ``ConfigError`` naming the field;
``config_from_dict`` turns that into a ``DataFormatError`` naming the file as well,
so a foreign or corrupt checkpoint ends in one clear line, never a ``TypeError``.

``JsonConfig`` gives a config dataclass its ``to_dict`` / ``from_dict``, both read
from the dataclass's fields: each field is one JSON key, in field order.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from types import UnionType
from typing import Any, TypeVar

from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import expect

Config = TypeVar("Config")


class ConfigError(VqadeskError, ValueError):
    """A model config value out of range: ``field`` names it (dotted for nested configs)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"field '{field}': {problem}")


def check_choice(value: Any, choices: Iterable[str], name: str) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_positive(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(name, f"must be a positive integer, got {value!r}")


def check_non_negative(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(name, f"must be an integer >= 0, got {value!r}")


def check_probability(value: Any, name: str) -> None:
    """A dropout rate: a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(name, f"must be a number in [0, 1), got {value!r}")


def check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, got {value!r}")


def nested(prefix: str, error: ConfigError) -> ConfigError:
    """``error`` re-raised one level up: field 'layer' becomes 'image_encoder.layer'."""
    return ConfigError(f"{prefix}.{error.field}", error.problem)


def config_from_dict(
    cls: type[Config],
    data: Any,
    json_types: Mapping[str, type | tuple[type, ...]],
    *,
    source: str | os.PathLike[str],
    where: str,
    convert: Mapping[str, Callable[[Any, str], Any]] | None = None,
) -> Config:
    """Build ``cls`` from the JSON object ``data``; every problem is a ``DataFormatError``.

    ``json_types`` gives each known key's JSON type (keys absent from ``data`` keep
    the dataclass default; a required one missing is reported as missing).
    ``convert[key](value, field_name)`` turns a checked JSON value into the Python
    one (a list into a tuple, a nested object into its config).
    """
    expect(data, dict, source, where)
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(json_types))
    if unknown:
        raise DataFormatError(
            source, f"unknown field (known: {', '.join(json_types)})", f"{prefix}{unknown[0]}"
        )
    values: dict[str, Any] = {}
    for key, types in json_types.items():
        if key not in data:
            if key in _required_fields(cls):
                raise DataFormatError(source, "missing", f"{prefix}{key}")
            continue
        value = expect(data[key], types, source, f"{prefix}{key}")
        if convert and key in convert:
            value = convert[key](value, f"{prefix}{key}")
        values[key] = value
    try:
        return cls(**values)
    except ConfigError as exc:
        raise DataFormatError(source, exc.problem, f"{prefix}{exc.field}") from None


def _required_fields(cls: Any) -> set[str]:
    return {
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


class JsonConfig:
    """Base of the frozen config dataclasses stored as JSON beside a checkpoint's tensors.

    A field's annotation gives its JSON type: ``str``, ``bool``, ``int``, ``float``,
    ``int | None``, ``tuple[int, ...]`` (a JSON list) or another ``JsonConfig`` (a
    nested object, read with its own ``from_dict``).
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[Config], data: Any, *, source: str | os.PathLike[str], where: str = "") -> Config:
        """The config in ``data`` (from ``to_dict``); problems name ``source`` and the field."""
        json_types: dict[str, type | tuple[type, ...]] = {}
        convert: dict[str, Callable[[Any, str], Any]] = {}
        annotations = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            json_types[f.name], converter = _json_type(annotations[f.name], source)
            if converter is not None:
                convert[f.name] = converter
        return config_from_dict(cls, data, json_types, source=source, where=where, convert=convert)


def _to_json(value: Any) -> Any:
    if isinstance(value, JsonConfig):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return value


def _json_type(
    annotation: Any, source: str | os.PathLike[str]
) -> tuple[type | tuple[type, ...], Callable[[Any, str], Any] | None]:
    """The JSON type of a field annotated ``annotation``, and how to turn its JSON value back."""
    if isinstance(annotation, type) and issubclass(annotation, JsonConfig):
        nested_config = annotation

        def read_nested(value: dict, name: str) -> JsonConfig:
            return nested_config.from_dict(value, source=source, where=name)

        return dict, read_nested
    if typing.get_origin(annotation) is tuple:

        def read_int_tuple(values: list, name: str) -> tuple[int, ...]:
            return tuple(expect(v, int, source, f"{name}[{i}]") for i, v in enumerate(values))

        return list, read_int_tuple
    if isinstance(annotation, UnionType):
        return typing.get_args(annotation), None
    return annotation, None

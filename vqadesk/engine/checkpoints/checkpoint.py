"""Checkpoints: a model, its config and (optionally) its training state, without pickle.

A checkpoint named NAME in folder DIR is a pair of files:

- ``DIR/NAME.safetensors``: every tensor. The model's under ``model.<state_dict
  key>``; the optimiser's under ``optimizer.*`` (``optimizer.state.0.exp_avg``);
  the random generators' under ``rng.*``.
- ``DIR/NAME.json``: everything else::

    {"format": "vqadesk.checkpoint", "version": 1, "kind": "vqa" | "captioning",
     "written_by": {"vqadesk": "0.1.0", "torch": "2.x"},          (informational)
     "tensors": {"file": "NAME.safetensors", "sha256": "...", "bytes": 123},
     "model_config": {...}, "training_state": {...} (absent: inference only),
     "metadata": {... vocabularies, answer list, metrics history, model card ...}}

The JSON records the SHA-256 and size of the safetensors file written with it,
so a pair that does not belong together (a crash between the two renames, a
file copied from another run) is refused on load with a clear message
instead of loading one run's config with another run's weights. Both files
are written in full to temporary files before either is renamed into place,
so a failure while writing leaves the previous checkpoint loadable.

Loading never unpickles: see ``checkpoint_files`` and docs/checkpoints.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from vqadesk import __version__
from vqadesk.engine.checkpoints.checkpoint_files import (
    CheckpointError,
    finish_staged,
    looks_pickled,
    pickle_refusal,
    refuse_if_pickled,
    remove_quietly,
    sha256_of_file,
    staged_path,
    sync_folder,
    write_staged_bytes,
)
from vqadesk.engine.checkpoints.rng_state import (
    RngState,
    capture_rng_state,
    decode_rng_state,
    encode_rng_state,
    restore_rng_state,
)
from vqadesk.engine.checkpoints.state_codec import decode_state, encode_state
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import DataFormatError
from vqadesk.jsonio import check_format, describe_type, expect, field, read_json

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "RngState",
    "TrainingState",
    "capture_rng_state",
    "checkpoint_paths",
    "load_checkpoint",
    "load_model_state",
    "restore_rng_state",
    "save_checkpoint",
]

FORMAT_NAME = "vqadesk.checkpoint"
FORMAT_VERSION = 1
KINDS = tuple(kind.value for kind in ModelKind)
JSON_SUFFIX = ".json"
TENSORS_SUFFIX = ".safetensors"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MODEL_PREFIX = "model."


@dataclass(frozen=True)
class TrainingState:
    """What ``--resume`` needs beyond the weights to continue exactly."""

    step: int
    epoch: int
    optimizer: dict  # optimizer.state_dict()
    scheduler: dict | None  # scheduler.state_dict(), or None without a schedule
    rng: RngState  # capture_rng_state()
    extra: dict = dataclass_field(default_factory=dict)  # JSON-able: sampler position, best metric...


@dataclass(frozen=True)
class Checkpoint:
    """A model's weights and config, free-form metadata, and optionally its training state.

    ``source`` is the JSON file a loaded checkpoint came from (``None`` for
    one built in memory); error messages about the checkpoint name it.
    """

    kind: ModelKind  # a plain "vqa" or "captioning" is accepted too
    model_config: dict
    model_state: dict[str, torch.Tensor]  # model.state_dict()
    metadata: dict
    training_state: TrainingState | None = None
    source: Path | None = dataclass_field(default=None, compare=False)


def checkpoint_paths(folder: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """``(DIR/NAME.json, DIR/NAME.safetensors)``, the two files of checkpoint ``name``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.endswith((JSON_SUFFIX, TENSORS_SUFFIX)):
        raise ValueError(f"checkpoint name must be a plain name like 'best', got {name!r}")
    folder = Path(folder)
    return folder / f"{name}{JSON_SUFFIX}", folder / f"{name}{TENSORS_SUFFIX}"


# -- saving ---------------------------------------------------------------------------


def save_checkpoint(folder: str | os.PathLike[str], name: str, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` as ``folder/name.json`` + ``folder/name.safetensors``; return the JSON path.

    Everything is encoded (and non-JSON-able metadata refused with a
    ``TypeError``) before any file is touched; both files are then written
    and flushed to temporary files, and renamed into place one right after
    the other, tensors first.
    """
    json_path, tensors_path = checkpoint_paths(folder, name)
    tensors, document = _encode(checkpoint, tensors_path.name)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    try:
        staged_tensors = staged_path(tensors_path)
        staged.append(staged_tensors)
        safetensors.torch.save_file(
            _storable(tensors),
            staged_tensors,
            metadata={"format": FORMAT_NAME, "version": str(FORMAT_VERSION), "kind": checkpoint.kind},
        )
        finish_staged(staged_tensors)
        sha256, size = sha256_of_file(staged_tensors)
        document["tensors"] = {"file": tensors_path.name, "sha256": sha256, "bytes": size}
        staged_json = staged_path(json_path)
        staged.append(staged_json)
        write_staged_bytes(staged_json, _json_bytes(document))
        # The only window in which a crash leaves a mismatched pair is
        # between these two renames: load_checkpoint detects it by the hash,
        # and the staged JSON, kept, completes the save at the next run's start
        # (run_folder.recover_interrupted_saves).
        os.replace(staged_tensors, tensors_path)
        staged.remove(staged_tensors)
        staged.remove(staged_json)  # from here on it is the only JSON matching the published tensors
        os.replace(staged_json, json_path)
        sync_folder(json_path.parent)
    except BaseException:
        for path in staged:
            remove_quietly(path)
        raise
    return json_path


def _encode(checkpoint: Checkpoint, tensors_file: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if checkpoint.kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, got {checkpoint.kind!r}")
    tensors: dict[str, torch.Tensor] = {}
    for key, tensor in checkpoint.model_state.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"model_state[{key!r}] is a {type(tensor).__name__}, not a tensor")
        tensors[_MODEL_PREFIX + key] = tensor
    document: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": checkpoint.kind,
        "written_by": {"vqadesk": __version__, "torch": torch.__version__},
        "tensors": {"file": tensors_file, "sha256": "", "bytes": 0},  # filled in once written
        "model_config": checkpoint.model_config,
    }
    state = checkpoint.training_state
    if state is not None:
        document["training_state"] = {
            "step": state.step,
            "epoch": state.epoch,
            "optimizer": encode_state(state.optimizer, "optimizer", tensors),
            "scheduler": encode_state(state.scheduler, "scheduler", tensors),
            "rng": encode_rng_state(state.rng, tensors),
            "extra": encode_state(state.extra, "extra", tensors),
        }
    document["metadata"] = checkpoint.metadata
    _json_bytes(document)  # refuse non-JSON-able config/metadata before writing anything
    return tensors, document


def _json_bytes(document: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"checkpoint model_config/metadata must be JSON-serialisable: {exc}") from None
    return text.encode("utf-8")


def _storable(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors that share no memory, as safetensors requires.

    Tied weights (an embedding shared with the output layer) appear twice in
    a state dict over one storage; the second and later ones are cloned. On
    load each key gets its own tensor and ``load_state_dict`` copies both into
    the one tied parameter, so the tie itself lives in the model, not the file.
    """
    result: dict[str, torch.Tensor] = {}
    storages: set[tuple[str, int]] = set()
    for key, tensor in tensors.items():
        tensor = tensor.detach().to("cpu")
        if not tensor.is_contiguous():
            tensor = tensor.contiguous()
        storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
        if tensor.numel() and storage in storages:
            tensor = tensor.clone()
        elif tensor.numel():
            storages.add(storage)
        result[key] = tensor
    return result


# -- loading --------------------------------------------------------------------------


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    training_state: bool = False,
) -> Checkpoint:
    """Load the checkpoint at ``path`` (its ``.json``, its ``.safetensors`` or ``DIR/NAME``).

    Model tensors are placed on ``map_location``. With ``training_state=True``
    the optimiser/scheduler/RNG state is decoded too (its tensors stay on the
    CPU: ``optimizer.load_state_dict`` moves them next to the parameters, and
    generator states must be CPU tensors); a checkpoint saved without one is
    then refused. Every problem raises a ``VqadeskError`` naming the file.
    """
    json_path, tensors_path = _pair_for(Path(path))
    document = _read_document(json_path)
    # A writer may replace the pair between our two reads (the GUI loading
    # `last` while training saves it): if the JSON changed meanwhile, read again once.
    for attempt in range(2):
        data = _read_tensor_bytes(tensors_path, json_path, document["tensors"]["bytes"])
        if data is not None and _matches(document, data):
            break
        newer = _read_document(json_path)
        if attempt == 1 or newer == document:
            raise CheckpointError(
                f"{json_path} does not match {tensors_path} (written by another run or interrupted); "
                "use the other checkpoint or retrain",
                path=json_path,
            )
        document = newer
    tensors = _parse_tensors(data, tensors_path)
    model_state = {
        key[len(_MODEL_PREFIX) :]: tensor.to(map_location)
        for key, tensor in tensors.items()
        if key.startswith(_MODEL_PREFIX)
    }
    state = None
    if training_state:
        tree = document.get("training_state")
        if tree is None:
            raise CheckpointError(
                f"{json_path}: holds no training state (saved for inference only), so training cannot resume from it",
                path=json_path,
            )
        state = _decode_training_state(tree, tensors, json_path)
    return Checkpoint(
        kind=ModelKind(document["kind"]),
        model_config=document["model_config"],
        model_state=model_state,
        metadata=document["metadata"],
        training_state=state,
        source=json_path,
    )


def load_model_state(model: nn.Module, checkpoint: Checkpoint) -> None:
    """``model.load_state_dict(checkpoint.model_state)``, with one clear error if they do not fit.

    torch's own error is a multi-line list; this one names the checkpoint
    and the first few missing, unexpected and wrongly shaped tensors.
    """
    expected = model.state_dict()
    given = checkpoint.model_state
    missing = sorted(expected.keys() - given.keys())
    unexpected = sorted(given.keys() - expected.keys())
    misshapen = [
        f"{key} is {list(given[key].shape)}, the model's is {list(expected[key].shape)}"
        for key in sorted(expected.keys() & given.keys())
        if given[key].shape != expected[key].shape
    ]
    problems = [
        f"{label}: {_first_few(items)}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen))
        if items
    ]
    if problems:
        where = checkpoint.source or "the checkpoint"
        raise CheckpointError(
            f"{where}: its weights do not fit the {checkpoint.kind} model its config describes ({'; '.join(problems)})",
            path=where,
        )
    model.load_state_dict(given)


def _pair_for(path: Path) -> tuple[Path, Path]:
    """The (json, safetensors) pair ``path`` names, refusing pickles and other files."""
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder; give a checkpoint's .json file (for example {path / 'best.json'})", path=path
        )
    suffix = path.suffix.lower()
    if suffix in (JSON_SUFFIX, TENSORS_SUFFIX):
        stem = path.with_suffix("")
    else:
        refuse_if_pickled(path)  # by its name (.pt, .pth...) or, if it exists, its bytes
        stem = path
    json_path = stem.with_name(stem.name + JSON_SUFFIX)
    tensors_path = stem.with_name(stem.name + TENSORS_SUFFIX)
    for half in (json_path, tensors_path):
        refuse_if_pickled(half)
    if json_path.is_file():
        return json_path, tensors_path
    if tensors_path.is_file():
        raise CheckpointError(_missing_json_message(json_path, tensors_path), path=json_path)
    if path.is_file() and path not in (json_path, tensors_path):
        raise CheckpointError(
            f"{path}: not a vqadesk checkpoint (expected NAME.json with NAME.safetensors beside it)", path=path
        )
    raise CheckpointError(
        f"{stem}: no checkpoint there (neither {json_path.name} nor {tensors_path.name} exists)", path=json_path
    )


def _missing_json_message(json_path: Path, tensors_path: Path) -> str:
    try:
        with safetensors.safe_open(tensors_path, framework="pt") as handle:
            ours = (handle.metadata() or {}).get("format") == FORMAT_NAME
    except Exception:  # noqa: BLE001 - any unreadable header just means "not ours"
        ours = False
    if ours:
        return (
            f"{json_path} is missing: {tensors_path} holds only the tensors of a vqadesk checkpoint; "
            "its config is in the .json written beside it (copy both files together)"
        )
    return (
        f"{tensors_path} is a plain safetensors file without the vqadesk JSON beside it ({json_path.name}); "
        "vqadesk checkpoints are written by its training routines"
    )


def _read_document(json_path: Path) -> dict[str, Any]:
    """The checkpoint JSON, with every field this module relies on checked."""
    document = read_json(json_path)
    if not isinstance(document, dict):
        raise DataFormatError(
            json_path, f"expected a JSON object, got {describe_type(document)} (not a vqadesk checkpoint)"
        )
    check_format(document, name=FORMAT_NAME, version=FORMAT_VERSION, source=json_path, what="a vqadesk checkpoint")
    kind = field(document, "kind", str, json_path)
    if kind not in KINDS:
        raise DataFormatError(json_path, f"expected one of {', '.join(KINDS)}, got {kind!r}", "kind")
    field(document, "model_config", dict, json_path)
    field(document, "metadata", dict, json_path)
    tensors = field(document, "tensors", dict, json_path)
    field(tensors, "file", str, json_path, "tensors")
    sha256 = field(tensors, "sha256", str, json_path, "tensors")
    if not _SHA256_HEX.fullmatch(sha256):
        raise DataFormatError(json_path, "expected 64 lowercase hex digits", "tensors.sha256")
    if field(tensors, "bytes", int, json_path, "tensors") < 0:
        raise DataFormatError(json_path, "cannot be negative", "tensors.bytes")
    if document.get("training_state") is not None:
        expect(document["training_state"], dict, json_path, "training_state")
    return document


def _read_tensor_bytes(tensors_path: Path, json_path: Path, recorded_size: int) -> bytes | None:
    """The tensors file's bytes; None, without reading it, when its size is not the recorded one.

    The size is compared first so that a file that cannot belong to the JSON
    (a huge or sparse file put in its place) is never read into memory.
    """
    try:
        size = tensors_path.stat().st_size
        if size and size != recorded_size:
            refuse_if_pickled(tensors_path)
            return None
        data = tensors_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"{tensors_path} is missing; {json_path} needs it (copy both files of a checkpoint together)",
            path=tensors_path,
        ) from None
    except OSError as exc:
        raise CheckpointError(f"{tensors_path}: cannot be read ({exc.strerror or exc})", path=tensors_path) from None
    if looks_pickled(data[:4096]):
        raise pickle_refusal(tensors_path)
    if not data:
        raise CheckpointError(f"{tensors_path}: file is empty (an interrupted copy?)", path=tensors_path)
    return data


def _matches(document: dict[str, Any], data: bytes) -> bool:
    recorded = document["tensors"]
    return recorded["bytes"] == len(data) and recorded["sha256"] == hashlib.sha256(data).hexdigest()


def _parse_tensors(data: bytes, tensors_path: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load(data)
    except Exception as exc:  # noqa: BLE001 - the Rust parser raises several types; all mean "corrupt"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{tensors_path}: not a valid safetensors file ({detail})", path=tensors_path) from None


def _decode_training_state(tree: dict[str, Any], tensors: Mapping[str, torch.Tensor], source: Path) -> TrainingState:
    where = "training_state"
    step = field(tree, "step", int, source, where)
    epoch = field(tree, "epoch", int, source, where)
    if step < 0 or epoch < 0:
        raise DataFormatError(source, "step and epoch cannot be negative", where)
    optimizer_tree = field(tree, "optimizer", dict, source, where)
    optimizer = decode_state(optimizer_tree, tensors, source=source, where=f"{where}.optimizer")
    # optimizer.load_state_dict indexes these two; check them here so a
    # damaged file fails now, naming the field, not inside torch.
    expect(optimizer, dict, source, f"{where}.optimizer")
    field(optimizer, "state", dict, source, f"{where}.optimizer")
    field(optimizer, "param_groups", list, source, f"{where}.optimizer")
    if "scheduler" not in tree:
        raise DataFormatError(source, "missing", f"{where}.scheduler")
    scheduler = decode_state(tree["scheduler"], tensors, source=source, where=f"{where}.scheduler")
    if scheduler is not None:
        expect(scheduler, dict, source, f"{where}.scheduler")
    extra = decode_state(field(tree, "extra", dict, source, where), tensors, source=source, where=f"{where}.extra")
    expect(extra, dict, source, f"{where}.extra")
    rng = decode_rng_state(field(tree, "rng", dict, source, where), tensors, source=source, where=f"{where}.rng")
    return TrainingState(step=step, epoch=epoch, optimizer=optimizer, scheduler=scheduler, rng=rng, extra=extra)


def _first_few(items: list[str], shown: int = 3) -> str:
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {more} more" if more > 0 else "")

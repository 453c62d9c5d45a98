"""Checkpoints: exact round trips, the pair check, atomic writes, and refusing pickles.

Pickled files are created here with torch.save / pickle.dumps to check they
are refused; an autouse fixture makes any unpickling during a test fail it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import pickle
import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from vqadesk.engine.checkpoints import checkpoint_files
from vqadesk.engine.checkpoints.checkpoint import (
    Checkpoint,
    CheckpointError,
    TrainingState,
    capture_rng_state,
    checkpoint_paths,
    load_checkpoint,
    load_model_state,
    restore_rng_state,
    save_checkpoint,
)
from vqadesk.engine.checkpoints.state_codec import decode_state, encode_state
from vqadesk.errors import DataFormatError, VqadeskError


@pytest.fixture(autouse=True)
def never_unpickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test unpickled something")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


# -- helpers --------------------------------------------------------------------------


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(5, 6, generator=generator), torch.randint(0, 3, (5,), generator=generator)


def train_steps(model: nn.Module, optimizer, steps: range, scheduler=None) -> None:
    for step in steps:
        inputs, targets = batch(step)
        loss = nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)  # a flat metric, so the plateau counter moves
        elif scheduler is not None:
            scheduler.step()


def training_checkpoint(model, optimizer, scheduler=None, *, step=3, extra=None) -> Checkpoint:
    state = TrainingState(
        step=step,
        epoch=1,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict() if scheduler is not None else None,
        rng=capture_rng_state(),
        extra=extra if extra is not None else {"batch_in_epoch": 4, "best": None, "history": [{"loss": 0.5}]},
    )
    return Checkpoint(
        kind="vqa",
        model_config={"hidden": 8, "layers": [6, 8, 3]},
        model_state=model.state_dict(),
        metadata={"answers": ["yes", "no", "2"], "card": {"seed": 0}},
        training_state=state,
    )


def assert_identical(a, b, where: str = "value") -> None:
    """Same structure, same container and key types, same numbers, same tensors."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert [(type(k), k) for k in a] == [(type(k), k) for k in b], where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def assert_same_tensors(loaded: dict, expected: dict) -> None:
    """A loaded state dict (a plain dict, in the file's key order) holds exactly ``expected``."""
    assert sorted(loaded) == sorted(expected)
    for key, tensor in expected.items():
        assert_identical(loaded[key], tensor, key)


def rewrite_json(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def record_tensor_file(json_path: Path, tensors_path: Path) -> None:
    """Make the JSON vouch for whatever the safetensors file now holds."""
    data = tensors_path.read_bytes()
    rewrite_json(json_path, lambda d: d["tensors"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)))


# -- exact round trips ----------------------------------------------------------------

OPTIMIZERS = {
    "adam": lambda params: torch.optim.Adam(params, lr=1e-2),
    "adam-amsgrad": lambda params: torch.optim.Adam(params, lr=1e-2, amsgrad=True, weight_decay=1e-4),
    "sgd-momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "rmsprop-momentum": lambda params: torch.optim.RMSprop(params, lr=1e-2, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips_exactly_and_steps_identically(tmp_path, name):
    model = make_model()
    optimizer = OPTIMIZERS[name](model.parameters())
    train_steps(model, optimizer, range(3))
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer))

    loaded = load_checkpoint(path, training_state=True)
    assert_identical(loaded.training_state.optimizer, optimizer.state_dict(), "optimizer")
    assert_same_tensors(loaded.model_state, model.state_dict())

    resumed_model = make_model(seed=99)  # different initial weights, all overwritten
    load_model_state(resumed_model, loaded)
    resumed_optimizer = OPTIMIZERS[name](resumed_model.parameters())
    resumed_optimizer.load_state_dict(loaded.training_state.optimizer)
    train_steps(model, optimizer, range(3, 5))
    train_steps(resumed_model, resumed_optimizer, range(3, 5))
    for original, resumed in zip(model.parameters(), resumed_model.parameters()):
        assert torch.equal(original, resumed)


SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "one-cycle": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10),
    "plateau": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1),
    "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_round_trips_and_gives_the_same_learning_rates(tmp_path, name):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = SCHEDULERS[name](optimizer)
    train_steps(model, optimizer, range(4), scheduler)
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer, scheduler))

    state = load_checkpoint(path, training_state=True).training_state
    assert_identical(state.scheduler, scheduler.state_dict(), "scheduler")
    resumed_model = make_model()
    load_model_state(resumed_model, load_checkpoint(path))
    resumed_optimizer = torch.optim.SGD(resumed_model.parameters(), lr=0.1, momentum=0.9)
    resumed_scheduler = SCHEDULERS[name](resumed_optimizer)
    resumed_optimizer.load_state_dict(state.optimizer)
    resumed_scheduler.load_state_dict(state.scheduler)
    train_steps(model, optimizer, range(4, 7), scheduler)
    train_steps(resumed_model, resumed_optimizer, range(4, 7), resumed_scheduler)
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert resumed_scheduler.state_dict() == scheduler.state_dict()


def test_restored_random_streams_repeat_the_same_numbers(tmp_path):
    random.gauss(0, 1)  # leaves a cached second Gaussian in Python's state
    np.random.standard_normal(1)  # and in numpy's legacy generator
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer))

    def draws():
        return (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(),
                np.random.standard_normal(), torch.rand(4).tolist(), torch.randn(2).tolist())

    expected = draws()
    random.seed(123), np.random.seed(123), torch.manual_seed(123)  # move every stream elsewhere
    restore_rng_state(load_checkpoint(path, training_state=True).training_state.rng)
    assert draws() == expected


def test_extra_state_keeps_types_numbers_and_non_finite_values(tmp_path):
    extra = {"batch_in_epoch": 7, "best": float("-inf"), "nan": float("nan"), "pair": (1, 2.5),
             "history": [{"loss": 0.25, "acc": None}], "by_epoch": {1: "a", 2: "b"}, "numpy": np.int64(3)}
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer, extra=extra))
    loaded = load_checkpoint(path, training_state=True).training_state.extra
    assert_identical(loaded, {**extra, "numpy": 3})


def test_tied_weights_are_saved_once_each_and_stay_tied(tmp_path):
    def tied_model() -> nn.Module:
        model = nn.Sequential(nn.Embedding(11, 4), nn.Linear(4, 11, bias=False))
        model[1].weight = model[0].weight  # the decoder shares the embedding matrix
        return model

    model = tied_model()
    with torch.no_grad():
        model[0].weight.normal_()
    checkpoint = Checkpoint(kind="captioning", model_config={}, model_state=model.state_dict(), metadata={})
    path = save_checkpoint(tmp_path, "best", checkpoint)

    loaded = load_checkpoint(path)
    assert set(loaded.model_state) == {"0.weight", "1.weight"}
    fresh = tied_model()
    load_model_state(fresh, loaded)
    assert torch.equal(fresh[0].weight, model[0].weight)
    assert fresh[1].weight is fresh[0].weight


def test_views_and_non_contiguous_tensors_are_stored(tmp_path):
    base = torch.arange(24.0).reshape(4, 6)
    state = {"transposed": base.t(), "row": base[1], "whole": base}
    path = save_checkpoint(tmp_path, "views", Checkpoint(kind="vqa", model_config={}, model_state=state, metadata={}))
    assert_same_tensors(load_checkpoint(path).model_state, {k: v.contiguous() for k, v in state.items()})


def test_the_json_path_the_tensors_path_and_the_stem_load_the_same_checkpoint(tmp_path):
    model = make_model()
    checkpoint = Checkpoint(kind="vqa", model_config={"a": 1}, model_state=model.state_dict(), metadata={"m": [1]})
    json_path = save_checkpoint(tmp_path / "run", "best", checkpoint)
    _, tensors_path = checkpoint_paths(tmp_path / "run", "best")
    for path in (json_path, tensors_path, tmp_path / "run" / "best", str(json_path)):
        loaded = load_checkpoint(path)
        assert (loaded.kind, loaded.model_config, loaded.metadata) == ("vqa", {"a": 1}, {"m": [1]})
        assert_same_tensors(loaded.model_state, model.state_dict())
        assert loaded.source == json_path
    assert loaded.training_state is None


def test_the_files_are_a_json_and_a_safetensors_with_the_documented_fields(tmp_path):
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters())
    train_steps(model, optimizer, range(1))
    json_path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer))
    document = json.loads(json_path.read_text())
    assert document["format"] == "vqadesk.checkpoint" and document["version"] == 1 and document["kind"] == "vqa"
    assert document["tensors"]["file"] == "last.safetensors"
    data = (tmp_path / "last.safetensors").read_bytes()
    assert document["tensors"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["tensors"]["bytes"] == len(data)
    keys = set(safetensors.torch.load(data))
    assert {"model.0.weight", "optimizer.state.0.exp_avg", "optimizer.state.0.step", "rng.torch_cpu",
            "rng.numpy_keys"} <= keys
    assert {k.split(".")[0] for k in keys} == {"model", "optimizer", "rng"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]  # no temporaries


def test_model_tensors_can_be_placed_on_another_device(tmp_path):
    model = make_model()
    path = save_checkpoint(tmp_path, "m",
                           Checkpoint(kind="vqa", model_config={}, model_state=model.state_dict(), metadata={}))
    loaded = load_checkpoint(path, map_location=torch.device("meta"))
    assert all(t.device.type == "meta" for t in loaded.model_state.values())


# -- the pair check and missing halves ------------------------------------------------


def inference_checkpoint(seed: int = 0) -> Checkpoint:
    return Checkpoint(kind="vqa", model_config={"seed": seed}, model_state=make_model(seed).state_dict(), metadata={})


def test_a_safetensors_from_another_run_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "a", "best", inference_checkpoint(0))
    save_checkpoint(tmp_path / "b", "best", inference_checkpoint(1))
    shutil.copy(tmp_path / "b" / "best.safetensors", tmp_path / "a" / "best.safetensors")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert str(error.value) == (
        f"{path} does not match {tmp_path / 'a' / 'best.safetensors'} (written by another run or interrupted); "
        "use the other checkpoint or retrain"
    )


@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_damaged_tensor_bytes_are_caught_by_the_pair_check(tmp_path, damage):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    tensors_path = tmp_path / "best.safetensors"
    data = bytearray(tensors_path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        del data[-10:]
    else:
        data += b"\0"
    tensors_path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)


def test_a_corrupt_safetensors_that_the_json_vouches_for_is_named(tmp_path):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    tensors_path = tmp_path / "best.safetensors"
    tensors_path.write_bytes(b"\xff" * 8 + b"{not json")
    record_tensor_file(path, tensors_path)
    with pytest.raises(CheckpointError, match=r"best\.safetensors: not a valid safetensors file"):
        load_checkpoint(path)


def test_empty_files_are_named(tmp_path):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    (tmp_path / "best.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"best\.safetensors: file is empty"):
        load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"best\.json: file is empty"):
        load_checkpoint(path)


def test_missing_halves_and_absent_checkpoints_are_explained(tmp_path):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    tensors_path = tmp_path / "best.safetensors"
    moved = tmp_path / "kept.safetensors"
    tensors_path.rename(moved)
    with pytest.raises(CheckpointError, match=r"best\.safetensors is missing; .*best\.json needs it"):
        load_checkpoint(path)

    moved.rename(tensors_path)
    path.unlink()
    with pytest.raises(CheckpointError,
                       match=r"best\.json is missing: .* holds only the tensors of a vqadesk checkpoint"):
        load_checkpoint(tensors_path)

    safetensors.torch.save_file({"weight": torch.zeros(2)}, tmp_path / "foreign.safetensors")
    with pytest.raises(CheckpointError, match="plain safetensors file without the vqadesk JSON"):
        load_checkpoint(tmp_path / "foreign.safetensors")

    with pytest.raises(CheckpointError, match="no checkpoint there"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a vqadesk checkpoint"):
        load_checkpoint(tmp_path / "notes.txt")


def test_resuming_needs_a_checkpoint_saved_with_training_state(tmp_path):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    assert "training_state" not in json.loads(path.read_text())
    with pytest.raises(CheckpointError, match="holds no training state"):
        load_checkpoint(path, training_state=True)


def test_weights_that_do_not_fit_the_model_are_named(tmp_path):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    other = nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 3), nn.Linear(3, 1))
    with pytest.raises(CheckpointError) as error:
        load_model_state(other, load_checkpoint(path))
    message = str(error.value)
    assert message.startswith(f"{path}: its weights do not fit the vqa model")
    assert "missing: 3.bias, 3.weight" in message and "0.weight is [8, 6], the model's is [9, 6]" in message


# -- refusing pickles ------------------------------------------------------------------


def pickle_message(path: Path) -> str:
    return f"{path} is a pickled PyTorch file; vqadesk never unpickles files (they can run code). Convert it"


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "model.ckpt", "model.pkl", "pytorch_model.bin", "MODEL.PT"])
def test_torch_save_files_are_refused_by_name(tmp_path, name):
    path = tmp_path / name
    torch.save(make_model().state_dict(), path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert str(error.value).startswith(pickle_message(path))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip-archive", "legacy-pickle"])
def test_torch_save_files_are_refused_by_content_under_any_name(tmp_path, legacy):
    path = save_checkpoint(tmp_path, "best", inference_checkpoint())
    tensors_path = tmp_path / "best.safetensors"
    torch.save(make_model().state_dict(), tensors_path, _use_new_zipfile_serialization=not legacy)
    record_tensor_file(path, tensors_path)  # even when the JSON vouches for it
    for named in (path, tensors_path, tmp_path / "best"):
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(named)
        assert str(error.value).startswith(pickle_message(tensors_path))

    bare = tmp_path / "weights"
    torch.save({"w": torch.zeros(1)}, bare, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(CheckpointError, match="is a pickled PyTorch file"):
        load_checkpoint(bare)


def test_a_pickle_named_json_and_a_zip_holding_a_pickle_are_refused(tmp_path):
    json_path = tmp_path / "best.json"
    json_path.write_bytes(pickle.dumps({"format": "vqadesk.checkpoint"}, protocol=4))
    with pytest.raises(CheckpointError, match="is a pickled PyTorch file"):
        load_checkpoint(json_path)

    archive = tmp_path / "archive"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "first member is not the pickle")
        handle.writestr("archive/data.pkl", pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="is a pickled PyTorch file"):
        load_checkpoint(archive)

    plain_zip = tmp_path / "photos.zip"
    with zipfile.ZipFile(plain_zip, "w") as handle:
        handle.writestr("a.txt", "no pickle here")
    with pytest.raises(CheckpointError, match="not a vqadesk checkpoint"):
        load_checkpoint(plain_zip)


# -- malformed JSON fields -------------------------------------------------------------


def break_optimizer_tensor(d):
    d["training_state"]["optimizer"]["state"]["$dict"][0][1]["exp_avg"]["$tensor"] = "optimizer.nowhere"


JSON_DAMAGE = [
    ("format", lambda d: d.update(format="vqadesk.vocabulary"), "field 'format': expected 'vqadesk.checkpoint'"),
    ("version", lambda d: d.update(version=2), "field 'version': unsupported version 2"),
    ("kind", lambda d: d.update(kind="detector"), "field 'kind': expected one of vqa, captioning"),
    ("model_config", lambda d: d.pop("model_config"), "field 'model_config': missing"),
    ("metadata", lambda d: d.update(metadata=[]), "field 'metadata': expected an object, got a list"),
    ("sha256", lambda d: d["tensors"].update(sha256="xyz"), "field 'tensors.sha256': expected 64"),
    ("bytes", lambda d: d["tensors"].update(bytes=-1), "field 'tensors.bytes': cannot be negative"),
    ("bytes-type", lambda d: d["tensors"].update(bytes="9"), "field 'tensors.bytes': expected an integer"),
    ("top-level", lambda d: None, None),
    ("training_state", lambda d: d.update(training_state=[1]), "field 'training_state': expected an object"),
    ("step", lambda d: d["training_state"].update(step=True), "field 'training_state.step': expected an integer"),
    ("optimizer-tensor", break_optimizer_tensor, "names tensor 'optimizer.nowhere', which the safetensors file lacks"),
    ("optimizer-groups", lambda d: d["training_state"]["optimizer"].pop("param_groups"),
     "field 'training_state.optimizer.param_groups': missing"),
    ("unknown-tag", lambda d: d["training_state"].update(extra={"$set": [1]}), "unknown tag '$set'"),
    ("python-rng", lambda d: d["training_state"]["rng"]["python"]["internal_state"].pop(),
     "field 'training_state.rng.python': not a Python random state"),
    ("numpy-rng", lambda d: d["training_state"]["rng"]["numpy"].update(algorithm="PCG64"),
     "field 'training_state.rng.numpy': not a numpy random state"),
    ("cuda-rng", lambda d: d["training_state"]["rng"].update(torch_cuda_devices=1),
     "needs tensor 'rng.torch_cuda.0'"),
]


@pytest.mark.parametrize("label, change, message", JSON_DAMAGE, ids=[case[0] for case in JSON_DAMAGE])
def test_each_malformed_field_is_named(tmp_path, label, change, message):
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters())
    train_steps(model, optimizer, range(1))
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer))
    if label == "top-level":
        path.write_text("[1, 2]")
        message = "expected a JSON object, got a list"
    else:
        rewrite_json(path, change)
    with pytest.raises(DataFormatError) as error:
        load_checkpoint(path, training_state=True)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


# -- writing: refusals before touching disk, atomicity ---------------------------------


def test_non_json_metadata_and_unstorable_state_are_refused_before_writing(tmp_path):
    folder = tmp_path / "never-created"
    bad_metadata = Checkpoint(kind="vqa", model_config={}, model_state=make_model().state_dict(), metadata={"f": print})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_checkpoint(folder, "best", bad_metadata)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    bad_extra = training_checkpoint(model, optimizer, extra={"sampler": object()})
    with pytest.raises(TypeError, match=r"extra\.sampler: cannot store a object"):
        save_checkpoint(folder, "last", bad_extra)
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(folder, "x", Checkpoint(kind="other", model_config={}, model_state={}, metadata={}))
    with pytest.raises(ValueError, match="plain name"):
        checkpoint_paths(folder, "../escape")
    assert not folder.exists()


def test_a_failure_while_writing_the_json_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path, "last", inference_checkpoint(0))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vqadesk.engine.checkpoints.checkpoint.write_staged_bytes", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, "last", inference_checkpoint(1))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporaries either
    assert load_checkpoint(path).model_config == {"seed": 0}


def test_a_crash_between_the_two_renames_is_detected_on_load(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path, "last", inference_checkpoint(0))
    real_replace, calls = os.replace, []

    def crash_on_second(source, destination):
        calls.append(destination)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies after publishing the tensors only
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, "last", inference_checkpoint(1))
    monkeypatch.setattr(os, "replace", real_replace)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[1:] == ["last.json", "last.safetensors"] and names[0].startswith(".last.json.")
    assert len(names) == 3  # the staged JSON that matches the published tensors is kept
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)
    from vqadesk.engine.checkpoints.run_folder import recover_interrupted_saves

    assert "interrupted between its two renames" in recover_interrupted_saves(tmp_path)[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]
    assert load_checkpoint(path).model_config == {"seed": 1}  # the interrupted save, completed


def test_a_tensors_file_of_the_wrong_size_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path, "last", inference_checkpoint(0))
    with open(tmp_path / "last.safetensors", "r+b") as handle:
        handle.truncate(20 * 2**30)  # a sparse 20 GB file in its place
    reads, real_read = [], Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real_read(self))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)
    assert not [p for p in reads if p.suffix == ".safetensors"]


def test_saved_files_get_ordinary_permissions(tmp_path):
    save_checkpoint(tmp_path, "best", inference_checkpoint())
    umask = os.umask(0)
    os.umask(umask)
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- the state codec --------------------------------------------------------------------


def test_the_codec_rebuilds_awkward_structures_exactly():
    shared = torch.arange(3)
    value = {
        0: {"x": shared, "y": shared},  # one tensor referenced twice
        "0": [torch.zeros(2, dtype=torch.float16), (1, (2.5, None)), float("inf")],
        "$looks_tagged": {"$tensor": "not really"},
        (1, "a"): True,
        None: [],
        1.5: {},
    }
    tensors: dict[str, torch.Tensor] = {}
    tree = encode_state(value, "extra", tensors)
    json.dumps(tree, allow_nan=False)  # strictly standard JSON
    decoded = decode_state(json.loads(json.dumps(tree)), tensors, source="x.json", where="extra")
    assert_identical(decoded, value)
    assert decoded[0]["x"] is decoded[0]["y"]
    assert len(tensors) == 2


# -- arbitrary input never escapes as anything but a VqadeskError ------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[dict, bytes]:
    """A valid training checkpoint's JSON document and safetensors bytes."""
    folder = tmp_path_factory.mktemp("template")
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 2)
    train_steps(model, optimizer, range(1), scheduler)
    path = save_checkpoint(folder, "last", training_checkpoint(model, optimizer, scheduler))
    return json.loads(path.read_text()), (folder / "last.safetensors").read_bytes()


def json_paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from json_paths(child, (*prefix, key))


def load_must_fail_cleanly(folder: Path) -> None:
    with pytest.raises(VqadeskError):
        load_checkpoint(folder / "last.json", training_state=True)


def refused_cleanly(folder: Path) -> bool:
    """Whether loading ``folder``'s checkpoint is refused; anything but a ``VqadeskError`` escapes."""
    try:
        load_checkpoint(folder / "last.json", training_state=True)
    except VqadeskError:
        return True
    return False


# The loader checks these fields of every checkpoint: any real change to them is refused.
# Elsewhere (model_config's and metadata's contents, training numbers such as a learning rate,
# written_by) some changes are still a loadable checkpoint.
ALWAYS_CHECKED = ("format", "version", "kind", "tensors")
OBJECTS = ("model_config", "metadata", "training_state")


def must_be_refused(target: tuple, removed: bool, old, new) -> bool:
    if not removed and new == old:
        return False  # no change (or 1 for True, 1.0 for 1: types the loader may or may not tell apart)
    if target == ("kind",) and new in ("vqa", "captioning"):
        return False  # the other kind is a valid checkpoint
    if target[0] in ALWAYS_CHECKED:
        return True
    return len(target) == 1 and target[0] in OBJECTS and (removed or not isinstance(new, dict))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_any_damage_to_the_json_is_refused_as_a_vqadesk_error_or_loads(tmp_path, template, data):
    """A damaged field the loader checks is a ``VqadeskError``; a change it need not notice may load;
    nothing else ever escapes."""
    document, tensor_bytes = template
    paths = list(json_paths(document))
    target = data.draw(st.sampled_from(paths[1:]))
    damaged = copy.deepcopy(document)
    parent = damaged
    for key in target[:-1]:
        parent = parent[key]
    old, new, removed = parent[target[-1]], None, not data.draw(st.booleans())
    if not removed:
        new = parent[target[-1]] = data.draw(JSON_VALUES)
    elif isinstance(parent, dict):
        del parent[target[-1]]
    else:
        parent.pop(target[-1])
    (tmp_path / "last.json").write_text(json.dumps(damaged))
    (tmp_path / "last.safetensors").write_bytes(tensor_bytes)
    refused = refused_cleanly(tmp_path)
    if must_be_refused(target, removed, old, new):
        assert refused, f"{'removed' if removed else f'set to {new!r}'}: {'.'.join(map(str, target))}"


@FUZZ
@given(tensor_bytes=st.binary(max_size=300), keep_header=st.booleans())
def test_any_tensor_file_bytes_are_a_vqadesk_error(tmp_path, template, tensor_bytes, keep_header):
    document, real_bytes = template
    assert len(real_bytes) > 8 + int.from_bytes(real_bytes[:8], "little") + 300  # never the whole real file
    if keep_header:  # a plausible header followed by garbage reaches deeper into the parser
        tensor_bytes = real_bytes[: 8 + int.from_bytes(real_bytes[:8], "little")] + tensor_bytes
    damaged = copy.deepcopy(document)
    damaged["tensors"].update(sha256=hashlib.sha256(tensor_bytes).hexdigest(), bytes=len(tensor_bytes))
    (tmp_path / "last.json").write_text(json.dumps(damaged))
    (tmp_path / "last.safetensors").write_bytes(tensor_bytes)
    load_must_fail_cleanly(tmp_path)


@FUZZ
@given(json_bytes=st.binary(max_size=200))
def test_any_json_file_bytes_are_a_vqadesk_error(tmp_path, template, json_bytes):
    assert len(json.dumps(template[0])) > 200  # a real document is longer than any drawn here
    (tmp_path / "last.json").write_bytes(json_bytes)
    (tmp_path / "last.safetensors").write_bytes(template[1])
    load_must_fail_cleanly(tmp_path)


def test_pickle_sniffing_recognises_protocols_and_archives(tmp_path):
    for protocol in (2, 3, 4, 5):
        assert checkpoint_files.looks_pickled(pickle.dumps([1], protocol=protocol))
    assert not checkpoint_files.looks_pickled(b'{"format": 1}')
    assert not checkpoint_files.looks_pickled(b"")
    truncated_archive = tmp_path / "t"
    torch.save({"w": torch.zeros(1)}, truncated_archive)
    assert checkpoint_files.looks_pickled(truncated_archive.read_bytes()[:100])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_run_round_trips_weights_optimizer_and_cuda_random_streams(tmp_path):
    device = torch.device("cuda")
    model = make_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def cuda_steps(model, optimizer, steps):
        for step in steps:
            inputs, targets = (t.to(device) for t in batch(step))
            loss = nn.functional.cross_entropy(nn.functional.dropout(model(inputs), 0.3), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    cuda_steps(model, optimizer, range(2))
    path = save_checkpoint(tmp_path, "last", training_checkpoint(model, optimizer))
    loaded = load_checkpoint(path, map_location=device, training_state=True)
    assert all(t.device.type == "cuda" for t in loaded.model_state.values())
    assert len(loaded.training_state.rng.torch_cuda) == torch.cuda.device_count()

    resumed_model = make_model(seed=5).to(device)
    load_model_state(resumed_model, loaded)
    resumed_optimizer = torch.optim.Adam(resumed_model.parameters(), lr=1e-2)
    resumed_optimizer.load_state_dict(loaded.training_state.optimizer)
    cuda_steps(model, optimizer, range(2, 4))  # dropout draws from the CUDA generator
    restore_rng_state(loaded.training_state.rng)
    cuda_steps(resumed_model, resumed_optimizer, range(2, 4))
    for original, resumed in zip(model.parameters(), resumed_model.parameters()):
        assert torch.equal(original, resumed)

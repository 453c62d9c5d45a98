"""The start of a run: owning ``--out``, and what ``--resume`` may and may not change.

``open_run_folder`` locks the folder for the run's life, repairs saves a
crash interrupted, and applies the folder rules: a fresh run into a folder
holding another run's checkpoints needs ``--resume`` or ``--overwrite``.

``check_resumed_settings`` compares the options of a resumed run with those
recorded in its ``last`` checkpoint and refuses any change the run cannot
honour, naming it. ``resumed_progress`` reads the loop's position from the
checkpoint's ``extra`` state, checked by type and range before use.
``best_on_disk`` makes the best score a resumed run reports the one of the
``best`` model actually on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from vqadesk.engine.checkpoints.checkpoint import Checkpoint, checkpoint_paths, load_checkpoint
from vqadesk.engine.checkpoints.run_folder import (
    RunFolderError,
    clear_checkpoints,
    existing_checkpoints,
    lock_run_folder,
    recover_interrupted_saves,
)
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.jsonio import expect

# Options a resumed run may change: where and how fast it runs, and when it stops.
# --epochs is allowed too where the schedule does not depend on it (see check_resumed_settings).
RESUMABLE_CHANGES = frozenset({"resume", "overwrite", "out", "device", "threads", "log_interval_s",
                               "max_steps", "patience"})
# Schedules laid out over the run's total number of steps.
STEP_SCHEDULES = ("cosine", "step")


class ResumeError(VqadeskError):
    """--resume was asked for but the run cannot continue as asked."""


def open_run_folder(config: TrainingConfig) -> IO[bytes]:
    """Create, lock and tidy ``--out``; refuse a fresh run over an old one. Returns the held lock."""
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"--out {out}: cannot be created as a folder ({exc.strerror or exc})") from None
    lock = lock_run_folder(out)
    try:
        for note in recover_interrupted_saves(out):
            print(note, file=sys.stderr, flush=True)
        previous = existing_checkpoints(out)
        if previous and not config.resume:
            if not config.overwrite:
                raise RunFolderError(
                    f"--out {out}: holds the checkpoints of an earlier run ({previous[0].name}); add --resume to "
                    "continue it, or --overwrite to delete them and start afresh"
                )
            clear_checkpoints(out)
    except BaseException:
        lock.close()
        raise
    return lock


def load_resumed(config: TrainingConfig, kind: str) -> Checkpoint | None:
    """The ``last`` checkpoint to resume from, or None (with a note) when there is none yet."""
    json_path, _ = checkpoint_paths(config.out, "last")
    if not json_path.exists():
        print(f"--resume: {config.out} holds no complete `last` checkpoint yet; starting from the beginning",
              file=sys.stderr, flush=True)
        return None
    resumed = load_checkpoint(json_path, training_state=True)
    if resumed.kind != kind:
        raise ResumeError(f"{json_path}: is a {resumed.kind} checkpoint, not {kind}")
    check_resumed_settings(config, resumed.metadata.get("training_config"), json_path)
    return resumed


def check_resumed_settings(config: TrainingConfig, recorded: Any, source: Path) -> None:
    """Refuse options that differ from the checkpoint's and that resuming cannot honour."""
    if recorded is None:
        return  # a checkpoint written before the options were recorded
    expect(recorded, dict, source, "metadata.training_config")
    now = config.to_dict()
    for name, value in now.items():
        if name in RESUMABLE_CHANGES or name not in recorded or recorded[name] == value:
            continue
        if name == "precision" and value == "auto":
            continue  # auto keeps the recorded precision (engine/precision.py: settle_precision)
        flag = "--" + name.replace("_", "-")
        before = recorded[name]
        if name == "epochs":
            if config.lr_schedule not in STEP_SCHEDULES:
                continue  # no schedule depends on the number of epochs: the run simply goes on longer
            raise ResumeError(
                f"{source}: --epochs was {before}, now {value}: the {config.lr_schedule} learning-rate schedule "
                f"was laid out over {before} epochs and cannot be stretched without a jump in the learning rate; "
                f"resume with --epochs {before}, or start a longer run with --overwrite (or another --out)"
            )
        raise ResumeError(
            f"{source}: {flag} was {before!r}, now {value!r}; a resumed run cannot honour a changed "
            f"{flag}: resume with {flag} {before}, or start afresh with --overwrite (or another --out)"
        )


def resumed_progress(extra: dict, source: Path, batches_per_epoch: int) -> dict[str, Any]:
    """``batch_in_epoch``, ``history``, ``best`` and ``stale_epochs`` from the checkpoint, checked."""
    where = "training_state.extra"
    batch_in_epoch = expect(extra.get("batch_in_epoch", 0), int, source, f"{where}.batch_in_epoch")
    if not 0 <= batch_in_epoch <= batches_per_epoch:
        raise DataFormatError(source, f"must be between 0 and {batches_per_epoch}, got {batch_in_epoch}",
                              f"{where}.batch_in_epoch")
    history = expect(extra.get("history", []), list, source, f"{where}.history")
    for index, entry in enumerate(history):
        expect(entry, dict, source, f"{where}.history[{index}]")
    best = extra.get("best")
    if best is not None:
        best = float(expect(best, float, source, f"{where}.best"))
    stale_epochs = expect(extra.get("stale_epochs", 0), int, source, f"{where}.stale_epochs")
    if stale_epochs < 0:
        raise DataFormatError(source, "cannot be negative", f"{where}.stale_epochs")
    return {"batch_in_epoch": batch_in_epoch, "history": history, "best": best, "stale_epochs": stale_epochs}


def check_optimizer_state(optimizer: Any, state: dict, source: Path) -> None:
    """Refuse an optimiser state that does not fit ``optimizer``'s parameters, naming the field.

    ``optimizer.load_state_dict`` accepts state tensors of any shape, and the
    first step then fails inside torch (or allocates what a hand-edited size
    says); checked here by group, parameter count and tensor shape.
    """
    where = "training_state.optimizer"
    groups, saved_groups = optimizer.param_groups, state["param_groups"]
    if len(saved_groups) != len(groups):
        raise DataFormatError(source, f"has {len(saved_groups)} parameter groups, the optimiser {len(groups)}",
                              f"{where}.param_groups")
    shapes: dict[Any, tuple[int, ...]] = {}
    for index, (group, saved) in enumerate(zip(groups, saved_groups)):
        field_name = f"{where}.param_groups[{index}].params"
        ids = expect(expect(saved, dict, source, f"{where}.param_groups[{index}]").get("params"), list, source,
                     field_name)
        if len(ids) != len(group["params"]):
            raise DataFormatError(source, f"lists {len(ids)} parameters, the model has {len(group['params'])}",
                                  field_name)
        shapes.update((key, tuple(param.shape)) for key, param in zip(ids, group["params"]))
    for key, entry in state["state"].items():
        if key not in shapes:
            raise DataFormatError(source, "names no parameter of the optimiser", f"{where}.state.{key}")
        for name, value in expect(entry, dict, source, f"{where}.state.{key}").items():
            if hasattr(value, "shape") and value.dim() > 0 and tuple(value.shape) != shapes[key]:
                raise DataFormatError(source, f"is {list(value.shape)}, the parameter is {list(shapes[key])}",
                                      f"{where}.state.{key}.{name}")


def best_on_disk(out: Path, recorded: float | None) -> tuple[float | None, int | None]:
    """The best score a resumed run continues from, that of the ``best`` checkpoint in ``out``, and its step.

    ``best`` is saved before ``last``, so a crash between the two leaves a
    ``best`` newer than ``last``'s record: the repeated epoch finds it here
    and, scoring the same at the same step, counts as the improvement it was.
    A ``best`` that is missing or does not load is not the best model: the
    score restarts (None), so the next validation writes a new ``best``. A
    ``best`` saved before its score was recorded keeps ``recorded``.
    """
    json_path, _ = checkpoint_paths(out, "best")
    if not json_path.exists():
        return None, None
    try:
        metadata = load_checkpoint(json_path).metadata
    except VqadeskError as exc:
        print(f"{exc}; a new `best` will be saved at the next validation", file=sys.stderr, flush=True)
        return None, None
    score, step = metadata.get("best_score", recorded), metadata.get("step")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        return recorded, None
    return float(score), step if isinstance(step, int) and not isinstance(step, bool) else None

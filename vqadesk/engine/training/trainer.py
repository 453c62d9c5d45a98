"""The training loop, written once for VQA and captioning, Qt-free.

``train(config, task, stop)`` is a generator of events (plain dicts with an
``"event"`` key); the command-line routines print them as JSON lines and the
GUI's Training tab plots them. The task object (``vqa_task`` /
``caption_task``) knows its data, model, loss and validation metric; this file
knows the rest, top to bottom:

1. set-up: device, torchrun process group, seeds, data, model, optimiser,
   learning-rate schedule; or, with ``--resume``, all of that restored from
   the ``last`` checkpoint (model, optimiser, schedule, RNG streams, position
   inside the epoch) so the next step is exactly the one an uninterrupted run
   would have taken;
2. epochs of steps over a per-epoch permutation seeded by (seed, epoch), so a
   resumed run sees the same batches; a ``step`` event at most every
   ``log_interval_s`` seconds;
3. after each epoch: validation on rank 0, the ``last`` checkpoint and, when
   the validation metric improved, ``best``; early stopping after
   ``patience`` epochs without improvement;
4. ``--max-steps`` or a stop request end the run after a step, saving
   ``last`` first.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vqadesk import __version__
from vqadesk.data.shapes.detect import is_shapes_dataset
from vqadesk.engine.checkpoints.checkpoint import (
    Checkpoint,
    TrainingState,
    capture_rng_state,
    checkpoint_paths,
    load_model_state,
    restore_rng_state,
    save_checkpoint,
)
from vqadesk.engine.device import describe_device, pick_device
from vqadesk.engine.precision import autocast, grad_scaler, recorded_precision, settle_precision
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.distributed import DistributedContext
from vqadesk.engine.training.out_folder import check_out_folder, check_room_for_checkpoint
from vqadesk.engine.training.run_start import (
    best_on_disk,
    check_optimizer_state,
    load_resumed,
    open_run_folder,
    resumed_progress,
)
from vqadesk.engine.training.task import TrainingTask
from vqadesk.errors import VqadeskError

Event = dict[str, Any]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(config: TrainingConfig, parameters) -> torch.optim.Optimizer:
    params = [p for p in parameters if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay)
    # Adam's fused kernel updates every tensor in one pass, faster than the
    # default where the optimiser's passes dominate (docs/benchmarks.md,
    # "Training throughput"). Devices without the kernel get the default.
    try:
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(config: TrainingConfig, optimizer, total_steps: int):
    """Per-step schedules (cosine, step) and the per-epoch plateau schedule."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.lr_schedule == "step":
        # Divide the learning rate by 10 at 60% and 85% of the run.
        milestones = [int(total_steps * 0.6), int(total_steps * 0.85)]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
    return None


def epoch_order(size: int, seed: int, epoch: int) -> list[int]:
    """The order of examples in ``epoch``: the same on every rank and on resume."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(size, generator=generator).tolist()


def train(
    config: TrainingConfig,
    task: TrainingTask,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Event]:
    started = time.perf_counter()
    out = Path(config.out)
    if config.threads is not None:
        torch.set_num_threads(config.threads)  # asked for by the user (--threads)
    device = pick_device(config.device)
    context = DistributedContext.from_env(device)
    device = context.device_for(device)
    if context.is_main:
        check_out_folder(out)  # before the data are read: a file or a read-only folder is refused now
    # Rank 0 owns the folder (lock, repairs, the fresh-or-resume rules) for the run's life.
    lock = open_run_folder(config) if context.is_main else None
    try:
        yield from _train(config, task, stop, out, device, context, started)
    finally:
        context.close()
        if lock is not None:
            lock.close()


def _train(config, task, stop, out, device, context, started) -> Iterator[Event]:
    # -- 1. set-up -------------------------------------------------------------
    resumed: Checkpoint | None = load_resumed(config, task.kind) if config.resume else None
    # From here on the config says the precision resolved (auto never reaches the records).
    config = dataclasses.replace(config, precision=settle_precision(
        config.precision, device, recorded_precision(resumed.metadata) if resumed else None))
    scaler = grad_scaler(config.precision, device)
    seed_everything(config.seed)
    task.load(config, resumed.metadata if resumed else None)
    model = task.build_model().to(device)
    if resumed:
        load_model_state(model, resumed)
    train_size = len(task.train_set)
    if train_size == 0:
        raise VqadeskError(f"{config.data}: the {config.train_split} split has no training examples")
    # The loop samples images (task.train_set groups each image's examples); see image_groups.py.
    batches_per_epoch = math.ceil(math.ceil(train_size / context.world_size) / config.batch_size)
    total_steps = batches_per_epoch * config.epochs
    optimizer = make_optimizer(config, model.parameters())
    if context.is_main:
        check_room_for_checkpoint(out, model)
    scheduler = make_scheduler(config, optimizer, total_steps)
    step = epoch = batch_in_epoch = 0
    history: list[dict[str, Any]] = []
    best: float | None = None
    best_step: int | None = None  # the step of the `best` found on disk on resume
    stale_epochs = 0
    if resumed:
        state = resumed.training_state
        check_optimizer_state(optimizer, state.optimizer, resumed.source)
        optimizer.load_state_dict(state.optimizer)
        if scheduler is not None and state.scheduler is not None:
            scheduler.load_state_dict(state.scheduler)
        step, epoch = state.step, state.epoch
        progress = resumed_progress(state.extra, resumed.source, batches_per_epoch)
        batch_in_epoch, history = progress["batch_in_epoch"], progress["history"]
        (best, best_step), stale_epochs = best_on_disk(out, progress["best"]), progress["stale_epochs"]
        restore_rng_state(state.rng)
    # What a training step calls: images in, outputs out (DDP must wrap the
    # whole forward so it can synchronise the gradients of every parameter).
    trained_model = task.training_module(model)
    if context.enabled:
        trained_model = DistributedDataParallel(trained_model)

    yield {
        "event": "start",
        "task": task.kind,
        "config": config.to_dict(),
        "dataset": task.summary(),
        "device": describe_device(device),
        "world_size": context.world_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps_per_epoch": batches_per_epoch,
        "total_steps": total_steps,
        "resumed_from_step": step if resumed else None,
        "precision": config.precision,
        "vqadesk_version": __version__,
    }

    # Which world the model learns: the app warns when a Shapes model is asked about a real photo.
    domain = "shapes" if is_shapes_dataset(config.data) else "photos"

    def save(name: str, *, with_state: bool) -> Event:
        extra = {"batch_in_epoch": batch_in_epoch, "history": history, "best": best,
                 "stale_epochs": stale_epochs}
        training_state = TrainingState(
            step=step, epoch=epoch, optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict() if scheduler is not None else None,
            rng=capture_rng_state(), extra=extra,
        ) if with_state else None
        metadata = task.metadata()
        metadata.update(training_config=config.to_dict(), domain=domain, history=history, step=step, epoch=epoch,
                        best_score=best, precision=config.precision,
                        vqadesk_version=__version__, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        path = save_checkpoint(out, name, Checkpoint(
            kind=task.kind, model_config=task.model_config(), model_state=model.state_dict(),
            metadata=metadata, training_state=training_state,
        ))
        return {"event": "checkpoint", "path": str(path), "name": name, "is_best": name == "best", "step": step}

    # -- 2. epochs of steps --------------------------------------------------------
    last_report = loop_started = time.perf_counter()
    first_step = step
    samples_since = 0
    stopped_early = stopped_by_request = False
    progress = _progress_bar(context, total_steps, step)
    while epoch < config.epochs:
        order = context.shard(epoch_order(train_size, config.seed, epoch))
        trained_model.train()
        running_loss, running_count = 0.0, 0
        while batch_in_epoch < batches_per_epoch:
            indices = order[batch_in_epoch * config.batch_size:(batch_in_epoch + 1) * config.batch_size]
            batch = task.batch(indices, device)
            with autocast(config.precision, device):
                loss = task.loss(trained_model, batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # the scaler passes through unless --precision fp16
            if config.grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None and config.lr_schedule != "plateau":
                scheduler.step()
            step += 1
            batch_in_epoch += 1
            finished = config.max_steps is not None and step >= config.max_steps
            loss_value, halt = context.step_sync(loss.item(), stop() or finished, device)
            running_loss += loss_value
            running_count += 1
            samples_since += int(batch["length"].shape[0]) * context.world_size  # examples, not images
            progress.update(1)
            progress.set_postfix(loss=f"{loss_value:.4f}", epoch=epoch + 1)
            now = time.perf_counter()
            if now - last_report >= config.log_interval_s or step == 1 or halt or batch_in_epoch == batches_per_epoch:
                elapsed = now - last_report
                rate = samples_since / elapsed if elapsed > 0 else 0.0
                remaining = min(total_steps, config.max_steps or total_steps) - step
                eta = remaining * (now - loop_started) / max(1, step - first_step)
                yield {"event": "step", "epoch": epoch + 1, "step": step, "loss": loss_value,
                       "lr": optimizer.param_groups[0]["lr"], "samples_per_s": rate, "eta_s": eta}
                last_report, samples_since = now, 0
            if halt:
                stopped_by_request = not finished
                break
        if batch_in_epoch < batches_per_epoch:  # stopped inside the epoch
            if context.is_main:
                yield save("last", with_state=True)
            context.barrier()
            break

        # -- 3. end of epoch: validate, checkpoint, early stopping ---------------------
        train_loss = running_loss / max(1, running_count)
        metrics: dict[str, Any] = {}
        if context.is_main:
            # Validation must not disturb the training RNG streams (resume equivalence).
            rng = capture_rng_state()
            metrics = task.validate(model, device)
            restore_rng_state(rng)
        score = metrics.get(task.metric_name)
        # Equal to a `best` saved at this very step: the epoch a crash made us repeat, which improved then.
        improved = score is not None and (best is None or score > best or (score == best and step == best_step))
        if scheduler is not None and config.lr_schedule == "plateau" and score is not None:
            scheduler.step(score)
        epoch += 1
        batch_in_epoch = 0
        stale_epochs = 0 if improved else stale_epochs + 1
        if improved:
            best = score
        history.append({"epoch": epoch, "step": step, "train_loss": train_loss, **metrics})
        if context.is_main:
            yield {"event": "epoch", "epoch": epoch, "step": step, "train_loss": train_loss,
                   "metrics": metrics, "metric": task.metric_name, "best": best, "improved": improved}
            # `best` first: a crash between the two leaves `last` at the previous epoch, whose
            # rerun finds the new `best` on disk (best_on_disk); the other order loses it.
            if improved:
                yield save("best", with_state=False)
            yield save("last", with_state=True)
        context.barrier()
        finished = config.max_steps is not None and step >= config.max_steps
        if context.broadcast_flag(stale_epochs >= config.patience, device):
            stopped_early = True
            break
        if finished or stopped_by_request:
            break
    progress.close()

    yield {
        "event": "done",
        "step": step,
        "epoch": epoch,
        "best": best,
        "metric": task.metric_name,
        "stopped": "request" if stopped_by_request else "early-stopping" if stopped_early else None,
        "elapsed_s": time.perf_counter() - started,
        "checkpoints": {name: str(checkpoint_paths(out, name)[0]) for name in ("last", "best")
                        if checkpoint_paths(out, name)[0].exists()},
    }


def _progress_bar(context: DistributedContext, total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, disable=not context.is_main,
                unit="step", dynamic_ncols=True, leave=False)

"""Reading a training routine's output as it arrives (Qt-free).

A routine (``python -m training.vqa|captioning``, see docs/training.md) writes
one JSON object per line on stdout and human text plus tqdm's progress bar on
stderr. A pipe hands both over in arbitrary chunks, so:

* ``EventLineParser`` turns stdout chunks into events, keeping a partial last
  line until its newline arrives; a line that is not a JSON object with an
  ``"event"`` key (a stray ``print``, a library warning) is passed on as text.
* ``ConsoleText`` turns stderr chunks into log lines, keeping only the final
  state of lines that tqdm redraws with carriage returns.
* ``RunCurves`` folds events into the series the Training tab plots; it is
  the same for a live run and for one re-read from its ``events.jsonl``.
"""

from __future__ import annotations

import codecs
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vqadesk.engine.torch_free.model_kind import ModelKind

# A line longer than this without a newline is not an event: pass it on as text
# instead of buffering without bound.
MAX_LINE_CHARS = 1_000_000

EVENT_NAMES = ("start", "step", "epoch", "checkpoint", "done", "error")


def parse_event_line(line: str) -> dict[str, Any] | None:
    """The event on ``line``, or None when it is not one (blank, garbage, JSON but not an event)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        return None
    return value


@dataclass
class ParsedOutput:
    """What one chunk of stdout held: events (with their exact lines) and other text lines."""

    events: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class EventLineParser:
    """Feed stdout bytes in any chunking; get whole events and non-event lines back."""

    def __init__(self) -> None:
        # Incremental: a multi-byte character split between two chunks decodes once whole.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> ParsedOutput:
        self._partial += self._decoder.decode(data)
        *lines, self._partial = self._partial.split("\n")
        if len(self._partial) > MAX_LINE_CHARS:
            lines.append(self._partial)
            self._partial = ""
        return self._parse(lines)

    def flush(self) -> ParsedOutput:
        """At process exit: the last line, even without its newline."""
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        return self._parse([rest] if rest.strip() else [])

    @staticmethod
    def _parse(lines: Iterable[str]) -> ParsedOutput:
        out = ParsedOutput()
        for line in lines:
            line = line.rstrip("\r")
            event = parse_event_line(line)
            if event is not None:
                out.events.append((event, line.strip()))
            elif line.strip():
                out.text.append(line)
        return out


def last_redraw(line: str) -> str:
    """What a terminal would show for ``line``: the text after its last carriage return."""
    parts = [p for p in line.split("\r") if p.strip()]
    return parts[-1].rstrip() if parts else ""


class ConsoleText:
    """Feed stderr bytes; get readable lines (tqdm's redraws collapsed to their last state)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> list[str]:
        self._partial += self._decoder.decode(data)
        *lines, self._partial = self._partial.split("\n")
        # tqdm never ends its bar with a newline: keep only the latest redraw so
        # the pending text stays small however long the run.
        head, redraw, tail = self._partial.rpartition("\r")
        if redraw:
            self._partial = last_redraw(head) + "\r" + tail
        if len(self._partial) > MAX_LINE_CHARS:
            lines.append(self._partial)
            self._partial = ""
        return [text for text in (last_redraw(line) for line in lines) if text]

    @property
    def progress_text(self) -> str:
        """The line being redrawn now (tqdm's bar), for a status display."""
        return last_redraw(self._partial)

    def flush(self) -> list[str]:
        rest = last_redraw(self._partial + self._decoder.decode(b"", final=True))
        self._partial = ""
        # A bar that was still on screen at exit is noise, not a message.
        return [rest] if rest and not _looks_like_progress_bar(rest) else []


def _looks_like_progress_bar(text: str) -> bool:
    return "|" in text and ("step/s" in text or "it/s" in text or "s/step" in text or "?step" in text)


def _number(value: Any) -> float:
    """A finite float, or NaN for null / non-finite / non-numbers (plotted as a gap)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    value = float(value)
    return value if math.isfinite(value) else math.nan


# Validation series RunCurves keeps per epoch: VQA accuracy overall and per
# answer type (percent), captioning BLEU-4 and CIDEr-D.
VQA_SERIES = ("accuracy", "yes/no", "number", "other")
CAPTION_SERIES = ("BLEU-4", "CIDEr")


@dataclass
class RunCurves:
    """Everything the tab plots for one run, built by ``add`` one event at a time."""

    kind: ModelKind | None = None
    steps: list[float] = field(default_factory=list)  # x of loss and throughput
    losses: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # samples/s
    epochs: list[float] = field(default_factory=list)  # x of validation series
    epoch_steps: list[int] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    train_losses: list[float] = field(default_factory=list)
    total_steps: int | None = None
    max_steps: int | None = None
    steps_per_epoch: int | None = None
    step: int = 0
    epoch: int = 0  # epochs validated
    running_epoch: int = 0  # the epoch of the latest step (1-based)
    epochs_total: int | None = None
    eta_s: float | None = None
    metric: str | None = None
    best: float | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)
    done: dict[str, Any] | None = None
    error: str | None = None
    events: int = 0
    trims: int = 0  # how often a resume cut the series back (plots re-send their data then)

    def add(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = event.get("event")
        if kind == "start":
            self._start(event)
        elif kind == "step":
            self.step = _int_or_none(event.get("step")) or self.step + 1
            self.running_epoch = _int_or_none(event.get("epoch")) or self.running_epoch
            self.steps.append(float(self.step))
            self.losses.append(_number(event.get("loss")))
            self.rates.append(_number(event.get("samples_per_s")))
            eta = _number(event.get("eta_s"))
            self.eta_s = eta if math.isfinite(eta) else None
        elif kind == "epoch":
            self._epoch(event)
        elif kind == "checkpoint":
            name, path = event.get("name"), event.get("path")
            if isinstance(name, str) and isinstance(path, str):
                self.checkpoints[name] = path
        elif kind == "done":
            self.done = event
            self.eta_s = 0.0
            if isinstance(event.get("checkpoints"), dict):
                self.checkpoints.update({k: v for k, v in event["checkpoints"].items() if isinstance(v, str)})
        elif kind == "error":
            self.error = str(event.get("message") or "the routine reported an error")

    def _start(self, event: dict[str, Any]) -> None:
        task = event.get("task")
        self.kind = ModelKind(task) if task in tuple(ModelKind) else self.kind
        self.total_steps = _int_or_none(event.get("total_steps"))
        self.steps_per_epoch = _int_or_none(event.get("steps_per_epoch"))
        config = event.get("config") if isinstance(event.get("config"), dict) else {}
        self.max_steps = _int_or_none(config.get("max_steps"))
        self.epochs_total = _int_or_none(config.get("epochs"))
        self.done, self.error = None, None
        resumed = _int_or_none(event.get("resumed_from_step"))
        if resumed is not None:
            # A resumed run restarts at its `last` checkpoint: steps logged after it
            # (by a run killed later) are replaced by the new ones, not doubled.
            self.trims += 1
            keep = sum(1 for s in self.steps if s <= resumed)
            del self.steps[keep:], self.losses[keep:], self.rates[keep:]
            keep = sum(1 for s in self.epoch_steps if s <= resumed)
            del self.epochs[keep:], self.epoch_steps[keep:], self.train_losses[keep:]
            for values in self.series.values():
                del values[keep:]
            self.step = resumed

    def _epoch(self, event: dict[str, Any]) -> None:
        metrics = event.get("metrics") if isinstance(event.get("metrics"), dict) else {}
        self.epoch = _int_or_none(event.get("epoch")) or self.epoch + 1
        self.epochs.append(float(self.epoch))
        self.epoch_steps.append(_int_or_none(event.get("step")) or self.step)
        self.train_losses.append(_number(event.get("train_loss")))
        values = dict(metrics)
        per_type = metrics.get("per_answer_type")
        if isinstance(per_type, dict):
            values.update(per_type)
        names = VQA_SERIES if self.kind == ModelKind.VQA or "accuracy" in metrics else CAPTION_SERIES
        for name in names:
            self.series.setdefault(name, [math.nan] * (len(self.epochs) - 1)).append(_number(values.get(name)))
        if isinstance(event.get("metric"), str):
            self.metric = event["metric"]
        best = _number(event.get("best"))
        self.best = best if math.isfinite(best) else self.best

    @property
    def fraction_done(self) -> float | None:
        """Progress in [0, 1] against the run's step budget, None before ``start``."""
        budget = self.budget_steps
        return None if not budget else min(1.0, self.step / budget)

    @property
    def budget_steps(self) -> int | None:
        """``total_steps``, or ``--max-steps`` when that is smaller."""
        if self.total_steps is None or self.max_steps is None:
            return self.total_steps
        return min(self.total_steps, self.max_steps)


def _int_or_none(value: Any) -> int | None:
    number = _number(value)
    return int(number) if math.isfinite(number) else None


def read_events_file(path: str | os.PathLike[str]) -> RunCurves:
    """A run's curves from its ``events.jsonl`` (unreadable lines are skipped). Call off the GUI thread."""
    curves = RunCurves()
    try:
        handle = open(Path(path), encoding="utf-8", errors="replace")  # noqa: SIM115 - `with` below
    except OSError:
        return curves
    with handle:
        for line in handle:
            event = parse_event_line(line)
            if event is not None:
                curves.add(event)
    return curves


def describe_event(event: dict[str, Any]) -> str | None:
    """One readable log line for the events worth a line (not ``step``: the progress bar shows those)."""
    kind = event.get("event")
    if kind == "start":
        params = event.get("parameters")
        resumed = event.get("resumed_from_step")
        text = f"start: {event.get('task', '?')} on {event.get('device', '?')}"
        if isinstance(params, int):
            text += f", {params:,} parameters"
        text += f", {event.get('total_steps', '?')} steps ({event.get('steps_per_epoch', '?')} per epoch)"
        return text + (f", resumed from step {resumed}" if resumed is not None else "")
    if kind == "epoch":
        metrics = event.get("metrics") if isinstance(event.get("metrics"), dict) else {}
        shown = [f"{name} {_format(metrics.get(name))}" for name in ("accuracy", "BLEU-4", "CIDEr") if name in metrics]
        loss = _format(event.get("train_loss"))
        return f"epoch {event.get('epoch')}: train loss {loss}" + (" · " + " · ".join(shown) if shown else "") + (
            " (best so far)" if event.get("improved") else "")
    if kind == "checkpoint":
        return f"saved `{event.get('name')}` at step {event.get('step')} ({Path(str(event.get('path'))).name})"
    if kind == "done":
        stopped = event.get("stopped")
        why = {"request": "stopped on request", "early-stopping": "early stopping"}.get(stopped, "finished")
        return (f"done ({why}) at step {event.get('step')}, "
                f"best {event.get('metric', 'metric')} {_format(event.get('best'))}")
    if kind == "error":
        return f"error: {event.get('message')}"
    return None


def _format(value: Any) -> str:
    number = _number(value)
    return "–" if not math.isfinite(number) else f"{number:.4g}"

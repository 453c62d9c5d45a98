"""Training runs on disk and the command line that starts them (Qt-free).

The Training tab starts ``python -m training.vqa|captioning`` in a *run
folder*, by default ``user_data_dir()/runs/<YYYYmmdd-HHMMSS>-<kind>``. The
routine writes its checkpoints there (``last``, ``best``: ``.json`` +
``.safetensors``); the tab adds:

* ``run.json`` -- the command, the options, kind, started/finished times,
  status, exit code, error message and best metric: all the runs list reads;
* ``events.jsonl`` -- every event line exactly as the routine printed it,
  re-read (lazily, off the GUI thread) to draw a finished run's curves;
* ``output.log`` -- the routine's human text (stderr), tqdm redraws collapsed;
* ``probe.jsonl`` -- the probe's answers, one line per checkpoint asked.

Everything here is plain files and dataclasses, so it is tested without Qt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from vqadesk.engine.checkpoints.run_folder import LOCK_FILE
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import write_json_atomic
from vqadesk.paths import user_data_dir

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "output.log"
PROBE_FILE = "probe.jsonl"
RUN_FORMAT = "vqadesk.training-run"
KINDS = tuple(kind.value for kind in ModelKind)
ROUTINES = {kind: kind.routine for kind in ModelKind}  # the ``python -m`` module that trains each kind

# Statuses a run can have. "running" on disk with no process behind it means
# the app went away mid-run: the list shows it as "interrupted".
FINAL_STATUSES = ("finished", "stopped", "early-stopped", "failed", "killed", "interrupted")


class RunOptionsError(VqadeskError):
    """Options the routine would refuse (checked before a process is started)."""


def runs_root() -> Path:
    """Where new runs go: ``user_data_dir()/runs`` (created on use)."""
    root = user_data_dir() / "runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def new_run_folder(root: str | os.PathLike[str], kind: str, now: datetime | None = None) -> Path:
    """A fresh ``<YYYYmmdd-HHMMSS>-<kind>`` folder under ``root`` (``-2``, ``-3``... if taken)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}-{kind}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


@dataclass(frozen=True)
class TrainingOptions:
    """What the form asks for; ``arguments()`` is the routine's command line after the Python."""

    kind: str
    data: str
    out: str
    train_split: str = "train"
    val_split: str = "val"
    model: str = "attention"
    question_encoder: str = "lstm"
    grounding_weight: float = 1.0  # the attention model's grounding loss (0: off), where the data name objects
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    dropout: float = 0.2
    device: str = "auto"
    precision: str = "auto"
    overfit: int | None = None
    max_steps: int | None = None
    threads: int | None = None
    extra: str = ""  # more options, as typed (shell quoting)

    def arguments(self) -> list[str]:
        if self.kind not in KINDS:
            raise RunOptionsError(f"routine must be one of {', '.join(KINDS)}, not {self.kind!r}")
        args = ["-m", ROUTINES[self.kind], "--data", self.data, "--out", self.out,
                "--train-split", self.train_split, "--val-split", self.val_split, "--model", self.model]
        if self.kind == ModelKind.VQA:
            args += ["--question-encoder", self.question_encoder]
            if self.model == "attention":
                args += ["--grounding-weight", repr(float(self.grounding_weight))]
        args += ["--epochs", str(self.epochs), "--batch-size", str(self.batch_size), "--lr", repr(float(self.lr)),
                 "--optimizer", self.optimizer, "--dropout", repr(float(self.dropout)), "--device", self.device,
                 "--precision", self.precision]
        for flag, value in (("--overfit", self.overfit), ("--max-steps", self.max_steps), ("--threads", self.threads)):
            if value is not None:
                args += [flag, str(value)]
        return args + self.extra_arguments()

    def extra_arguments(self) -> list[str]:
        try:
            return shlex.split(self.extra)
        except ValueError as exc:
            raise RunOptionsError(f"extra arguments: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingOptions:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str):
        raise RunOptionsError(message)


def check_arguments(kind: str, arguments: list[str]) -> None:
    """Raise ``RunOptionsError`` if the routine would refuse ``arguments`` (after ``-m training.X``).

    Uses the routines' own option parser, so a typo in the extra arguments or
    a negative learning rate is reported at once instead of after the several
    seconds a training process takes to import torch.
    """
    from vqadesk.engine.torch_free.training_config import TrainingConfigError, add_training_arguments, config_from_args

    parser = _RaisingParser(prog=f"training.{kind}", add_help=False)
    add_training_arguments(parser, kind)
    args = parser.parse_args(arguments)
    try:
        config_from_args(args, kind)
    except TrainingConfigError as exc:
        raise RunOptionsError(str(exc)) from None


def with_resume(arguments: list[str]) -> list[str]:
    """The run's arguments to continue it: ``--resume``, without the ``--overwrite`` that started it afresh."""
    kept = [argument for argument in arguments if argument != "--overwrite"]
    return kept if "--resume" in kept else [*kept, "--resume"]


def run_folder_in_use(folder: str | os.PathLike[str]) -> bool:
    """Whether a live training run holds ``folder``'s run lock (``engine/checkpoints/run_folder.py``).

    Asked by taking a shared lock without waiting and dropping it at once: it fails only while a
    routine holds its exclusive lock. (A routine starting in that same microsecond is refused with
    its own one-line message, never corrupted.) Windows: byte-range locks, as the routine takes.
    """
    path = Path(folder) / LOCK_FILE
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return False  # no lock file: no run has ever held this folder
    with handle:
        try:
            if os.name == "nt":  # pragma: no cover - exercised on Windows only
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBRLCK, 1)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        except OSError:
            return True
    return False


def holds_a_run(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a run's checkpoints or record (a fresh run there needs Resume or Overwrite)."""
    folder = Path(folder)
    return any((folder / name).exists() for name in ("last.json", "best.json", "last.safetensors", RUN_FILE))


def clear_run_files(folder: str | os.PathLike[str]) -> None:
    """Remove the app's files of an old run in ``folder`` (record, events, log, probe answers) before a
    run started there with ``--overwrite``; the routine removes the checkpoints under its lock."""
    for name in (RUN_FILE, EVENTS_FILE, LOG_FILE, PROBE_FILE):
        (Path(folder) / name).unlink(missing_ok=True)


@dataclass
class RunRecord:
    """``run.json``: what the runs list shows without reading a run's events."""

    folder: Path
    kind: str
    arguments: list[str]  # after the Python executable: ["-m", "training.vqa", ...]
    options: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    started: str = ""
    finished: str | None = None
    resumed: list[str] = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None
    metric: str | None = None
    best: float | None = None
    epoch: int = 0
    step: int = 0
    total_steps: int | None = None
    precision: str | None = None  # the arithmetic the routine resolved (start event); None before it started
    stderr_tail: list[str] = field(default_factory=list)  # the last lines, to explain a failure
    command: list[str] = field(default_factory=list)  # as last launched, for the record

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def label(self) -> str:
        """Short, for lists and legends: ``12-02 06:40:13 VQA`` for a default folder name, else the name."""
        match = re.fullmatch(r"\d{4}(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)-(vqa|captioning)(-\d+)?", self.name)
        if not match:
            return self.name
        month, day, hour, minute, second, kind, n = match.groups()
        return f"{month}-{day} {hour}:{minute}:{second} {'VQA' if kind == ModelKind.VQA else 'caption'}{n or ''}"

    @property
    def best_checkpoint(self) -> Path:
        return self.folder / "best.json"

    @property
    def last_checkpoint(self) -> Path:
        return self.folder / "last.json"

    def can_resume(self) -> bool:
        return self.last_checkpoint.is_file()

    def has_best(self) -> bool:
        return self.best_checkpoint.is_file()

    def best_text(self) -> str:
        """``acc 87.5`` / ``CIDEr 4.49``; empty before the first validation."""
        if self.best is None or self.metric is None:
            return ""
        return f"acc {self.best:.1f}" if self.metric == "accuracy" else f"{self.metric} {self.best:.2f}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["folder"] = str(self.folder)
        return {"format": RUN_FORMAT, "version": 1, **data}

    def save(self) -> None:
        write_json_atomic(self.folder / RUN_FILE, self.to_json(), indent=1)


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def read_run(folder: str | os.PathLike[str]) -> RunRecord | None:
    """The run in ``folder`` from its ``run.json``; None when there is none or it is unreadable."""
    folder = Path(folder)
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        return None
    known = RunRecord.__dataclass_fields__
    values = {k: v for k, v in data.items() if k in known and k != "folder"}
    try:
        record = RunRecord(folder=folder, **values)
    except TypeError:
        return None
    if record.kind not in KINDS or not isinstance(record.arguments, list):
        return None
    return record


def list_runs(*roots: str | os.PathLike[str], extra_folders: tuple[str, ...] = ()) -> list[RunRecord]:
    """Every readable run in the sub-folders of ``roots`` and in ``extra_folders``, newest first."""
    folders: dict[Path, None] = {}
    for root in roots:
        try:
            children = sorted(p for p in Path(root).iterdir() if p.is_dir())
        except OSError:
            continue
        folders.update(dict.fromkeys(children))
    folders.update(dict.fromkeys(Path(f) for f in extra_folders))
    records = [r for r in (read_run(f) for f in folders) if r is not None]
    records.sort(key=lambda r: (r.started, r.name), reverse=True)
    return records


def start_record(folder: Path, options: TrainingOptions, arguments: list[str], python: str) -> RunRecord:
    record = RunRecord(folder=folder, kind=options.kind, arguments=arguments, options=options.to_dict(),
                       started=now_text(), command=[python, *arguments])
    record.save()
    return record


def resumed_record(record: RunRecord, python: str) -> RunRecord:
    arguments = with_resume(record.arguments)
    resumed = replace(record, arguments=arguments, status="running", finished=None, exit_code=None, error=None,
                      stderr_tail=[], resumed=[*record.resumed, now_text()], command=[python, *arguments])
    resumed.save()
    return resumed


def apply_event(record: RunRecord, event: dict[str, Any]) -> bool:
    """Copy what the runs list shows from ``event`` into ``record``; True when it changed."""
    kind = event.get("event")
    if kind == "start":
        record.total_steps = event.get("total_steps") if isinstance(event.get("total_steps"), int) else None
        precision = event.get("precision")  # resolved by the routine (never "auto")
        record.precision = precision if isinstance(precision, str) else record.precision
        return True
    if kind == "epoch":
        record.epoch = event.get("epoch", record.epoch)
        record.step = event.get("step", record.step)
        record.metric = event.get("metric", record.metric)
        best = event.get("best")
        record.best = float(best) if isinstance(best, (int, float)) else record.best
        return True
    if kind == "done":
        record.step = event.get("step", record.step)
        stopped = event.get("stopped")
        record.status = {"request": "stopped", "early-stopping": "early-stopped"}.get(stopped, "finished")
        return True
    if kind == "error":
        record.error = str(event.get("message") or "")
        return True
    return False


def finish_record(record: RunRecord, *, exit_code: int | None, crashed: bool, stderr_tail: list[str]) -> RunRecord:
    """Set the final status once the process has exited (crashed: killed by a signal)."""
    record.exit_code = exit_code
    record.finished = now_text()
    record.stderr_tail = list(stderr_tail)
    if crashed:
        record.status = "killed"
        record.error = record.error or "the training process was killed (or crashed) before it finished"
    elif exit_code != 0:
        record.status = "failed"
        if not record.error:
            record.error = stderr_tail[-1] if stderr_tail else f"the training process exited with code {exit_code}"
    elif record.status == "running":
        record.status = "finished"  # exit 0 without a `done` event: trust the exit code
    record.save()
    return record


class LineLog:
    """Appends lines to a run file (``events.jsonl``, ``output.log``) as they arrive."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the run's life

    def write(self, lines: list[str]) -> None:
        if self._handle is None or not lines:
            return
        self._handle.write("".join(line + "\n" for line in lines))
        self._handle.flush()  # a crash of the app keeps every line received so far

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_log_tail(folder: str | os.PathLike[str], max_bytes: int = 200_000) -> list[str]:
    """The last lines of a run's ``output.log`` (at most ``max_bytes`` read). Call off the GUI thread."""
    path = Path(folder) / LOG_FILE
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[1:] if size > max_bytes and lines else lines  # the first may be cut


# -- the probe's answers --------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeAnswer:
    """One checkpoint's answer to the pinned question; ``epoch`` may be fractional (stopped mid-epoch)."""

    epoch: float
    step: int
    image: str
    question: str
    answers: list[tuple[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "image": self.image, "question": self.question,
                "answers": [[text, prob] for text, prob in self.answers]}


def append_probe(folder: Path, answer: ProbeAnswer) -> None:
    with open(folder / PROBE_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")


def read_probe(folder: str | os.PathLike[str]) -> list[ProbeAnswer]:
    """The probe answers saved in a run folder (bad lines skipped). Call off the GUI thread."""
    answers: list[ProbeAnswer] = []
    try:
        lines = (Path(folder) / PROBE_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return answers
    for line in lines:
        try:
            data = json.loads(line)
            answers.append(ProbeAnswer(
                epoch=float(data["epoch"]), step=int(data["step"]), image=str(data["image"]),
                question=str(data["question"]),
                answers=[(str(text), float(prob)) for text, prob in data["answers"]],
            ))
        except (ValueError, KeyError, TypeError):
            continue
    return answers


def probe_epoch(step: int, steps_per_epoch: int | None) -> float:
    """Where a checkpoint at ``step`` lies in epochs: 2.0 after epoch 2, 2.5 if stopped half-way."""
    if not steps_per_epoch:
        return float(step)
    return round(step / steps_per_epoch, 3)


def snapshot_checkpoint(json_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Freeze a checkpoint pair into ``dest`` (hard links, copies where links are refused).

    The routine rewrites ``last`` after every epoch by renaming new files over
    the old ones; a hard link keeps the old files' content, so a probe queued
    behind other inference work still reads the epoch it was asked about.
    """
    json_path, dest = Path(json_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for source in (json_path, json_path.with_suffix(".safetensors")):
        target = dest / source.name
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return dest / json_path.name


def checkpoint_step(json_path: str | os.PathLike[str]) -> int | None:
    """The training step a checkpoint was saved at (its metadata), None if unreadable."""
    try:
        document = json.loads(Path(json_path).read_text(encoding="utf-8"))
        return int(document["metadata"]["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None

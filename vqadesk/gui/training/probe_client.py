"""Asking each new ``last`` checkpoint of a VQA run the pinned question.

On a ``checkpoint`` event the checkpoint pair is frozen at once (hard links
into ``<run>/probe-snapshots/step-N``, see ``snapshot_checkpoint``): the job
may wait behind other inference work while the routine already rewrites
``last`` for the next epoch. The job runs on the inference worker, on a
channel of its own per run and step (``submit`` supersedes a channel's older
job, and every epoch's answer is wanted), and removes its snapshot when done.
Answers are appended to the run's ``probe.jsonl`` and shown if that run is
the one on screen. The job itself (``engine/torch_free/probe_job.py``) runs in the
inference process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QObject

from vqadesk.engine.torch_free.probe_job import probe_job
from vqadesk.engine.torch_free.training_runs import (
    ProbeAnswer,
    append_probe,
    probe_epoch,
    snapshot_checkpoint,
)
from vqadesk.gui.training.probe import ProbePanel, epoch_text
from vqadesk.text.counts import plural

SNAPSHOTS = "probe-snapshots"


class ProbeClient(QObject):
    """Sends probe jobs, keeps each run's answers, feeds the panel those of the run on screen."""

    def __init__(self, inference, panel: ProbePanel, parent: QObject | None = None):
        super().__init__(parent)
        self.inference = inference
        self.panel = panel
        self._history: dict[str, list[ProbeAnswer]] = {}
        self._pending: dict[str, int] = {}
        self._shown: str | None = None

    def history(self, folder: str) -> list[ProbeAnswer]:
        return list(self._history.get(folder, []))

    def set_history(self, folder: str, answers: list[ProbeAnswer]) -> None:
        self._history[folder] = list(answers)
        if folder == self._shown:
            self.panel.show_answers(self._history[folder])

    def forget(self, folder: str) -> None:
        self._history.pop(folder, None)

    def show_run(self, folder: str | None) -> None:
        if folder == self._shown:
            return
        self._shown = folder
        answers = self._history.get(folder, []) if folder else []
        self.panel.show_answers(answers)
        answered = f"{plural(len(answers), 'checkpoint')} of this run answered the probe."
        self.panel.show_status(answered if answers else "")

    def pending(self, folder: str) -> int:
        return self._pending.get(folder, 0)

    def ask(self, folder: str, event: dict, steps_per_epoch: int | None) -> None:
        """A ``last`` checkpoint of a VQA run was written: ask it the pinned question, if any."""
        probe = self.panel.probe
        if self.inference is None or probe is None:
            return
        image, question = probe
        step = int(event.get("step") or 0)
        epoch = probe_epoch(step, steps_per_epoch)
        try:
            snapshot = snapshot_checkpoint(event["path"], Path(folder) / SNAPSHOTS / f"step-{step:08d}")
        except (OSError, KeyError) as exc:
            self.panel.show_status(f"epoch {epoch_text(epoch)}: could not keep the checkpoint to probe it ({exc})")
            return
        self._pending[folder] = self._pending.get(folder, 0) + 1
        self.panel.show_status(f"asking the checkpoint of epoch {epoch_text(epoch)}…")
        self.inference.submit(
            f"probe-{Path(folder).name}-{step}",
            probe_job, snapshot, step, image, question,  # run in the inference process: passed by reference
            on_done=lambda prediction: self._answered(folder, epoch, step, image, question, prediction),
            on_error=lambda message: self._failed(folder, epoch, message),
        )

    def _answered(self, folder: str, epoch: float, step: int, image: str, question: str, prediction) -> None:
        self._done_one(folder)
        answer = ProbeAnswer(epoch=epoch, step=step, image=image, question=question,
                             answers=[(a.text, float(a.prob)) for a in prediction.answers])
        history = [a for a in self._history.setdefault(folder, []) if a.epoch != epoch]
        self._history[folder] = sorted([*history, answer], key=lambda a: a.epoch)
        try:
            append_probe(Path(folder), answer)
        except OSError as exc:
            self.panel.show_status(f"could not save the probe's answer: {exc}")
        if folder == self._shown:
            self.panel.add_answer(answer)
        best = f"“{answer.answers[0][0]}” ({answer.answers[0][1]:.2f})" if answer.answers else "no answer"
        self.panel.show_status(f"epoch {epoch_text(epoch)}: {best}")

    def _failed(self, folder: str, epoch: float, message: str) -> None:
        self._done_one(folder)
        self.panel.show_status(f"epoch {epoch_text(epoch)}: the probe failed: {message}")

    def _done_one(self, folder: str) -> None:
        self._pending[folder] = max(0, self._pending.get(folder, 0) - 1)
        if not self._pending[folder]:
            try:
                (Path(folder) / SNAPSHOTS).rmdir()  # only when empty: a newer snapshot may be waiting
            except OSError:
                pass

    def run_finished(self, folder: str) -> None:
        """Snapshots left by probes that will never run are removed (the jobs remove their own)."""
        if not self._pending.get(folder):
            shutil.rmtree(Path(folder) / SNAPSHOTS, ignore_errors=True)

    def shutdown(self) -> None:
        # The inference worker drops pending jobs when it shuts down: their snapshots go too.
        for folder, count in self._pending.items():
            if count:
                shutil.rmtree(Path(folder) / SNAPSHOTS, ignore_errors=True)

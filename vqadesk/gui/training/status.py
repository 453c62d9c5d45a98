"""Where a run stands: a progress bar with ETA text, and the report of a run that failed."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from vqadesk.engine.torch_free.training_events import RunCurves

REPORT_LINES = 6  # stderr lines shown under a failure's message


def format_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RunStatus(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.progress.setToolTip("Steps done of the run's budget (its epochs, or --max-steps if smaller)")
        self.label = QLabel(" ", wordWrap=True)
        self.report = QLabel(wordWrap=True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.setTextFormat(Qt.TextFormat.RichText)
        self.report.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress)
        layout.addWidget(self.label)
        layout.addWidget(self.report)

    def show_progress(self, curves: RunCurves, *, running: bool, stopping: bool, label: str = "") -> None:
        budget = curves.budget_steps
        if budget:
            self.progress.setRange(0, budget)
            self.progress.setValue(min(curves.step, budget))
        epochs = f"/{curves.epochs_total}" if curves.epochs_total else ""
        where = f"epoch {max(curves.running_epoch, curves.epoch)}{epochs} · step {curves.step}" + (
            f"/{budget}" if budget else "")
        speed = []  # on a line of its own: the left column is narrow
        rate = next((r for r in reversed(curves.rates) if math.isfinite(r)), None)
        if rate is not None:
            speed.append(f"{rate:,.0f} samples/s")
        if running:
            speed.append(f"ETA {format_eta(curves.eta_s)}")
            self.progress.setFormat("stopping…" if stopping else "%p%")
        lines = ([f"<b>{_escape(label)}</b>"] if label else []) + [where] + ([" · ".join(speed)] if speed else [])
        self.label.setText("<br>".join(lines))

    def show_final(self, status: str) -> None:
        self.progress.setFormat(status)

    def show_report(self, title: str, message: str, tail: list[str] | None = None) -> None:
        html = f"<b style='color:#d62728'>{_escape(title)}</b>: {_escape(message)}"
        if tail:
            html += "<pre style='font-size:small'>" + _escape("\n".join(tail[-REPORT_LINES:])) + "</pre>"
        self.report.setText(html)
        self.report.show()

    def hide_report(self) -> None:
        self.report.hide()

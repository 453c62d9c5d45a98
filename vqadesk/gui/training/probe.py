"""The probe: one pinned image + question, answered by each new checkpoint of a VQA run.

This panel shows the pinned image and question, how the probability of each
answer that ever reached the top 5 evolves over the epochs (one line per
answer), and a table epoch -> best answer. Asking the checkpoints is the
tab's job (through the inference worker); the panel only displays
``ProbeAnswer`` records, live or re-read from a run's ``probe.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.training_runs import ProbeAnswer
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.qimage import pil_to_qimage
from vqadesk.gui.training.plots import line_colour

THUMBNAIL = 64


def _thumbnail(path: str) -> QImage:
    image = load_image(Path(path))
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    return pil_to_qimage(image)


def epoch_text(epoch: float) -> str:
    return f"{epoch:g}"


def make_probe_plot() -> pg.PlotWidget:
    """The probe's answer-probability plot (the Training tab makes it in an event-loop turn of its own)."""
    plot = pg.PlotWidget()
    plot.setMinimumSize(180, 140)
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.showGrid(x=True, y=True, alpha=0.25)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setStyle(maxTickLevel=0)
    item.setYRange(0, 1, padding=0.02)
    return plot


class ProbePanel(QWidget):
    """Pinned image + question (with Clear), the answers' evolution plot and the best-answer table."""

    sig_cleared = Signal()

    def __init__(self, parent: QWidget | None = None, *, plot: pg.PlotWidget | None = None):
        """``plot``: ``make_probe_plot()`` made beforehand (else made here)."""
        super().__init__(parent)
        self.image_path: str | None = None
        self.question: str | None = None
        self._answers: list[ProbeAnswer] = []
        self._unavailable: str | None = None
        self._curves: dict[str, pg.PlotDataItem] = {}  # answer text -> its line, created once
        self._tasks = BackgroundTasks(self)

        self.thumbnail = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFixedSize(THUMBNAIL + 4, THUMBNAIL + 4)
        self.thumbnail.setFrameShape(QLabel.Shape.StyledPanel)
        self.question_label = QLabel(wordWrap=True)
        self.question_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.clear_button = QPushButton("Clear",
                                        toolTip="Unpin the image and question: checkpoints are no longer asked")
        self.clear_button.clicked.connect(self.clear)
        self.status = QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plot = plot if plot is not None else make_probe_plot()
        self.plot_item = self.plot.getPlotItem()
        # The legend is a list beside the plot, not over it: a dozen answers would hide the lines.
        self.legend = QListWidget()
        self.legend.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.legend.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.legend.setFixedWidth(100)
        self.legend.setToolTip("Every answer that reached a checkpoint's top 5, in its line's colour")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Epoch", "Best answer"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumWidth(135)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long answers elide
        self.table.setToolTip("The answer each checkpoint ranked first, with its probability")

        info = QVBoxLayout()
        info.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignBottom)
        info.addLayout(top)
        info.addWidget(self.question_label)
        info.addWidget(self.status, 1, Qt.AlignmentFlag.AlignTop)
        info_widget = QWidget()
        info_widget.setLayout(info)
        info_widget.setFixedWidth(160)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(info_widget)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.legend)
        layout.addWidget(self.table, 1)
        self._apply_palette()
        self._show_probe()

    # -- the pinned probe ----------------------------------------------------------------------

    @property
    def probe(self) -> tuple[str, str] | None:
        return (self.image_path, self.question) if self.image_path and self.question else None

    def set_probe(self, image_path: str, question: str) -> None:
        self.image_path, self.question = str(image_path), question.strip()
        self._show_probe()
        wanted = self.image_path
        self._tasks.start(_thumbnail, wanted, on_done=lambda image: self._thumbnail_done(wanted, image),
                          on_fail=lambda message: self._thumbnail_failed(wanted, message))

    def clear(self) -> None:
        self.image_path = self.question = None
        self._show_probe()
        self.sig_cleared.emit()

    def set_unavailable(self, reason: str | None) -> None:
        """Disable the probe (no inference worker) with ``reason`` as the tooltip, or enable it."""
        self._unavailable = reason
        self.setEnabled(reason is None)
        self.setToolTip(reason or "")
        self.status.setText(reason or "")

    def show_status(self, text: str) -> None:
        self.status.setText(self._unavailable or text)

    def _show_probe(self) -> None:
        if self.probe is None:
            self.thumbnail.clear()
            self.thumbnail.setText("no\nimage")
            self.question_label.setText("<i>No probe pinned.</i> Pin an image and a question in the Ask "
                                        "panel: each epoch's checkpoint of a VQA run answers it here.")
            self.clear_button.setEnabled(False)
        else:
            self.question_label.setText(f"<b>{_escape(self.question)}</b><br><small>{_escape(Path(self.image_path).name)}</small>")
            self.question_label.setToolTip(self.image_path)
            self.clear_button.setEnabled(True)

    def _thumbnail_done(self, path: str, image: QImage) -> None:
        if path == self.image_path:
            self.thumbnail.setPixmap(QPixmap.fromImage(image))

    def _thumbnail_failed(self, path: str, message: str) -> None:
        if path == self.image_path:
            self.thumbnail.setText("?")
            self.thumbnail.setToolTip(message)

    # -- the answers ---------------------------------------------------------------------------

    def answers(self) -> list[ProbeAnswer]:
        return list(self._answers)

    def show_answers(self, answers: list[ProbeAnswer]) -> None:
        """Show a run's probe answers (those for its latest image + question)."""
        if answers:
            image, question = answers[-1].image, answers[-1].question
            answers = [a for a in answers if (a.image, a.question) == (image, question)]
        self._answers = []
        for curve in self._curves.values():
            self.plot_item.removeItem(curve)
        self._curves.clear()
        self.legend.clear()
        self.table.setRowCount(0)
        for answer in answers:
            self.add_answer(answer)
        self._set_plot_title()

    def add_answer(self, answer: ProbeAnswer) -> None:
        if self._answers and (answer.image, answer.question) != (self._answers[-1].image, self._answers[-1].question):
            self.show_answers([*self._answers, answer])  # a new question: start its plot afresh
            return
        self._answers = [a for a in self._answers if a.epoch != answer.epoch] + [answer]
        self._answers.sort(key=lambda a: a.epoch)
        for text, _prob in answer.answers:
            if text not in self._curves:  # an answer enters the top 5: its line is made once
                colour = line_colour(len(self._curves), self.palette())
                curve = self.plot_item.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                            symbolBrush=colour, symbolPen=colour, connect="finite")
                self.legend.addItem(QListWidgetItem(_swatch(colour), text))
                self._curves[text] = curve
        epochs = np.array([a.epoch for a in self._answers], dtype=float)
        for text, curve in self._curves.items():
            probs = [dict(a.answers).get(text, np.nan) for a in self._answers]  # outside the top 5: a gap
            curve.setData(epochs, np.array(probs, dtype=float), connect="finite")
        self.table.setRowCount(len(self._answers))
        for row, a in enumerate(self._answers):
            best = f"{a.answers[0][0]} ({a.answers[0][1]:.2f})" if a.answers else "-"
            self.table.setItem(row, 0, QTableWidgetItem(epoch_text(a.epoch)))
            self.table.setItem(row, 1, QTableWidgetItem(best))
        self.table.scrollToBottom()
        self._set_plot_title()

    def _set_plot_title(self) -> None:
        text = self.palette().color(QPalette.ColorRole.WindowText).name()
        title = "Top-5 answers" if self._answers else "No probe answers for this run"
        self.plot_item.setTitle(title, color=text, size="9pt")
        # The pinned question may differ from the one a past run was asked: say which this is.
        self.plot.setToolTip(f"“{self._answers[-1].question}” on {Path(self._answers[-1].image).name}"
                             if self._answers else "")

    def _apply_palette(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        item = self.plot_item
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(pg.mkPen(text))
            item.getAxis(axis).setTextPen(pg.mkPen(text))
        item.setLabel("bottom", "epoch", color=text.name())
        item.setLabel("left", "probability", color=text.name())
        for index, curve in enumerate(self._curves.values()):
            colour = line_colour(index, palette)
            self.legend.item(index).setIcon(_swatch(colour))
            curve.setPen(pg.mkPen(colour, width=2))
            curve.setSymbolBrush(pg.mkBrush(colour))
            curve.setSymbolPen(pg.mkPen(colour))
        self._set_plot_title()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def shutdown(self) -> None:
        self._tasks.shutdown(2000)


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(colour)
    return QIcon(pixmap)


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""The Training tab's curves: loss, throughput and validation metrics (pyqtgraph).

``TrainingPlots.show_runs`` decides which lines exist (one run: its loss,
throughput and every validation series; several runs: one line per run in
each plot, to compare them, VQA accuracy overall or of the answer type chosen
above the plots) and creates their items once; ``refresh`` then only calls
``setData`` with the runs' current ``RunCurves``, which a live run keeps
growing. Colours come from the widget's palette, re-applied when the palette
changes, so the plots read well in light and dark themes.

No legend is drawn over a plot's data: a plot with several lines of one run
names them in its title, and when runs are compared one key above the plots
names each run's colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QWidget

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_events import RunCurves

# Qualitative colours that stay distinct on white and on near-black (Tableau 10).
LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
PER_TYPE = (("accuracy", "overall"), ("yes/no", "yes/no"), ("number", "number"), ("other", "other"))
ACCURACY_TITLE = "VQA accuracy (validation)"
# Line samples in a title's key: solid and dashed.
SOLID, DASHED = "\u2501\u2501", "\u2505\u2505"


def line_colour(index: int, palette: QPalette) -> QColor:
    colour = QColor(LINE_COLOURS[index % len(LINE_COLOURS)])
    if palette.color(QPalette.ColorRole.Base).lightness() < 128:
        colour = colour.lighter(135)  # the darker Tableau hues sink into a dark background
    return colour


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Line:
    """One plotted line: which run, which series, its legend name, colour and dash."""

    run: int
    series: str  # "loss", "rate" or a validation series name
    name: str
    colour: int
    dashed: bool = False


class CurvePlot(pg.PlotWidget):
    """A plot whose lines are created by ``set_lines`` and fed by ``set_line_data``."""

    def __init__(self, title: str, x_label: str, y_label: str, *, long_curves: bool = False,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._title, self._x_label, self._y_label = title, x_label, y_label
        self._titled_key = False
        self.item = self.getPlotItem()
        if long_curves:
            # A long run has many thousands of steps: draw only what a pixel can show.
            self.item.setDownsampling(auto=True, mode="peak")
            self.item.setClipToView(True)
        self.item.showGrid(x=True, y=True, alpha=0.25)
        self.item.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            self.item.getAxis(axis).enableAutoSIPrefix(False)  # "CIDEr (x0.001)" reads as a different metric
            # Grid lines at the major ticks only: the minor ones doubled a live plot's repaint time.
            self.item.getAxis(axis).setStyle(maxTickLevel=0)
        self.lines: list[Line] = []
        self.curves: list[pg.PlotDataItem] = []
        self._stamps: list[tuple | None] = []  # what each line last got: unchanged data is not re-sent
        self.setMinimumSize(220, 150)

    def set_lines(self, lines: list[Line], palette: QPalette, *, title: str | None = None,
                  key: bool = True) -> None:
        """Make the plot's lines; ``title`` replaces the plot's title; ``key``: name the lines
        (when there are several) in the title, in their colours, rather than in a legend that
        would hide part of the curves."""
        for curve in self.curves:
            self.item.removeItem(curve)
        if title is not None:
            self._title = title
        self._titled_key = key and len(lines) > 1
        self.lines, self.curves = list(lines), []
        self._stamps = [None] * len(lines)
        for line in lines:
            curve = self.item.plot([], [], connect="finite",
                                   symbol="o" if line.series not in ("loss", "rate") else None, symbolSize=5)
            self.curves.append(curve)
        self.apply_palette(palette)

    def title_text(self) -> str:
        """The title as drawn (HTML): with the lines' key when it carries one."""
        return self.item.titleLabel.text

    def _title_html(self, palette: QPalette) -> str:
        if not self._titled_key:
            return _escape(self._title)
        key = "&nbsp;&nbsp;".join(
            f"<span style='color:{line_colour(line.colour, palette).name()}'>{DASHED if line.dashed else SOLID}</span>"
            f"&nbsp;{_escape(line.name)}" for line in self.lines)
        return f"{_escape(self._title)}&nbsp;&nbsp;&nbsp;{key}"

    def set_line_data(self, index: int, x, y, stamp: tuple | None = None) -> None:
        """Give line ``index`` its data; skipped when ``stamp`` says it has not changed (no repaint)."""
        if stamp is not None and self._stamps[index] == stamp:
            return
        self._stamps[index] = stamp
        self.curves[index].setData(np.asarray(x, dtype=float), np.asarray(y, dtype=float), connect="finite")

    def apply_palette(self, palette: QPalette) -> None:
        text = palette.color(QPalette.ColorRole.WindowText)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for axis in ("left", "bottom"):
            self.item.getAxis(axis).setPen(pg.mkPen(text))
            self.item.getAxis(axis).setTextPen(pg.mkPen(text))
        self.item.setTitle(self._title_html(palette), color=text.name(), size="9pt")
        self.item.setLabel("bottom", self._x_label, color=text.name())
        self.item.setLabel("left", self._y_label, color=text.name())
        for line, curve in zip(self.lines, self.curves):
            colour = line_colour(line.colour, palette)
            style = Qt.PenStyle.DashLine if line.dashed else Qt.PenStyle.SolidLine
            curve.setPen(pg.mkPen(colour, width=2, style=style))
            curve.setSymbolBrush(pg.mkBrush(colour))
            curve.setSymbolPen(pg.mkPen(colour))


# The plots of TrainingPlots, in order: title, x label, y label, long curves (per step).
PLOT_SPECS = (
    ("Training loss", "step", "loss", True),
    ("Throughput", "step", "samples/s", True),
    (ACCURACY_TITLE, "epoch", "%", False),
    ("BLEU-4 (validation)", "epoch", "BLEU-4", False),
    ("CIDEr-D (validation)", "epoch", "CIDEr", False),
)


def make_plot(index: int) -> CurvePlot:
    """Plot ``index`` of ``PLOT_SPECS`` (the Training tab makes them one per event-loop turn)."""
    title, x_label, y_label, long_curves = PLOT_SPECS[index]
    return CurvePlot(title, x_label, y_label, long_curves=long_curves)


class TrainingPlots(QWidget):
    """Loss and throughput per step, validation metrics per epoch, for one run or several."""

    def __init__(self, parent: QWidget | None = None, *, plots: list[CurvePlot] | None = None):
        """``plots``: ``make_plot(i)`` for every ``PLOT_SPECS`` index, made beforehand (else made here)."""
        super().__init__(parent)
        plots = plots if plots is not None else [make_plot(i) for i in range(len(PLOT_SPECS))]
        self.loss, self.rate, self.accuracy, self.bleu, self.cider = plots
        # Comparing runs: one colour per run in every plot, named once here instead of a legend
        # over each plot's data; VQA runs are compared on the accuracy chosen beside it.
        self.key = QLabel(wordWrap=True)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.compared_accuracy = QComboBox()
        for key, name in PER_TYPE:
            self.compared_accuracy.addItem(name, key)
        self.compared_accuracy.setToolTip("Which VQA accuracy the compared runs' lines show")
        self._compared_label = QLabel("Compare accuracy:")
        self._compared_label.setBuddy(self.compared_accuracy)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.key, 1)
        top.addWidget(self._compared_label)
        top.addWidget(self.compared_accuracy)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(4)
        self._grid.addLayout(top, 0, 0, 1, 2)
        self._grid.setColumnStretch(0, 1)
        self._grid.setColumnStretch(1, 1)
        self._labels: list[str] = []
        self._runs: list[RunCurves] = []
        self._kind_hint = ModelKind.VQA
        self._shown: list[tuple[str, str, RunCurves]] = []
        self.compared_accuracy.currentIndexChanged.connect(lambda _index: self.show_runs(self._shown))
        self.show_runs([])

    def plots(self) -> list[CurvePlot]:
        return [self.loss, self.rate, self.accuracy, self.bleu, self.cider]

    def set_kind_hint(self, kind: str) -> None:
        """Which metric plots to show while no run is shown (the form's routine)."""
        self._kind_hint = kind
        if not self._runs:
            self._relayout({kind})

    def show_runs(self, runs: list[tuple[str, str, RunCurves]]) -> None:
        """Show ``runs`` (label, kind, curves): their lines are created here, filled by ``refresh``."""
        self._shown = list(runs)
        self._runs = [curves for _label, _kind, curves in runs]
        self._labels = [label for label, _kind, _curves in runs]
        single = len(runs) == 1
        compared_key, compared_name = PER_TYPE[max(self.compared_accuracy.currentIndex(), 0)]
        lines: dict[str, list[Line]] = {"loss": [], "rate": [], "accuracy": [], "bleu": [], "cider": []}
        for i, (label, kind, _curves) in enumerate(runs):
            lines["loss"].append(Line(i, "loss", label, i))
            lines["rate"].append(Line(i, "rate", label, i))
            if kind == ModelKind.VQA and single:  # one run: every answer type, in its own colour
                lines["accuracy"] += [Line(i, key, name, n, dashed=n > 0) for n, (key, name) in enumerate(PER_TYPE)]
            elif kind == ModelKind.VQA:  # several runs: the chosen accuracy, in the run's colour
                lines["accuracy"].append(Line(i, compared_key, label, i))
            else:
                lines["bleu"].append(Line(i, "BLEU-4", label, i))
                lines["cider"].append(Line(i, "CIDEr", label, i))
        comparing_vqa = not single and any(kind == ModelKind.VQA for _label, kind, _curves in runs)
        titles = {"accuracy": f"VQA accuracy, {compared_name} (validation)"
                  if comparing_vqa and compared_key != "accuracy" else ACCURACY_TITLE}
        palette = self.palette()
        for name, plot in zip(lines, self.plots()):
            plot.set_lines(lines[name], palette, key=single, title=titles.get(name))
        self._compared_label.setVisible(comparing_vqa)
        self.compared_accuracy.setVisible(comparing_vqa)
        self._show_key()
        self._relayout({kind for _label, kind, _curves in runs} or {self._kind_hint})
        self.refresh()

    def _show_key(self) -> None:
        palette = self.palette()
        self.key.setText("  ".join(
            f"<span style='color:{line_colour(i, palette).name()}'>■</span> {_escape(label)}"
            for i, label in enumerate(self._labels)))
        self.key.setVisible(len(self._labels) > 1)

    def refresh(self) -> None:
        """Push the shown runs' current data into the existing items (cheap; called on a timer)."""
        for plot in self.plots():
            for index, line in enumerate(plot.lines):
                curves = self._runs[line.run]
                # Curves only grow, except when a resume trims them: length + trims say what changed.
                if line.series in ("loss", "rate"):
                    y = curves.losses if line.series == "loss" else curves.rates
                    plot.set_line_data(index, curves.steps, y, (curves.trims, len(y)))
                else:
                    values = curves.series.get(line.series, [])
                    plot.set_line_data(index, curves.epochs[: len(values)], values, (curves.trims, len(values)))

    def point_count(self, plot: CurvePlot) -> int:
        """Points in ``plot``'s lines (tests: did the live run draw anything?)."""
        return sum(len(c.getData()[0]) if c.getData()[0] is not None else 0 for c in plot.curves)

    def _relayout(self, kinds: set[str]) -> None:
        # Loss and throughput on top; below, the metric plots of the kinds shown.
        for plot in self.plots():
            self._grid.removeWidget(plot)
            plot.hide()
        metric_plots = ([self.accuracy] if ModelKind.VQA in kinds else []) + (
            [self.bleu, self.cider] if ModelKind.CAPTIONING in kinds else [])
        self._grid.addWidget(self.loss, 1, 0)
        self._grid.addWidget(self.rate, 1, 1)
        for i, plot in enumerate(metric_plots):
            alone = i == len(metric_plots) - 1 and i % 2 == 0  # the last of an odd count: full width
            self._grid.addWidget(plot, 2 + i // 2, i % 2, 1, 2 if alone else 1)
        rows = 1 + (len(metric_plots) + 1) // 2
        for row in range(3):  # the rows in use share the height equally; an empty one takes none
            self._grid.setRowStretch(1 + row, 1 if row < rows else 0)
        for plot in [self.loss, self.rate, *metric_plots]:
            plot.show()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            for plot in self.plots():
                plot.apply_palette(self.palette())
            self._show_key()
        super().changeEvent(event)

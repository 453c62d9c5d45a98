"""The Compare panel: one question, two or more VQA models, their answers side by side.

The models are ticked in a list (the named models, plus any checkpoint the
user opened or trained this session); the worker answers with each in turn
(``ModelPool.compare``, which keeps recently used models loaded), and the
chart shows one coloured bar per model for every answer any of them ranked.
A model that cannot answer says why below the chart; the others still answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.explore.chart_holder import ChartHolder
from vqadesk.gui.explore.image_context import ImageContext, question_problem
from vqadesk.gui.style import message_style
from vqadesk.text.counts import plural

if TYPE_CHECKING:
    from vqadesk.engine.torch_free.pool_records import ComparedAnswer

_PATH_ROLE = Qt.ItemDataRole.UserRole


def _make_comparison_chart():
    from vqadesk.gui.explore.charts import ComparisonBarChart  # pyqtgraph: imported on first use

    return ComparisonBarChart()


class ComparePanel(QWidget):
    sig_compared = Signal(object, object)  # list[ComparedAnswer], ImageContext

    def __init__(self, inference: InferenceClient, parent: QWidget | None = None):
        super().__init__(parent)
        self.inference = inference
        self.context: ImageContext | None = None
        self.results: list[ComparedAnswer] = []

        self.models = QListWidget()
        self.models.setToolTip("Tick two or more VQA models to compare")
        self.models.setMaximumHeight(120)
        self.question = QLineEdit()
        self.question.setPlaceholderText("Question for every ticked model…")
        self.question.setClearButtonEnabled(True)
        self.top_k = QSpinBox(minimum=1, maximum=10, value=3)
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many answers each model contributes")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Ask the question to every ticked model")
        row = QHBoxLayout()
        row.addWidget(self.question, 1)
        row.addWidget(self.top_k)
        row.addWidget(self.compare_button)
        self.status = QLabel("Tick models, type a question and press Compare.")
        self.status.setWordWrap(True)
        self.chart_holder = ChartHolder(_make_comparison_chart, minimum_height=200)
        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet(message_style("error"))
        self.errors.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(QLabel("Models:"))
        layout.addWidget(self.models)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.chart_holder, 1)
        layout.addWidget(self.errors)

        self.compare_button.clicked.connect(self.compare)
        self.question.returnPressed.connect(self.compare)

    @property
    def chart(self):
        """The ``ComparisonBarChart``, made on first use."""
        return self.chart_holder.chart()

    def add_model(self, name: str, path: str, *, checked: bool = False) -> None:
        """List a VQA model (once per checkpoint path)."""
        for row in range(self.models.count()):
            item = self.models.item(row)
            if item.data(_PATH_ROLE) == path:
                if checked:
                    item.setCheckState(Qt.CheckState.Checked)
                return
        item = QListWidgetItem(name)
        item.setData(_PATH_ROLE, path)
        item.setToolTip(path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.models.addItem(item)

    def checked_models(self) -> list[tuple[str, str]]:
        items = (self.models.item(row) for row in range(self.models.count()))
        return [(i.text(), i.data(_PATH_ROLE)) for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_image(self, context: ImageContext | None) -> None:
        self.context = context

    def set_question(self, text: str) -> None:
        if not self.question.text().strip():
            self.question.setText(text)

    def compare(self) -> None:
        text = self.question.text()
        chosen = self.checked_models()
        problem = question_problem(self.context, text)
        if problem is not None:
            self._say(problem, "error")
            return
        if len(chosen) < 1:
            self._say("Tick at least one model (two or more to compare).", "error")
            return
        context, top_k = self.context, self.top_k.value()
        paths = [path for _name, path in chosen]
        names = {path: name for name, path in chosen}
        self._say(f"Asking {plural(len(paths), 'model')}…")
        self.inference.submit(
            "compare", PoolApi.compare, paths, context.path, text, top_k=top_k,
            on_done=lambda results, c=context: self._compared(c, results, names),
            on_error=lambda m: self._say(m, "error"),
        )

    def _compared(self, context: ImageContext, results: list[ComparedAnswer], names: dict[str, str]) -> None:
        if context is not self.context:
            return
        self.results = results
        answered = {
            names.get(r.model, r.model): [(a.text, a.prob) for a in r.prediction.answers]
            for r in results if r.prediction is not None
        }
        self.chart.set_comparison(answered)
        failures = [f"{names.get(r.model, r.model)}: {r.error}" for r in results if r.error]
        self.errors.setText("\n".join(failures))
        self.errors.setVisible(bool(failures))
        best = "; ".join(
            f"{names.get(r.model, r.model)} → {r.prediction.best.text} ({r.prediction.best.prob * 100:.0f}%)"
            for r in results if r.prediction is not None
        )
        self._say(best or "No model could answer.")
        self.sig_compared.emit(results, context)

    def _say(self, text: str, kind: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(message_style(kind) if kind else "")

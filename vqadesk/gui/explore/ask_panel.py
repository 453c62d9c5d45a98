"""The Ask panel: type a question, see the top-k answers as bars and how right they are.

The question goes to the inference worker (channel "ask": a newer question
supersedes one still waiting). The answer shows as an ``AnswerBarChart``;
the window lays its attention map over the image (``sig_answered``). When the
dataset asks the same question about this image, the ten human answers are
listed and the prediction scored with the official VQA accuracy. The
dataset's questions for the image are listed below; clicking one asks it.
"""

from __future__ import annotations

import html
from collections import Counter

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import QuestionRecord
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.engine.torch_free.predictions import VqaPrediction
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.explore.chart_holder import ChartHolder
from vqadesk.gui.explore.hub_models import short_model_name
from vqadesk.gui.explore.image_context import ImageContext, find_question, question_problem
from vqadesk.gui.explore.question_edit import QuestionEdit
from vqadesk.gui.explore.shapes_notice import ShapesOnlyNotice
from vqadesk.gui.style import message_style
from vqadesk.metrics.vqa_accuracy import answer_accuracy


def _make_answer_chart():
    from vqadesk.gui.explore.charts import AnswerBarChart  # pyqtgraph: imported on first use

    chart = AnswerBarChart()
    chart.setToolTip("The model's most likely answers and their probabilities")
    return chart


class AskPanel(QWidget):
    sig_answered = Signal(object, object)  # VqaPrediction, ImageContext
    sig_pin_probe = Signal(str, str)  # image path, question

    def __init__(self, inference: InferenceClient, parent: QWidget | None = None):
        super().__init__(parent)
        self.inference = inference
        self.context: ImageContext | None = None
        self.prediction: VqaPrediction | None = None
        self._asked_context: ImageContext | None = None

        self.question_edit = QuestionEdit()
        self.question_edit.setToolTip("Any question in any language; unknown words read as <unk>")
        self.top_k = QSpinBox(minimum=1, maximum=10, value=5)
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many answers to show")
        self.ask_button = QPushButton("Ask")
        self.ask_button.setDefault(True)
        self.ask_button.setToolTip("Ask the VQA model (Enter, or Ctrl+Enter anywhere)")
        row = QHBoxLayout()
        row.addWidget(self.question_edit, 1)
        row.addWidget(self.top_k)
        row.addWidget(self.ask_button)

        self.notice = ShapesOnlyNotice(ModelKind.VQA)
        self.status = QLabel("Select an image and ask a question.")
        self.status.setWordWrap(True)
        self.chart_holder = ChartHolder(_make_answer_chart, minimum_height=170)

        self.truth = QLabel()
        self.truth.setWordWrap(True)
        self.truth.setTextFormat(Qt.TextFormat.RichText)
        self.truth_box = QGroupBox("Ground truth")
        QVBoxLayout(self.truth_box).addWidget(self.truth)
        self.truth_box.hide()

        self.pin_button = QPushButton("Pin as training probe")
        self.pin_button.setToolTip("The Training tab asks every new checkpoint this question about this image")
        self.pin_button.setEnabled(False)

        self.questions = QTableWidget(0, 2)
        self.questions.setHorizontalHeaderLabels(["Dataset question", "Answer"])
        self.questions.verticalHeader().setVisible(False)
        self.questions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.questions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.questions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.questions.setWordWrap(True)
        self.questions.setAlternatingRowColors(True)
        header = self.questions.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.questions.setToolTip("Click a question to ask it")
        self.no_questions = QLabel("The dataset asks no questions about this image.")
        self.no_questions.setEnabled(False)
        self.no_questions.hide()
        questions_box = QGroupBox("The dataset's questions")
        questions_layout = QVBoxLayout(questions_box)
        questions_layout.addWidget(self.questions)
        questions_layout.addWidget(self.no_questions)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.notice)
        layout.addWidget(self.status)
        layout.addWidget(self.chart_holder, 3)
        layout.addWidget(self.truth_box)
        layout.addWidget(self.pin_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(questions_box, 2)

        self.question_edit.sig_submitted.connect(self.ask)
        self.ask_button.clicked.connect(lambda: self.ask(self.question_edit.text()))
        self.questions.cellClicked.connect(self._ask_row)
        self.pin_button.clicked.connect(self._pin)

    @property
    def chart(self):
        """The ``AnswerBarChart``, made on first use."""
        return self.chart_holder.chart()

    # -- what the panel is about --------------------------------------------------------------

    def set_image(self, context: ImageContext | None) -> None:
        self.context = context
        self.prediction = None
        if self.chart_holder.made is not None:  # not made yet: nothing to clear (and no import to wait for)
            self.chart.clear_answers()
        self.truth_box.hide()
        self.notice.hide()
        self.pin_button.setEnabled(False)
        records = context.questions if context else []
        self.questions.setRowCount(len(records))
        for row, record in enumerate(records):
            answer = record.annotation.multiple_choice_answer if record.annotation else "—"
            self.questions.setItem(row, 0, QTableWidgetItem(record.text))
            self.questions.setItem(row, 1, QTableWidgetItem(answer))
            if record.annotation:
                human = ", ".join(f"{a} ×{n}" for a, n in Counter(record.annotation.answers).most_common())
                self.questions.item(row, 1).setToolTip(f"10 human answers: {human}")
        self.questions.resizeRowsToContents()
        self.questions.setVisible(bool(records))
        self.no_questions.setVisible(context is not None and not records)
        if context is None:
            self.status.setText("Select an image and ask a question.")
        else:
            self.status.setText(f"Ask about {context.title}.")
            if records and not self.question_edit.text().strip():
                self.question_edit.setPlaceholderText(f"e.g. {records[0].text}")

    def set_completions(self, questions: list[str]) -> None:
        self.question_edit.set_completions(questions)

    def dataset_question_count(self) -> int:
        return self.questions.rowCount()

    # -- asking -------------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        problem = question_problem(self.context, text)
        if problem is not None:
            self._say(problem, "error")
            return
        context, top_k = self.context, self.top_k.value()
        self.question_edit.remember(text)
        if self.question_edit.text() != text:
            self.question_edit.setText(text)
        self._say(f"Asking: {text.strip()}…")
        self.inference.submit(
            "ask", PoolApi.ask, context.path, text, top_k=top_k,
            on_done=lambda prediction, c=context: self._answered(c, prediction), on_error=self._failed,
        )

    def ask_dataset_question(self, row: int) -> None:
        self._ask_row(row, 0)

    def _ask_row(self, row: int, _column: int) -> None:
        item = self.questions.item(row, 0)
        if item is not None:
            self.ask(item.text())

    def _answered(self, context: ImageContext, prediction: VqaPrediction) -> None:
        if context is not self.context:
            return  # the user moved on to another image
        self.prediction = prediction
        record = find_question(context, prediction.question)
        truth = record.annotation.multiple_choice_answer if record and record.annotation else None
        self.chart.set_answers([(a.text, a.prob) for a in prediction.answers], highlight=truth)
        timings = prediction.timings_ms
        how = "image features from the cache" if prediction.cached else f"encoded in {timings.get('encode', 0):.0f} ms"
        self._say(
            f"<b>{html.escape(prediction.best.text)}</b> ({prediction.best.prob * 100:.1f}%) "
            f"— {short_model_name(prediction.model)}, "
            f"{timings.get('total', 0):.0f} ms ({how})"
        )
        self._show_truth(record, prediction)
        self._update_notice()
        self.pin_button.setEnabled(True)
        self.sig_answered.emit(prediction, context)

    def set_shapes_only_model(self, model: str | None) -> None:
        """The VQA model in use knows only the Shapes world (``model``: its name), or None."""
        self.notice.set_model(model)

    @property
    def shapes_only_model(self) -> str | None:
        return self.notice.model

    def _update_notice(self) -> None:
        self.notice.update_for(self.prediction is not None, self.context)

    def _show_truth(self, record: QuestionRecord | None, prediction: VqaPrediction) -> None:
        if record is None or record.annotation is None:
            self.truth_box.hide()
            return
        humans = record.annotation.answers
        counts = ", ".join(f"{answer} ×{n}" if n > 1 else answer for answer, n in Counter(humans).most_common())
        accuracy = answer_accuracy(prediction.best.text, humans)
        self.truth.setText(
            f"{len(humans)} human answers: {counts}<br>"
            f"Accuracy of <b>{prediction.best.text}</b>: <b>{accuracy * 100:.0f}%</b> "
            "(official VQA metric: min(humans who gave it / 3, 1), averaged over the 10 leave-one-out sets)"
        )
        self.truth_box.show()

    def _failed(self, message: str) -> None:
        self._say(message, "error")

    def _say(self, text: str, kind: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(message_style(kind) if kind else "")

    def _pin(self) -> None:
        if self.context is not None and self.prediction is not None:
            self.sig_pin_probe.emit(str(self.context.path), self.prediction.question)

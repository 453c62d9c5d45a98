"""The details panel: what the dataset says about the selected image.

Its objects (from instances annotations), its reference captions and its VQA
questions with the human answers. The Ask and Caption panels of later
versions put the models' answers beside these.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import DatasetSplit
from vqadesk.errors import VqadeskError


class DetailsPanel(QWidget):
    """Header, captions list and questions table for one image."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.header = QLabel("Select an image")
        self.header.setWordWrap(True)
        self.header.setTextFormat(self.header.textFormat().RichText)
        self.captions = QListWidget()
        self.captions.setWordWrap(True)
        self.captions.setAlternatingRowColors(True)
        self.captions.setSpacing(2)
        self.captions.setToolTip("Reference captions from the dataset")
        self.questions = QTableWidget(0, 3)
        self.questions.setHorizontalHeaderLabels(["Question", "Answer", "Type"])
        self.questions.verticalHeader().setVisible(False)
        self.questions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.questions.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.questions.setWordWrap(True)
        self.questions.setAlternatingRowColors(True)
        header = self.questions.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.questions.setToolTip("The dataset's questions about this image and the most common human answer")

        self.captions_box = QGroupBox("Captions")
        QVBoxLayout(self.captions_box).addWidget(self.captions)
        self.no_questions = QLabel(
            "No VQA questions for this image in the dataset.\n"
            "Datasets with VQA v2 files (vqa/ or annotations/) list them here."
        )
        self.no_questions.setWordWrap(True)
        self.no_questions.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.no_questions.setEnabled(False)  # greyed: a hint, not content
        self.questions_box = QGroupBox("Questions")
        questions_layout = QVBoxLayout(self.questions_box)
        questions_layout.addWidget(self.questions)
        questions_layout.addWidget(self.no_questions)
        self.no_questions.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.captions_box, 2)
        layout.addWidget(self.questions_box, 3)

    def show_image(self, split: DatasetSplit, image_id: int) -> None:
        image = split.coco.image(image_id)
        objects = split.coco.objects(image_id)
        try:
            # Plain photos have no size in annotations: this reads the file header.
            width, height = split.coco.image_size(image_id)
            size = f"{width} × {height}"
        except VqadeskError:
            size = "unreadable file"
        counts = Counter(obj.category_name for obj in objects)
        summary = ", ".join(f"{name} × {n}" for name, n in sorted(counts.items())) or "no annotated objects"
        self.header.setText(
            f"<b>{image.file_name}</b><br>image id {image_id} · {size} · {split.name}<br>{summary}"
        )
        self.captions.clear()
        captions = [c.caption for c in split.coco.captions(image_id)]
        self.captions.addItems(captions or ["(no reference captions)"])
        self.captions_box.setTitle(f"Captions ({len(captions)})")

        records = split.questions(image_id)
        self.questions.setRowCount(len(records))
        for row, record in enumerate(records):
            annotation = record.annotation
            answer = annotation.multiple_choice_answer if annotation else "—"
            kind = annotation.answer_type if annotation else ""
            for column, text in enumerate((record.text, answer, kind)):
                self.questions.setItem(row, column, QTableWidgetItem(text))
            if annotation:
                human = ", ".join(f"{a} ×{n}" for a, n in Counter(annotation.answers).most_common())
                self.questions.item(row, 1).setToolTip(f"10 human answers: {human}")
        self.questions.resizeRowsToContents()
        self.questions.setVisible(bool(records))
        self.no_questions.setVisible(not records)
        self.questions_box.setTitle(f"Questions ({len(records)})")

    def clear(self, message: str = "Select an image") -> None:
        self.header.setText(message)
        self.captions.clear()
        self.questions.setRowCount(0)

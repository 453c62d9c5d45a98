"""The Training tab's form: which routine, on what data, with which options.

Every field has a tooltip and is remembered in QSettings under ``training/``
(the model choice per routine, since VQA and captioning have different
models) -- except the output folder, so that a new run never lands in an
old run's folder by accident. ``options(out)`` turns the fields into the Qt-free
``TrainingOptions`` whose ``arguments()`` is the routine's command line.

Under the splits a note says whether the dataset holds what the routine needs
for them (``training_data.dataset_problem``: file names only); the tab keeps
Start off until it does. The app's open dataset fills the field only when it
has the splits (a folder of photos has none): else the built-in Shapes world,
which has them, is offered.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from vqadesk.data.default_dataset import default_shapes_root
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import CAPTION_CELLS, OPTIMIZERS, PRECISIONS, VQA_MODELS
from vqadesk.engine.torch_free.training_data import dataset_problem
from vqadesk.engine.torch_free.training_runs import TrainingOptions

GROUP = "training"
DEVICES = ("auto", "cpu", "cuda", "mps")
ROUTINES = (("VQA", ModelKind.VQA), ("Captioning", ModelKind.CAPTIONING))
MODEL_TIPS = {
    ModelKind.VQA: "bow: bag of words + image feature; lstm: LSTM question encoder; "
           "attention: stacked attention over the image grid (best, slowest)",
    ModelKind.CAPTIONING: "the decoder's cell: lstm, or rnn (a vanilla RNN, as in cs231n)",
}


def _path_row(edit: QLineEdit, button: QToolButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def _optional_spin(check: QCheckBox, spin: QSpinBox) -> QHBoxLayout:
    spin.setEnabled(False)
    check.toggled.connect(spin.setEnabled)
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(check)
    row.addWidget(spin, 1)
    return row


class TrainingForm(QWidget):
    """The fields, saved to the settings on every edit; ``sig_changed`` after each."""

    sig_changed = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self._dataset_chosen = False  # typed or browsed by the user: the app's dataset no longer replaces it
        self._loading = False

        self.routine = QComboBox()
        for label, kind in ROUTINES:
            self.routine.addItem(label, kind)
        self.routine.setToolTip("Which routine to run: python -m training.vqa or training.captioning")
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("dataset root folder")
        self.dataset.setToolTip("A dataset root: annotations/ (+ vqa/ for VQA) and one image folder per split, "
                                "as `vqadesk shapes` writes and COCO uses. Defaults to the app's open dataset.")
        self.dataset_button = QToolButton(text="…", toolTip="Choose the dataset folder")
        self.train_split = QLineEdit(placeholderText="train", toolTip="Name of the training split (--train-split)")
        self.val_split = QLineEdit(placeholderText="val", toolTip="Name of the validation split (--val-split)")
        self.data_note = QLabel(wordWrap=True)
        self.data_note.setTextFormat(Qt.TextFormat.PlainText)
        self.model = QComboBox()
        self.question_encoder = QComboBox(
            toolTip="VQA lstm/attention models: the question encoder (--question-encoder)")
        self.question_encoder.addItems(["lstm", "transformer"])
        self.grounding = QDoubleSpinBox(
            decimals=2, minimum=0.0, maximum=100.0, singleStep=0.25, value=1.0,
            toolTip="VQA attention model: weight of the loss that puts each glimpse on the object the question "
                    "names, where the data say which (the Shapes world does; real VQA v2 does not); 0 turns it "
                    "off (--grounding-weight)")
        self.epochs = QSpinBox(minimum=1, maximum=100000, value=10, toolTip="Passes over the training split (--epochs)")
        self.batch_size = QSpinBox(minimum=1, maximum=65536, value=32,
                                   toolTip="Images per batch; each brings all its questions or captions (--batch-size)")
        self.lr = QDoubleSpinBox(decimals=6, minimum=0.000001, maximum=10.0, singleStep=0.0005, value=0.001,
                                 toolTip="Peak learning rate (--lr)")
        self.optimizer = QComboBox(toolTip="sgd (momentum 0.9), rmsprop or adam (--optimizer)")
        self.optimizer.addItems(list(OPTIMIZERS))
        self.dropout = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.95, singleStep=0.05, value=0.2,
                                      toolTip="Dropout probability (--dropout)")
        self.device = QComboBox(toolTip="auto: CUDA if present, else MPS, else CPU (--device)")
        self.device.addItems(list(DEVICES))
        self.precision = QComboBox(toolTip="auto: bf16 on CPUs with AVX512-BF16/AMX and on CUDA GPUs, else fp32; "
                                   "fp32 for exact reproducibility; fp16 needs CUDA (--precision)")
        self.precision.addItems(list(PRECISIONS))
        self.overfit_check = QCheckBox("overfit", toolTip="Sanity check: train and validate on the first N examples "
                                       "only; the loss should fall towards zero (--overfit N)")
        self.overfit = QSpinBox(minimum=1, maximum=1000000, value=50, toolTip="N examples for --overfit")
        self.max_steps_check = QCheckBox("limit", toolTip="Stop after this many optimisation steps; a `last` "
                                         "checkpoint is written (--max-steps)")
        self.max_steps = QSpinBox(minimum=1, maximum=100000000, value=100, toolTip="Steps for --max-steps")
        self.threads = QSpinBox(minimum=0, maximum=256, value=1, specialValueText="torch default",
                                toolTip="CPU threads for torch (--threads); 1 is fastest for the small Shapes "
                                "models on a busy small CPU, leave the default on a GPU")
        self.extra = QLineEdit(placeholderText="e.g. --hidden-dim 128 --lr-schedule none",
                               toolTip="More options for the routine, as on a command line (see docs/training.md)")
        self.out = QLineEdit(toolTip="Where checkpoints and the run's files go; empty: a new folder under the "
                             "runs folder, named by date and routine")
        self.out.setPlaceholderText("new run folder")
        self.out_button = QToolButton(text="…", toolTip="Choose an (empty) output folder")
        self.overwrite = QCheckBox(
            "Overwrite an old run",
            toolTip="The chosen output folder holds a finished or stopped run: delete its checkpoints and start "
                    "afresh (--overwrite; asked first). Without it such a folder is refused: select that run and "
                    "Resume instead. Never remembered.")

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Routine", self.routine)
        form.addRow("Dataset", _path_row(self.dataset, self.dataset_button))
        splits = QHBoxLayout()
        splits.addWidget(self.train_split)
        splits.addWidget(self.val_split)
        form.addRow("Train / val", splits)
        form.addRow("", self.data_note)
        form.addRow("Model", self.model)
        form.addRow("Question enc.", self.question_encoder)
        form.addRow("Grounding", self.grounding)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Dropout", self.dropout)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Overfit", _optional_spin(self.overfit_check, self.overfit))
        form.addRow("Max steps", _optional_spin(self.max_steps_check, self.max_steps))
        form.addRow("Threads", self.threads)
        form.addRow("Extra args", self.extra)
        form.addRow("Output", _path_row(self.out, self.out_button))
        form.addRow("", self.overwrite)
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label and label.widget() and field and (field.widget() or field.layout()):
                tip_owner = field.widget() or field.layout().itemAt(0).widget()
                label.widget().setToolTip(tip_owner.toolTip())

        self._fill_models()
        self.load_settings()
        self.routine.currentIndexChanged.connect(self._on_routine)
        self.model.currentIndexChanged.connect(self._update_enabled)
        self.dataset_button.clicked.connect(self._choose_dataset)
        self.dataset.textEdited.connect(self._dataset_edited)  # the user's typing, not setText
        self.out_button.clicked.connect(self._choose_out)
        for edit in (self.dataset, self.train_split, self.val_split, self.extra, self.out):
            edit.textChanged.connect(self._edited)
        for box in (self.model, self.question_encoder, self.optimizer, self.device, self.precision):
            box.currentIndexChanged.connect(self._edited)
        for spin in (self.epochs, self.batch_size, self.lr, self.dropout, self.overfit, self.max_steps, self.threads,
                     self.grounding):
            spin.valueChanged.connect(self._edited)
        for check in (self.overfit_check, self.max_steps_check):
            check.toggled.connect(self._edited)

    # -- values --------------------------------------------------------------------------------

    @property
    def kind(self) -> ModelKind:
        return ModelKind(self.routine.currentData())

    def set_kind(self, kind: str) -> None:
        self.routine.setCurrentIndex(max(0, self.routine.findData(kind)))

    def options(self, out: str) -> TrainingOptions:
        """The fields as options, writing checkpoints to ``out``."""
        return TrainingOptions(
            kind=self.kind,
            data=self.dataset.text().strip(),
            out=out,
            train_split=self.train_split.text().strip() or "train",
            val_split=self.val_split.text().strip() or "val",
            model=self.model.currentText(),
            question_encoder=self.question_encoder.currentText(),
            grounding_weight=self.grounding.value(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            optimizer=self.optimizer.currentText(),
            dropout=self.dropout.value(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            overfit=self.overfit.value() if self.overfit_check.isChecked() else None,
            max_steps=self.max_steps.value() if self.max_steps_check.isChecked() else None,
            threads=self.threads.value() or None,
            extra=self.extra.text().strip(),
        )

    def data_problem(self) -> str | None:
        """Why the routine cannot train on the chosen dataset and splits, or None."""
        options = self.options(out="")
        return dataset_problem(self.kind, options.data, (options.train_split, options.val_split), options.extra)

    def set_dataset(self, path: str | None) -> None:
        """The app's open dataset: fills the field unless the user chose another one, and only when it
        has the chosen splits (a folder of photos has none); else the Shapes world, when the field has
        no usable dataset yet."""
        if not path or (self._dataset_chosen and self.dataset.text().strip()):
            return
        if self._problem_with(path) is None:
            self.dataset.setText(path)
            self._dataset_chosen = False
        elif self.data_problem() is not None:
            shapes = str(default_shapes_root())
            if self._problem_with(shapes) is None:
                self.dataset.setText(shapes)
                self._dataset_chosen = False

    def _problem_with(self, path: str) -> str | None:
        options = self.options(out="")
        return dataset_problem(self.kind, path, (options.train_split, options.val_split), options.extra)

    # -- settings ------------------------------------------------------------------------------

    def load_settings(self) -> None:
        s = self._settings
        self._loading = True
        try:
            self.set_kind(str(s.value(f"{GROUP}/routine", ModelKind.VQA.value)))
            self._fill_models()
            self.dataset.setText(str(s.value(f"{GROUP}/dataset", "")))
            self._dataset_chosen = _flag(s.value(f"{GROUP}/dataset_chosen", False))
            self.train_split.setText(str(s.value(f"{GROUP}/train_split", "train")))
            self.val_split.setText(str(s.value(f"{GROUP}/val_split", "val")))
            self.question_encoder.setCurrentText(str(s.value(f"{GROUP}/question_encoder", "lstm")))
            self.optimizer.setCurrentText(str(s.value(f"{GROUP}/optimizer", "adam")))
            self.device.setCurrentText(str(s.value(f"{GROUP}/device", "auto")))
            self.precision.setCurrentText(str(s.value(f"{GROUP}/precision", "auto")))
            for name, spin in self._spins().items():
                spin.setValue(_number(s.value(f"{GROUP}/{name}"), spin.value()))
            self.overfit_check.setChecked(_flag(s.value(f"{GROUP}/overfit_on", False)))
            self.max_steps_check.setChecked(_flag(s.value(f"{GROUP}/max_steps_on", False)))
            self.extra.setText(str(s.value(f"{GROUP}/extra", "")))
        finally:
            self._loading = False
        self._update_enabled()
        shapes = str(default_shapes_root())
        if not self.dataset.text().strip() and self._problem_with(shapes) is None:
            self.dataset.setText(shapes)  # a first run: the Shapes world, which has train and val
        self._show_data_problem()

    def save_settings(self) -> None:
        s = self._settings
        s.setValue(f"{GROUP}/routine", self.kind.value)
        s.setValue(f"{GROUP}/{self.kind}_model", self.model.currentText())
        s.setValue(f"{GROUP}/dataset", self.dataset.text().strip())
        s.setValue(f"{GROUP}/dataset_chosen", self._dataset_chosen)
        s.setValue(f"{GROUP}/train_split", self.train_split.text().strip())
        s.setValue(f"{GROUP}/val_split", self.val_split.text().strip())
        s.setValue(f"{GROUP}/question_encoder", self.question_encoder.currentText())
        s.setValue(f"{GROUP}/optimizer", self.optimizer.currentText())
        s.setValue(f"{GROUP}/device", self.device.currentText())
        s.setValue(f"{GROUP}/precision", self.precision.currentText())
        for name, spin in self._spins().items():
            s.setValue(f"{GROUP}/{name}", spin.value())
        s.setValue(f"{GROUP}/overfit_on", self.overfit_check.isChecked())
        s.setValue(f"{GROUP}/max_steps_on", self.max_steps_check.isChecked())
        s.setValue(f"{GROUP}/extra", self.extra.text().strip())
        # The output folder is not remembered: each new run gets a fresh folder
        # unless the user picks one, so no run overwrites an earlier one's checkpoints.

    def _spins(self) -> dict[str, QSpinBox | QDoubleSpinBox]:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "dropout": self.dropout,
                "overfit": self.overfit, "max_steps": self.max_steps, "threads": self.threads,
                "grounding_weight": self.grounding}

    # -- reactions -----------------------------------------------------------------------------

    def _fill_models(self) -> None:
        kind = self.kind
        models = VQA_MODELS if kind is ModelKind.VQA else CAPTION_CELLS
        default = "attention" if kind is ModelKind.VQA else "lstm"
        wanted = str(self._settings.value(f"{GROUP}/{kind}_model", default))
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(list(models))
        self.model.setCurrentText(wanted if wanted in models else default)
        self.model.blockSignals(False)
        self.model.setToolTip(f"Model (--model): {MODEL_TIPS[kind]}")

    def _on_routine(self) -> None:
        self._fill_models()
        self._edited()

    def _update_enabled(self) -> None:
        # The question encoder only exists for the VQA models that encode questions in sequence,
        # the grounding loss only for the one that attends.
        vqa = self.kind is ModelKind.VQA
        self.question_encoder.setEnabled(vqa and self.model.currentText() != "bow")
        self.grounding.setEnabled(vqa and self.model.currentText() == "attention")

    def _edited(self) -> None:
        self._update_enabled()
        if not self._loading:
            self.save_settings()
            self._show_data_problem()
            self.sig_changed.emit()

    def _show_data_problem(self) -> None:
        problem = self.data_problem()
        options = self.options(out="")
        # The note sits under the dataset field: the folder's path is left to the tooltip.
        short = problem.removeprefix(f"{Path(options.data).expanduser()}: ") if problem else ""
        self.data_note.setText(f"✗ {short}" if problem else
                               f"✓ has {options.train_split} and {options.val_split} for {self.kind.value}")
        self.data_note.setToolTip(problem or "")

    def _dataset_edited(self) -> None:
        self._dataset_chosen = True
        self.save_settings()

    def _choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder for training", self.dataset.text())
        if folder:
            self._dataset_chosen = True
            self.dataset.setText(folder)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder for the run", self.out.text())
        if folder:
            self.out.setText(folder)


def _number(value, default):
    try:
        return type(default)(float(value))
    except (TypeError, ValueError):
        return default


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("true", "1")

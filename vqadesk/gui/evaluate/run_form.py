"""The Evaluate tab's run form: which model, which split, an optional random subset; Evaluate / Cancel.

The model list is the one the Models tab offers (``ModelsPanel.entries()``:
your runs, the bundled models, downloaded hub models), grouped VQA first,
plus any checkpoint file chosen with "Checkpoint file…". The split list is the
open dataset's splits; the routine refuses a split that does not fit the model
(a captioner on a question split, a split without answers) with one line,
which the tab shows. The form only gathers choices: ``arguments()`` is the
routine's command line.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.gui.evaluate.run_process import routine_arguments
from vqadesk.gui.style import message_style

KIND_NAMES = {ModelKind.VQA: "VQA", ModelKind.CAPTIONING: "Captioning"}


class RunForm(QWidget):
    sig_evaluate = Signal()
    sig_cancel = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dataset: str | None = None
        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(14)
        self.model_box.setToolTip("The models the Models tab lists: yours, the bundled ones, downloaded hub models")
        self.checkpoint_button = QPushButton("Checkpoint file…")
        self.checkpoint_button.setToolTip("Evaluate a checkpoint file (.safetensors) not in the list")
        self.split_box = QComboBox()
        self.split_box.setToolTip("A split of the open dataset with its answers (VQA) or reference captions")
        self.subset = QCheckBox("Random subset of")
        self.subset.setToolTip("Evaluate N random questions (VQA) or images (captions); the same N and seed "
                               "give the same subset")
        self.subset_size = QSpinBox(minimum=1, maximum=10_000_000, value=500, singleStep=100)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setPrefix("seed ")
        for widget in (self.subset_size, self.seed):
            widget.setEnabled(False)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel("Choose a model and a split, then Evaluate.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        model_row = QHBoxLayout()
        model_row.setContentsMargins(0, 0, 0, 0)
        model_row.addWidget(self.model_box, 1)
        model_row.addWidget(self.checkpoint_button)
        subset_row = QHBoxLayout()
        subset_row.setContentsMargins(0, 0, 0, 0)
        subset_row.addWidget(self.subset)
        subset_row.addWidget(self.subset_size)
        subset_row.addWidget(self.seed)
        subset_row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", model_row)
        form.addRow("Split", self.split_box)
        form.addRow("", subset_row)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.status)

        self.subset.toggled.connect(self.subset_size.setEnabled)
        self.subset.toggled.connect(self.seed.setEnabled)
        self.checkpoint_button.clicked.connect(self.choose_checkpoint)
        self.evaluate_button.clicked.connect(self.sig_evaluate)
        self.cancel_button.clicked.connect(self.sig_cancel)
        self.model_box.currentIndexChanged.connect(lambda _index: self._update_button())
        self.split_box.currentIndexChanged.connect(lambda _index: self._update_button())
        self._running = False
        self._update_button()

    # -- choices -------------------------------------------------------------------------------------

    def set_models(self, entries: list[tuple[str, str, str]]) -> None:
        """(kind, name, key) of each usable model; the current choice is kept when still listed."""
        current = self.model_key()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for kind in (ModelKind.VQA, ModelKind.CAPTIONING):
            for entry_kind, name, key in entries:
                if entry_kind == kind:
                    self.model_box.addItem(f"{name} ({KIND_NAMES[kind]})", key)
                    self.model_box.setItemData(self.model_box.count() - 1, key, Qt.ItemDataRole.ToolTipRole)
        if current is not None:
            self._select_key(current)
        self.model_box.blockSignals(False)
        self._update_button()

    def add_checkpoint(self, path: str) -> None:
        if not self._select_key(path):
            self.model_box.addItem(f"Checkpoint: {path.rsplit('/', 1)[-1]}", path)
            self.model_box.setItemData(self.model_box.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            self.model_box.setCurrentIndex(self.model_box.count() - 1)

    def choose_checkpoint(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Evaluate a checkpoint", "", "Checkpoints (*.safetensors)")
        if path:
            self.add_checkpoint(path)

    def _select_key(self, key: str) -> bool:
        index = self.model_box.findData(key)
        if index >= 0:
            self.model_box.setCurrentIndex(index)
        return index >= 0

    def set_dataset(self, root: str | None, split_names: list[str], shown: str | None = None) -> None:
        """The open dataset's splits (the browser's split chosen first)."""
        current = self.split_box.currentText()
        self.dataset = root
        self.split_box.clear()
        self.split_box.addItems(split_names)
        for wanted in (current, shown):
            if wanted and wanted in split_names:
                self.split_box.setCurrentText(wanted)
                break
        self._update_button()

    def model_key(self) -> str | None:
        return self.model_box.currentData()

    def split(self) -> str:
        return self.split_box.currentText()

    def arguments(self, out_root: str | None = None) -> list[str]:
        subset = self.subset_size.value() if self.subset.isChecked() else None
        return routine_arguments(self.model_key() or "", self.dataset or "", self.split(), subset,
                                 self.seed.value(), out_root)

    # -- running -------------------------------------------------------------------------------------

    def set_running(self, running: bool) -> None:
        self._running = running
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the routine says how many
        self._update_button()

    def show_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.show_status(text)

    def show_status(self, text: str, kind: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(message_style(kind))

    def _update_button(self) -> None:
        ready = self.model_key() is not None and bool(self.split()) and self.dataset is not None
        self.evaluate_button.setEnabled(ready and not self._running)
        for widget in (self.model_box, self.split_box, self.checkpoint_button, self.subset):
            widget.setEnabled(not self._running)
        if not self._running:
            self.evaluate_button.setToolTip("" if ready else "Open a dataset and choose a model first")

"""The Batch tab's form: which photos, captions or questions, which model and settings, where the results go.

It only gathers choices; ``settings()`` turns them into the engine's
``BatchSettings`` (raising its one-line ``BatchSettingsError`` for an empty
question list), ``source()`` into a ``BatchSource``. The model list offers the
model in use of the chosen kind first, then every model the Models tab lists
of that kind; picking another one asks the window to load it as the active
model (``sig_use_model``), since jobs run on the inference process's active
models. The results file defaults to ``batches/`` in the user data folder,
named after the photos and the kind; its progress file lies beside it
(``NAME.progress.jsonl``), which is what ``vqadesk predict … --out NAME``
reads to resume the same job.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import DatasetSplit
from vqadesk.engine.torch_free.batch.records import CAPTIONS, VQA, BatchSettings
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.gui.batch.sources import FOLDER, SELECTION, SPLIT, BatchSource
from vqadesk.gui.count_suffix import agree_suffix
from vqadesk.gui.explore.hub_models import short_model_name
from vqadesk.paths import user_data_dir
from vqadesk.text.counts import plural

MAX_CAPTIONS = 5
RESULTS_FOLDER = "batches"
_KINDS = {CAPTIONS: ModelKind.CAPTIONING, VQA: ModelKind.VQA}


class BatchSetupForm(QWidget):
    sig_use_model = Signal(str, str)  # kind, key: load it as the active model
    sig_changed = Signal()  # a choice changed (the panel re-checks what Start would do)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._split: DatasetSplit | None = None
        self._selection: tuple[DatasetSplit, list[int]] | None = None
        self._active: dict[ModelKind, str | None] = dict.fromkeys(ModelKind)  # keys of the models in use
        self._listed: list[tuple[str, str, str]] = []  # (kind, name, key) from the Models tab
        self._out_chosen = False  # the user picked the results file: keep it

        self.source_box = QComboBox()
        self.source_box.setToolTip("Which photos: a folder (any file names), the split the browser shows, "
                                   "or the photos selected in the browser")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Folder of photos")
        self.folder_button = QPushButton("Choose…")
        self.recursive = QCheckBox("Subfolders too")
        self.recursive.setToolTip("Also caption the photos in the folder's subfolders (keyed by their path)")
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        folder_row.addWidget(self.recursive)
        self.folder_widget = QWidget()
        self.folder_widget.setLayout(folder_row)

        self.kind_box = QComboBox()
        self.kind_box.addItem("Captions", CAPTIONS)
        self.kind_box.addItem("Questions (VQA)", VQA)
        self.model_box = QComboBox()
        self.model_box.setToolTip("The model in use, or another listed in the Models tab (picking one loads it)")
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(16)

        self.beam = QSpinBox(minimum=1, maximum=10, value=3)
        self.beam.setPrefix("beam ")
        self.beam.setToolTip("Beam width: 1 is greedy decoding; wider beams search more captions")
        self.count = QSpinBox(minimum=1, maximum=MAX_CAPTIONS, value=1)
        agree_suffix(self.count, "caption", " per photo")
        self.caption_options = caption_options = QWidget()
        caption_row = QHBoxLayout(caption_options)
        caption_row.setContentsMargins(0, 0, 0, 0)
        caption_row.addWidget(self.beam)
        caption_row.addWidget(self.count)
        caption_row.addStretch(1)
        self.questions = QPlainTextEdit()
        self.questions.setPlaceholderText("One question per line, e.g.\nis there a person?\nhow many cars are there?")
        self.questions.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.top_k = QSpinBox(minimum=1, maximum=10, value=3)
        self.top_k.setPrefix("top ")
        self.top_k.setSuffix(" answers kept")
        self.vqa_options = vqa_options = QWidget()
        vqa_column = QFormLayout(vqa_options)
        vqa_column.setContentsMargins(0, 0, 0, 0)
        vqa_column.addRow(self.questions)
        vqa_column.addRow(self.top_k)
        vqa_options.hide()  # one kind's options at a time, each as tall as it needs
        self.options = QWidget()
        options_column = QVBoxLayout(self.options)
        options_column.setContentsMargins(0, 0, 0, 0)
        options_column.addWidget(caption_options)
        options_column.addWidget(vqa_options)

        self.out_edit = QLineEdit()
        self.out_edit.setToolTip("The results file; the job's progress file lies beside it "
                                 "(NAME.progress.jsonl): the same file resumes the job, here or with vqadesk predict")
        self.out_button = QPushButton("Change…")
        out_row = QHBoxLayout()
        out_row.setContentsMargins(0, 0, 0, 0)
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.out_button)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Photos", self.source_box)
        form.addRow("", self.folder_widget)
        form.addRow("Task", self.kind_box)
        form.addRow("Model", self.model_box)
        form.addRow("", self.options)
        form.addRow("Results", out_row)

        self._fill_sources()
        self._fill_models()
        self.source_box.currentIndexChanged.connect(self._source_changed)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.model_box.activated.connect(self._model_picked)
        self.folder_button.clicked.connect(self.choose_folder)
        self.out_button.clicked.connect(self.choose_out)
        self.out_edit.textEdited.connect(self._out_edited)
        for signal in (self.folder_edit.textChanged, self.recursive.toggled, self.beam.valueChanged,
                       self.count.valueChanged, self.top_k.valueChanged, self.questions.textChanged):
            signal.connect(self._changed)
        self._source_changed()

    # -- what the window tells the form -------------------------------------------------------------

    def set_split(self, split: DatasetSplit | None) -> None:
        """The split the browser shows (offered as a source)."""
        self._split = split
        self._fill_sources()

    def set_selection(self, split: DatasetSplit, image_ids: list[int]) -> None:
        """The browser's selection becomes the source."""
        self._split = split
        self._selection = (split, list(image_ids))
        self._fill_sources(SELECTION)

    def set_folder(self, folder: str, recursive: bool | None = None) -> None:
        """A folder becomes the source (File → Caption folder…, a Shift-drop)."""
        self.folder_edit.setText(folder)
        if recursive is not None:
            self.recursive.setChecked(recursive)
        self._fill_sources(FOLDER)

    def set_models(self, active: dict[ModelKind, str | None], listed: list[tuple[str, str, str]]) -> None:
        """The models in use (their keys) and the Models tab's list."""
        self._active = dict(active)
        self._listed = list(listed)
        self._fill_models()

    # -- what the form says ---------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.kind_box.currentData()

    @property
    def model_kind(self) -> ModelKind:
        return _KINDS[self.kind]

    def active_model(self) -> str | None:
        """The key of the model of this kind in use now (None: none loaded)."""
        return self._active.get(self.model_kind)

    def question_list(self) -> list[str]:
        return [line.strip() for line in self.questions.toPlainText().splitlines() if line.strip()]

    def source(self) -> BatchSource | None:
        """The chosen photos; None when the choice is not complete (no folder typed)."""
        chosen = self.source_box.currentData()
        if chosen == FOLDER:
            text = self.folder_edit.text().strip()
            return BatchSource.folder(text, self.recursive.isChecked()) if text else None
        if chosen == SELECTION and self._selection is not None:
            return BatchSource.of_split(*self._selection)
        if chosen == SPLIT and self._split is not None:
            return BatchSource.of_split(self._split)
        return None

    def settings(self, source: BatchSource) -> BatchSettings:
        """The job's settings; ``BatchSettingsError`` (one line) when they cannot make a job."""
        return BatchSettings(
            kind=self.kind, model=self.active_model() or "", beam=self.beam.value(),
            num_captions=self.count.value(), top_k=self.top_k.value(),
            questions=tuple(self.question_list()) if self.kind == VQA else (),
            root=str(source.root), recursive=source.recursive,
        )

    def out_path(self) -> Path | None:
        text = self.out_edit.text().strip()
        return Path(text) if text else None

    # -- reacting ---------------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos to caption", self.folder_edit.text())
        if folder:
            self.set_folder(folder)

    def choose_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Results file", self.out_edit.text(),
                                              "Results (*.json *.jsonl *.csv)")
        if path:
            self.out_edit.setText(path)
            self._out_edited()

    def _out_edited(self) -> None:
        self._out_chosen = bool(self.out_edit.text().strip())
        self._changed()

    def _fill_sources(self, choose: str | None = None) -> None:
        current = choose or self.source_box.currentData() or FOLDER
        self.source_box.blockSignals(True)
        self.source_box.clear()
        self.source_box.addItem("A folder of photos", FOLDER)
        if self._split is not None:
            photos = plural(len(self._split.image_ids), "photo")
            self.source_box.addItem(f"The open split: {self._split.name} ({photos})", SPLIT)
        if self._selection is not None:
            split, ids = self._selection
            self.source_box.addItem(f"The browser's selection: {plural(len(ids), 'photo')} of {split.name}", SELECTION)
        index = self.source_box.findData(current)
        self.source_box.setCurrentIndex(max(index, 0))
        self.source_box.blockSignals(False)
        self._source_changed()

    def _fill_models(self) -> None:
        kind = self.model_kind
        active = self._active.get(kind)
        self.model_box.clear()
        noun = "captioner" if kind is ModelKind.CAPTIONING else "VQA model"
        if active is None:
            self.model_box.addItem(f"No {noun} loaded: pick one", None)
        else:
            self.model_box.addItem(f"In use: {short_model_name(active)}", active)
            self.model_box.setItemData(0, active, Qt.ItemDataRole.ToolTipRole)
        for listed_kind, name, key in self._listed:
            if listed_kind == kind and key != active:
                self.model_box.addItem(short_model_name(name), key)
                self.model_box.setItemData(self.model_box.count() - 1, key, Qt.ItemDataRole.ToolTipRole)
        self._changed()

    def _model_picked(self, index: int) -> None:
        key = self.model_box.itemData(index)
        if key is not None and key != self._active.get(self.model_kind):
            self.sig_use_model.emit(str(self.model_kind), key)

    def _source_changed(self) -> None:
        self.folder_widget.setVisible(self.source_box.currentData() == FOLDER)
        self._changed()

    def _kind_changed(self) -> None:
        self.caption_options.setVisible(self.kind == CAPTIONS)
        self.vqa_options.setVisible(self.kind != CAPTIONS)
        self._fill_models()

    def _changed(self) -> None:
        if not self._out_chosen:
            self.out_edit.setText(str(default_out(self.source(), self.kind)) if self.source() else "")
        self.sig_changed.emit()


def command_line(source: BatchSource, settings: BatchSettings, out: Path) -> str | None:
    """The ``vqadesk predict`` command that runs (and resumes) the same job on a folder; None for a split or
    a selection, which the command line cannot name."""
    if source.kind != FOLDER:
        return None
    words = ["vqadesk", "predict", "captions" if settings.kind == CAPTIONS else "vqa", "--images", str(source.root)]
    if settings.recursive:
        words.append("--recursive")
    words += ["--out", str(out), "--model", settings.model]
    if settings.kind == CAPTIONS:
        words += ["--beam", str(settings.beam), "--captions", str(settings.num_captions)]
    else:
        for question in settings.questions:
            words += ["--question", question]
        words += ["--top-k", str(settings.top_k)]
    return shlex.join(words)


def default_out(source: BatchSource, kind: str) -> Path:
    """``<user data>/batches/<photos>-<hash>-<kind>.json``: one results file per folder (split, selection)
    and kind. The hash of the folder's path (and of the selected ids) keeps two folders of one name apart."""
    identity = f"{source.kind}|{source.root}|{source.recursive}"
    if source.kind == FOLDER:
        name = source.root.name or "photos"
    elif source.kind == SPLIT:
        name = source.split.name
    else:
        name = f"{source.split.name}-selection"
        identity += "|" + ",".join(map(str, source.image_ids))
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-") or "photos"
    digest = hashlib.sha1(identity.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return user_data_dir() / RESULTS_FOLDER / f"{safe}-{digest}-{'captions' if kind == CAPTIONS else 'answers'}.json"

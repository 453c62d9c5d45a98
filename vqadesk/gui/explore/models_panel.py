"""The Models panel: choose the VQA model and the captioner, and read their model cards.

Lists the bundled and user models (``model_registry.list_models``, JSON only,
instant) and any checkpoint opened with *Open checkpoint…* or trained in the
Training tab. Selecting one shows its card (``engine/torch_free/model_cards.py``): the
bundled Markdown card, or one written from the checkpoint's metadata, with
its size and the device the app runs on. *Use* asks the window to load it
(``sig_use_model``); loading happens on the inference worker.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.model_cards import read_model_card
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import list_models
from vqadesk.errors import VqadeskError
from vqadesk.gui.style import message_style

_PATH_ROLE = Qt.ItemDataRole.UserRole
_KIND_ROLE = Qt.ItemDataRole.UserRole + 1
_NAME_ROLE = Qt.ItemDataRole.UserRole + 2


class ModelsPanel(QWidget):
    sig_use_model = Signal(str, str)  # kind, checkpoint path
    sig_model_added = Signal(str, str, str)  # kind, name, path (the Compare panel lists VQA ones)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.active: dict[ModelKind, str | None] = dict.fromkeys(ModelKind)  # loaded checkpoint paths
        self.device = "…"
        self.list = QListWidget()
        self.list.setToolTip("Bundled models, yours (in the user data folder) and checkpoints opened or trained")
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.card.setPlaceholderText("Select a model to read its model card.")
        self.card.document().setDefaultStyleSheet("h1 { font-size: large; } h2 { font-size: medium; }")
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Load it for the Ask panel (VQA) or the Caption panel (captioner)")
        self.use_button.setEnabled(False)
        self.open_button = QPushButton("Open checkpoint…")
        self.open_button.setToolTip("A vqadesk checkpoint: a .json file with its .safetensors beside it")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.list)
        splitter.addWidget(self.card)
        splitter.setSizes([160, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.list.currentItemChanged.connect(self._show_card)
        self.list.itemDoubleClicked.connect(lambda _item: self._use())
        self.use_button.clicked.connect(self._use)
        self.open_button.clicked.connect(self.choose_file)
        self.refresh()

    def refresh(self) -> None:
        """List the named models again (a training run may have added one)."""
        for info in list_models():
            self.add_model(info.kind, info.name, str(info.path), source=info.source)

    def add_model(self, kind: str, name: str, path: str, *, source: str = "file") -> QListWidgetItem:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_PATH_ROLE) == path:
                return item
        item = QListWidgetItem()
        item.setData(_PATH_ROLE, path)
        item.setData(_KIND_ROLE, kind)
        item.setToolTip(f"{path} ({source})")
        item.setData(_NAME_ROLE, name)
        self.list.addItem(item)
        self._label(item)
        self.sig_model_added.emit(kind, name, path)
        return item

    def set_active(self, kind: str, path: str | None, device: str) -> None:
        """Mark what is loaded now (the window calls this after every load)."""
        self.active[kind] = path
        self.device = device
        for row in range(self.list.count()):
            self._label(self.list.item(row))
        current = self.list.currentItem()
        if current is not None:
            self._show_card(current, None)

    def entries(self) -> list[tuple[str, str, str]]:
        """(kind, name, path) of every listed model."""
        items = [self.list.item(row) for row in range(self.list.count())]
        return [(i.data(_KIND_ROLE), i.data(_NAME_ROLE), i.data(_PATH_ROLE)) for i in items]

    def model_names(self) -> list[str]:
        return [self.list.item(row).data(_NAME_ROLE) for row in range(self.list.count())]

    def select_path(self, path: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(_PATH_ROLE) == path:
                self.list.setCurrentRow(row)
                return

    def _label(self, item: QListWidgetItem) -> None:
        kind, path = item.data(_KIND_ROLE), item.data(_PATH_ROLE)
        name = item.data(_NAME_ROLE)
        in_use = _same_file(self.active.get(kind), path)
        item.setData(Qt.ItemDataRole.DisplayRole, f"{name}  —  {ModelKind(kind).noun}{'  (in use)' if in_use else ''}")
        font = item.font()
        font.setBold(in_use)
        item.setFont(font)

    def _show_card(self, item: QListWidgetItem | None, _previous) -> None:
        self.use_button.setEnabled(item is not None)
        if item is None:
            self.card.clear()
            return
        try:
            card = read_model_card(item.data(_PATH_ROLE))
        except (VqadeskError, OSError) as exc:
            self.card.setPlainText(f"Cannot read this checkpoint:\n{exc}")
            self.use_button.setEnabled(False)
            return
        in_use = _same_file(self.active.get(card.kind), str(card.path))
        footer = (
            f"\n\n---\n\n**File:** `{card.path}` · **size** {card.size_bytes / 2**20:.1f} MB"
            + (f" · **parameters** {card.parameters:,}" if card.parameters else "")
            + f" · **runs on** {self.device}" + (" · **in use**" if in_use else "")
        )
        if card.knows_only_shapes:
            footer += "\n\nTrained on the Shapes world only: it knows nothing about real photos."
        self.card.setMarkdown(card.markdown + footer)

    def _use(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.sig_use_model.emit(item.data(_KIND_ROLE), item.data(_PATH_ROLE))

    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open a vqadesk checkpoint", str(Path.home()), "vqadesk checkpoints (*.json);;All files (*)"
        )
        if path:
            self.open_checkpoint(path)

    def open_checkpoint(self, path: str) -> bool:
        """List a checkpoint file (its kind read from the JSON) and select it; False with a message if it is not one."""
        try:
            card = read_model_card(path)
        except (VqadeskError, OSError) as exc:
            self.show_message(str(exc), "error")
            return False
        self.show_message("")
        item = self.add_model(card.kind, Path(path).stem if Path(path).stem not in ("best", "last")
                              else f"{Path(path).parent.name}/{Path(path).stem}", str(Path(path)))
        self.list.setCurrentItem(item)
        return True

    def show_message(self, text: str, kind: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(message_style(kind) if kind else "")
        self.message.setVisible(bool(text))


def _same_file(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b

"""The Models panel: choose the VQA model and the captioner, read their cards, download pretrained ones.

Three groups:

* **Bundled and yours**: the bundled and user models (``model_registry.list_models``, JSON only,
  instant), checkpoints opened with *Open checkpoint…* or trained in the Training tab, and
  transformers folders loaded by path;
* **Hugging Face cache**: pretrained models already downloaded (``hub_models.cached_models``),
  looked for again whenever the panel is shown (a terminal's ``vqadesk models download`` counts);
* **Catalogue**: the recommended Hub models (``engine/torch_free/hub/catalogue.py``), each with its
  kind, download size and licence, marked downloaded or not.

Selecting one shows its card: the bundled Markdown card or one written from a checkpoint's
metadata (``engine/torch_free/model_cards.py``), or for a pretrained model what it is, its licence,
what it costs on disk and in memory and the exact commands (``hub_models``). *Use this model* asks
the window to load it (``sig_use_model``: a path, or ``hf:ORG/NAME``); loading happens in the
inference process, and ``show_loading`` says meanwhile that it is on its way. *Download…* runs the
download flow (``download_flow.py``); a finished download lists the model under the cache.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.hub.catalogue import CATALOGUE, catalogue_entry
from vqadesk.engine.torch_free.hub.references import parse_reference, resolve_pretrained
from vqadesk.engine.torch_free.model_cards import read_model_card
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import list_models
from vqadesk.errors import VqadeskError
from vqadesk.gui.explore.download_flow import DownloadFlow
from vqadesk.gui.explore.hub_models import (
    CachedModel,
    cached_card,
    cached_models,
    catalogue_card,
    folder_card,
    format_bytes,
    is_downloaded,
    same_model,
)
from vqadesk.gui.explore.model_download import ModelDownloader
from vqadesk.gui.explore.model_rows import DETAIL_ROLE, TwoLineDelegate
from vqadesk.gui.style import message_style

_KEY_ROLE = Qt.ItemDataRole.UserRole  # a checkpoint path, a folder, or hf:ORG/NAME
_KIND_ROLE = Qt.ItemDataRole.UserRole + 1
_NAME_ROLE = Qt.ItemDataRole.UserRole + 2

OWN, CACHE, CATALOGUE_GROUP = "own", "cache", "catalogue"
_GROUP_TITLES = {OWN: "Bundled and yours", CACHE: "Downloaded (Hugging Face cache)",
                 CATALOGUE_GROUP: "Catalogue: pretrained models on the Hugging Face Hub"}


class ModelsPanel(QWidget):
    sig_use_model = Signal(str, str)  # kind, checkpoint path, folder or hf:ORG/NAME
    sig_model_added = Signal(str, str, str)  # kind, name, path (the Compare panel lists VQA ones)
    sig_downloaded = Signal(str)  # hf:ORG/NAME, now in the cache

    def __init__(self, parent: QWidget | None = None, *, downloader: ModelDownloader | None = None):
        super().__init__(parent)
        self.active: dict[ModelKind, str | None] = dict.fromkeys(ModelKind)  # keys of the loaded models
        self.device = "…"
        self.cached: dict[str, CachedModel] = {}  # reference text -> the cached model
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setItemDelegate(TwoLineDelegate(self.tree))
        self.tree.setToolTip("Bundled models, yours, pretrained models downloaded from the Hugging Face Hub, "
                             "and the catalogue of those you can download")
        self.groups: dict[str, QTreeWidgetItem] = {}
        for group, title in _GROUP_TITLES.items():
            item = QTreeWidgetItem(self.tree, [title])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            item.setExpanded(True)
            self.groups[group] = item
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.card.setPlaceholderText("Select a model to read its model card.")
        self.card.document().setDefaultStyleSheet("h1 { font-size: large; } h2 { font-size: medium; }")
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Load it for the Ask panel (VQA) or the Caption panel (captioner)")
        self.use_button.setEnabled(False)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download the selected catalogue model (its size is shown before anything "
                                        "is fetched)")
        self.download_button.setEnabled(False)
        self.open_button = QPushButton("Open checkpoint…")
        self.open_button.setToolTip("A vqadesk checkpoint: a .json file with its .safetensors beside it")
        self.download_flow = DownloadFlow(downloader, self)
        self.loading = QWidget()
        self.loading_label = QLabel()
        self.loading_label.setWordWrap(True)
        loading_bar = QProgressBar()
        loading_bar.setRange(0, 0)
        loading_bar.setMaximumWidth(90)
        loading_bar.setMaximumHeight(12)
        loading_layout = QHBoxLayout(self.loading)
        loading_layout.setContentsMargins(0, 0, 0, 0)
        loading_layout.addWidget(self.loading_label, 1)
        loading_layout.addWidget(loading_bar)
        self.loading.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.use_button)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.card)
        splitter.setSizes([330, 270])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.download_flow)
        layout.addWidget(self.loading)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.tree.currentItemChanged.connect(self._show_card)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.use_button.clicked.connect(self._use)
        self.download_button.clicked.connect(self.start_download)
        self.open_button.clicked.connect(self.choose_file)
        self.download_flow.sig_busy_changed.connect(lambda _busy: self._update_buttons())
        self.download_flow.sig_downloaded.connect(self._downloaded)
        self.refresh()

    # -- the lists ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the named models again (a training run may have added one) and the pretrained ones."""
        for info in list_models():
            self.add_model(info.kind, info.name, str(info.path), source=info.source)
        self.refresh_hub()

    def refresh_hub(self) -> None:
        """Look in the Hugging Face cache again: the cache group and the catalogue's marks follow."""
        current = self._selection()
        found = {model.reference.text: model for model in cached_models()}
        new = [model for key, model in found.items() if key not in self.cached]
        self.cached = found
        cache_group = self.groups[CACHE]
        cache_group.takeChildren()
        for key, model in found.items():
            item = self._new_item(cache_group, key, model.source.kind, model.title)
            item.setToolTip(0, f"{key}\n{model.source.folder}")
        if not found:
            empty = QTreeWidgetItem(cache_group, ["None yet: download one from the catalogue below"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
        catalogue_group = self.groups[CATALOGUE_GROUP]
        catalogue_group.takeChildren()
        for entry in CATALOGUE:
            item = self._new_item(catalogue_group, entry.reference_text, entry.kind, entry.title)
            item.setToolTip(0, f"{entry.repo_id}: {entry.summary}")
        self._relabel()
        self._select(current)
        for model in new:
            self.sig_model_added.emit(model.source.kind, model.title, model.reference.text)

    def add_model(self, kind: str, name: str, path: str, *, source: str = "file") -> QTreeWidgetItem:
        """List a checkpoint (or transformers folder) under *Bundled and yours*, once."""
        group = self.groups[OWN]
        for row in range(group.childCount()):
            if group.child(row).data(0, _KEY_ROLE) == path:
                return group.child(row)
        item = self._new_item(group, path, kind, name)
        item.setToolTip(0, f"{path} ({source})")
        self._label(item)
        self.sig_model_added.emit(kind, name, path)
        return item

    def set_active(self, kind: str, key: str | None, device: str) -> None:
        """Mark what is loaded now (the window calls this after every load): a path or ``hf:ORG/NAME``."""
        self.active[ModelKind(kind)] = key
        self.device = device
        self._relabel()
        current = self.tree.currentItem()
        if current is not None:
            self._show_card(current, None)

    def entries(self) -> list[tuple[str, str, str]]:
        """(kind, name, key) of every model that can be used now: yours, bundled and downloaded."""
        return [(item.data(0, _KIND_ROLE), item.data(0, _NAME_ROLE), item.data(0, _KEY_ROLE))
                for group in (OWN, CACHE) for item in self._items(group)]

    def select_path(self, path: str) -> None:
        """Select the usable model whose key is ``path`` (a path or ``hf:ORG/NAME``)."""
        self._select((OWN, path)) or self._select((CACHE, path))

    def select_catalogue(self, repo_id: str) -> None:
        """Select the catalogue's entry for ``repo_id`` (the Ask and Caption panels' *Get …* offer)."""
        entry = catalogue_entry(repo_id)
        if entry is not None:
            self._select((CATALOGUE_GROUP, entry.reference_text))

    def catalogue_labels(self) -> list[str]:
        """Each catalogue row's two lines, joined by a newline."""
        return [_row_text(item) for item in self._items(CATALOGUE_GROUP)]

    def cached_labels(self) -> list[str]:
        """Each cached model's two lines, joined by a newline."""
        return [_row_text(item) for item in self._items(CACHE)]

    # -- loading and downloading ----------------------------------------------------------------

    def show_loading(self, text: str) -> None:
        """A line with a busy bar while a model loads in the inference process; "" hides it."""
        self.loading_label.setText(text)
        self.loading.setVisible(bool(text))

    def start_download(self) -> None:
        """*Download…*: the selected catalogue model, through the download flow (size first, then the yes)."""
        item = self.tree.currentItem()
        entry = self._catalogue_entry(item) if self._group(item) == CATALOGUE_GROUP else None
        if entry is not None and not self.download_flow.busy:
            self.show_message("")
            self.download_flow.start(entry)

    def _downloaded(self, reference: str) -> None:
        self.refresh_hub()
        self.sig_downloaded.emit(reference)

    def shutdown(self) -> None:
        self.download_flow.shutdown()

    # -- one item ---------------------------------------------------------------------------------

    def _new_item(self, group: QTreeWidgetItem, key: str, kind: str, name: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(group)
        item.setData(0, _KEY_ROLE, key)
        item.setData(0, _KIND_ROLE, str(kind))
        item.setData(0, _NAME_ROLE, name)
        return item

    def _label(self, item: QTreeWidgetItem) -> None:
        key, kind, name, group = item.data(0, _KEY_ROLE), ModelKind(item.data(0, _KIND_ROLE)), \
            item.data(0, _NAME_ROLE), self._group(item)
        in_use = group != CATALOGUE_GROUP and same_model(self.active.get(kind), key)
        detail = None
        if group == CATALOGUE_GROUP:
            entry = self._catalogue_entry(item)
            state = "✓ downloaded" if is_downloaded(entry) else f"{format_bytes(entry.download_bytes)} download"
            text = f"{name} — {state}"
            detail = f"{kind.noun} · {entry.licence} · {entry.summary}"
        elif group == CACHE:
            model = self.cached[key]
            text = name
            detail = f"{kind.noun} · {format_bytes(model.size_bytes)} on disk" + (
                f" · {key}" if name != key else "")
        else:
            text = f"{name}  —  {kind.noun}"
        item.setText(0, text + ("  (in use)" if in_use else ""))
        item.setData(0, DETAIL_ROLE, detail)
        font = QFont(item.font(0))
        font.setBold(in_use)
        item.setFont(0, font)

    def _relabel(self) -> None:
        for group in self.groups:
            for item in self._items(group):
                self._label(item)

    def _show_card(self, item: QTreeWidgetItem | None, _previous) -> None:
        group = self._group(item)
        self._update_buttons()
        if group is None:
            self.card.clear()
            return
        key, kind = item.data(0, _KEY_ROLE), ModelKind(item.data(0, _KIND_ROLE))
        in_use = same_model(self.active.get(kind), key)
        if group == CATALOGUE_GROUP:
            entry = self._catalogue_entry(item)
            self.card.setMarkdown(catalogue_card(entry, downloaded=is_downloaded(entry)))
        elif group == CACHE:
            self.card.setMarkdown(cached_card(self.cached[key], device=self.device, in_use=in_use))
        elif Path(key).is_dir():
            try:
                source = resolve_pretrained(key)
            except (VqadeskError, OSError) as exc:
                self.card.setPlainText(f"Cannot use this folder:\n{exc}")
                self.use_button.setEnabled(False)
                return
            self.card.setMarkdown(folder_card(source, device=self.device, in_use=in_use))
        else:
            self._show_checkpoint_card(key)

    def _show_checkpoint_card(self, path: str) -> None:
        try:
            card = read_model_card(path)
        except (VqadeskError, OSError) as exc:
            self.card.setPlainText(f"Cannot read this checkpoint:\n{exc}")
            self.use_button.setEnabled(False)
            return
        in_use = same_model(self.active.get(card.kind), str(card.path))
        footer = (
            f"\n\n---\n\n**File:** `{card.path}` · **size** {card.size_bytes / 2**20:.1f} MB"
            + (f" · **parameters** {card.parameters:,}" if card.parameters else "")
            + f" · **runs on** {self.device}" + (" · **in use**" if in_use else "")
        )
        if card.knows_only_shapes:
            footer += "\n\nTrained on the Shapes world only: it knows nothing about real photos."
        self.card.setMarkdown(card.markdown + footer)

    def _update_buttons(self) -> None:
        item = self.tree.currentItem()
        group = self._group(item)
        downloadable = False
        usable = group in (OWN, CACHE)
        if group == CATALOGUE_GROUP:
            entry = self._catalogue_entry(item)
            usable = is_downloaded(entry)
            downloadable = not usable
        self.use_button.setEnabled(usable)
        self.download_button.setEnabled(downloadable and not self.download_flow.busy)

    def _use(self) -> None:
        item = self.tree.currentItem()
        if self._group(item) is not None and self.use_button.isEnabled():
            self.download_flow.clear_message()
            self.show_message("")
            self.sig_use_model.emit(item.data(0, _KIND_ROLE), item.data(0, _KEY_ROLE))

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if self.use_button.isEnabled():
            self._use()
        elif self.download_button.isEnabled():
            self.start_download()

    # -- selection helpers ------------------------------------------------------------------------

    def _group(self, item: QTreeWidgetItem | None) -> str | None:
        """The group of a model's item; None for a group's own row, a placeholder or nothing."""
        if item is None or item.parent() is None or item.data(0, _KEY_ROLE) is None:
            return None
        return next(group for group, top in self.groups.items() if top is item.parent())

    @staticmethod
    def _catalogue_entry(item: QTreeWidgetItem):
        return catalogue_entry(parse_reference(item.data(0, _KEY_ROLE)).repo_id)

    def _items(self, group: str) -> list[QTreeWidgetItem]:
        top = self.groups[group]
        children = (top.child(row) for row in range(top.childCount()))
        return [child for child in children if child.data(0, _KEY_ROLE) is not None]

    def _selection(self) -> tuple[str, str] | None:
        item = self.tree.currentItem()
        group = self._group(item)
        return None if group is None else (group, item.data(0, _KEY_ROLE))

    def _select(self, wanted: tuple[str, str] | None) -> bool:
        if wanted is None:
            return False
        group, key = wanted
        for item in self._items(group):
            if item.data(0, _KEY_ROLE) == key:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
                return True
        return False

    # -- checkpoints --------------------------------------------------------------------------------

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
        self.tree.setCurrentItem(item)
        return True

    def show_message(self, text: str, kind: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(message_style(kind) if kind else "")
        self.message.setVisible(bool(text))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.refresh_hub()  # a model downloaded meanwhile (a terminal, another window) shows up


def _row_text(item: QTreeWidgetItem) -> str:
    detail = item.data(0, DETAIL_ROLE)
    return item.text(0) + (f"\n{detail}" if detail else "")

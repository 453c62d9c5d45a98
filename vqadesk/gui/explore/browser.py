"""The browser panel: a lazily filled thumbnail grid with split and text filters.

Thumbnails are made by pool threads only for the rows the view paints
(``background/thumbnails.LazyThumbnails``: started after the paint, taken
back when scrolled past, cached on disk), so a 40k-image split opens at once
and scrolls smoothly; until its thumbnail arrives a row shows a neutral
placeholder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import Dataset, DatasetSplit
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.split_process import open_split_via_child
from vqadesk.gui.background.thumbnails import LazyThumbnails
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.text.counts import plural

THUMBNAIL_SIZE = 96


class ThumbnailModel(QAbstractListModel):
    """Image ids of one split, with thumbnails made on demand in the background (``LazyThumbnails``)."""

    def __init__(self, parent: QWidget | None = None, *, thumbnail_size: int = THUMBNAIL_SIZE):
        super().__init__(parent)
        self._split: DatasetSplit | None = None
        self._ids: list[int] = []
        self._rows: dict[int, int] | None = None  # image id -> row, made when first needed
        self._labels: dict[int, str] = {}  # shown instead of the id (dropped photos: their captions)
        self.thumbnails = LazyThumbnails(thumbnail_size, self)
        self.thumbnails.sig_ready.connect(self._thumbnail_ready)

    def set_images(self, split: DatasetSplit | None, image_ids: list[int]) -> None:
        self.beginResetModel()
        if split is not self._split:
            self.thumbnails.clear()
            self._labels.clear()
        self._split = split
        self._ids = list(image_ids)
        self._rows = None
        self.endResetModel()

    def set_labels(self, labels: dict[int, str]) -> None:
        """Text under some thumbnails instead of their ids."""
        self._labels = dict(labels)
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1), [Qt.ItemDataRole.DisplayRole])

    def image_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, image_id: int) -> int | None:
        if self._rows is None:
            self._rows = {image_id: row for row, image_id in enumerate(self._ids)}
        return self._rows.get(image_id)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - Qt names it; QModelIndex() is an immutable invalid index
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._split is None:
            return None
        image_id = self._ids[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._labels.get(image_id, str(image_id))
        if role == Qt.ItemDataRole.ToolTipRole:
            name = self._split.coco.image(image_id).file_name
            return f"{name}\n{self._labels[image_id]}" if image_id in self._labels else name
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.icon(image_id, self._path(image_id))
        return None

    def _path(self, image_id: int) -> Path | None:
        try:
            return self._split.coco.image_path(image_id)
        except VqadeskError:
            return None  # the viewer reports the missing file when the image is opened

    def loaded_count(self) -> int:
        return self.thumbnails.loaded_count()

    def is_busy(self) -> bool:
        """Thumbnails are being made (or are about to be)."""
        return self.thumbnails.is_busy()

    def _thumbnail_ready(self, image_id: int) -> None:
        row = self.row_of(image_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self.thumbnails.shutdown()


class BrowserPanel(QWidget):
    """Split selector, filter box and the thumbnail grid."""

    image_selected = Signal(int)
    split_changed = Signal(str)
    sig_caption_selected = Signal(list)  # image ids: the context menu's "Caption selected photos"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._dataset: Dataset | None = None
        # Splits being opened in pool threads, keyed by (dataset id, split name).
        self._opening = BackgroundTasks(self, pool=QThreadPool.globalInstance())
        self.split_box = QComboBox()
        self.split_box.setToolTip("Dataset split to browse")
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: caption words, category or image id")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Every word must match the image id, a category or a caption")
        self.count_label = QLabel("No dataset")
        self.model = ThumbnailModel(self)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.view.setGridSize(QSize(THUMBNAIL_SIZE + 10, THUMBNAIL_SIZE + 24))
        self.view.setMovement(QListView.Movement.Static)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setModel(self.model)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)  # Ctrl/Shift-click: a batch
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        top = QHBoxLayout()
        top.addWidget(self.split_box)
        top.addWidget(self.filter_edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

        # Filtering 40k captions per keystroke would stutter: wait for a pause.
        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self.split_box.currentTextChanged.connect(self._on_split)
        self.view.selectionModel().currentChanged.connect(self._on_current)

    @property
    def split(self) -> DatasetSplit | None:
        """The split shown; None until it is open (a big split opens in a pool thread)."""
        name = self.split_box.currentText()
        if self._dataset is None or not name or not self._dataset.is_open(name):
            return None
        return self._dataset.split(name)

    def set_dataset(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self.split_box.blockSignals(True)
        self.split_box.clear()
        self.split_box.addItems(dataset.split_names)
        self.split_box.setCurrentText(dataset.first_split)  # the one open_dataset opened (val before train)
        self.split_box.blockSignals(False)
        self._on_split(self.split_box.currentText())

    def set_labels(self, labels: dict[int, str]) -> None:
        self.model.set_labels(labels)

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(row))

    def selected_image_ids(self) -> list[int]:
        """The selected images (Ctrl/Shift-click), in the grid's order."""
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        return [self.model.image_id(row) for row in rows]

    def context_menu(self) -> QMenu:
        """The grid's right-click menu: caption the selected photos in the Batch tab."""
        menu = QMenu(self)
        count = len(self.selected_image_ids())
        action = menu.addAction(f"Caption selected photos ({count})…" if count else "Caption selected photos…")
        action.setEnabled(count > 0)
        action.setToolTip("Open the Batch tab on the selected photos: caption them or ask them questions")
        action.triggered.connect(lambda: self.sig_caption_selected.emit(self.selected_image_ids()))
        return menu

    def _context_menu(self, position) -> None:
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.view.viewport().mapToGlobal(position))

    def _on_split(self, name: str) -> None:
        if name and self._dataset is not None and not self._dataset.is_open(name):
            self._open_in_background(self._dataset, name)
            return
        if name:
            self.split_changed.emit(name)
        self._apply_filter()
        self.select_row(0)

    def _open_in_background(self, dataset: Dataset, name: str) -> None:
        """Read a split's files (a big one takes long the first time, then its index cache) off the GUI thread."""
        self.model.set_images(None, [])
        self.count_label.setText(f"Opening {name}…")
        self.count_label.setToolTip("")
        key = (id(dataset), name)
        if key in self._opening:
            return  # already being read; its end refreshes the view if the split is still chosen
        # A big split's JSON is parsed in a child process.
        self._opening.start(open_split_via_child, dataset, name, key=key,
                            on_done=lambda _split: self._split_opened(dataset, name),
                            on_fail=lambda message: self._split_failed(dataset, name, message))

    def _split_opened(self, dataset: Dataset, name: str) -> None:
        if dataset is self._dataset and name == self.split_box.currentText():
            self._on_split(name)

    def _split_failed(self, dataset: Dataset, name: str, message: str) -> None:
        if dataset is self._dataset and name == self.split_box.currentText():
            self.count_label.setText(f"Could not open {name} (hover for why)")
            self.count_label.setToolTip(message)

    def _apply_filter(self) -> None:
        split = self.split
        ids = split.filter_image_ids(self.filter_edit.text()) if split else []
        self.model.set_images(split, ids)
        total = len(split.image_ids) if split else 0
        shown = f"{len(ids):,} of {plural(total, 'image')}" if len(ids) != total else plural(total, "image")
        self.count_label.setText(shown if split else "No dataset")

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.image_selected.emit(self.model.image_id(current.row()))

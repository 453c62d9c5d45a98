"""The browser panel: a lazily filled thumbnail grid with split and text filters.

Thumbnails are made by pool threads only for the rows the view asks for
(``data(DecorationRole)``), so a 40k-image split opens at once and scrolls
smoothly; until its thumbnail arrives a row shows a neutral placeholder.
They are cached on disk (``data/thumbnails.py``), so the next visit is fast.

``data()`` runs inside the view's paint, so it only notes the wanted rows;
the tasks start on the next event-loop turn, after the paint. Rows asked for
in an earlier paint whose tasks have not started yet (scrolled past) are
taken back from the pool, so the threads make what is on screen now.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import Dataset, DatasetSplit
from vqadesk.data.thumbnails import cached_thumbnail
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.split_process import open_split_via_child
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.qimage import pil_to_qimage

THUMBNAIL_SIZE = 96


def make_thumbnail(path: Path, size: int) -> QImage:
    """Pool thread: ``path``'s thumbnail, from the on-disk cache or decoded (and cached)."""
    return pil_to_qimage(cached_thumbnail(path, size))


class ThumbnailModel(QAbstractListModel):
    """Image ids of one split, with thumbnails made on demand in the background."""

    def __init__(self, parent: QWidget | None = None, *, thumbnail_size: int = THUMBNAIL_SIZE):
        super().__init__(parent)
        self._split: DatasetSplit | None = None
        self._ids: list[int] = []
        self._size = thumbnail_size
        self._icons: dict[int, QIcon] = {}
        self._labels: dict[int, str] = {}  # shown instead of the id (dropped photos: their captions)
        self._pending: set[int] = set()
        self._wanted: dict[int, None] = {}  # asked for by the last paint(s), not started yet (ordered)
        self._start_timer = QTimer(self, singleShot=True, interval=0)
        self._start_timer.timeout.connect(self._start_wanted)
        self._tasks = BackgroundTasks(self, max_threads=2)  # keyed by image id
        placeholder = QPixmap(thumbnail_size, thumbnail_size)
        placeholder.fill(QColor(128, 128, 128, 60))
        self._placeholder = QIcon(placeholder)

    def set_images(self, split: DatasetSplit | None, image_ids: list[int]) -> None:
        self.beginResetModel()
        if split is not self._split:
            self._icons.clear()
            self._labels.clear()
            self._wanted.clear()
        self._split = split
        self._ids = list(image_ids)
        self.endResetModel()

    def set_labels(self, labels: dict[int, str]) -> None:
        """Text under some thumbnails instead of their ids."""
        self._labels = dict(labels)
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1), [Qt.ItemDataRole.DisplayRole])

    def image_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, image_id: int) -> int | None:
        try:
            return self._ids.index(image_id)
        except ValueError:
            return None

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
            icon = self._icons.get(image_id)
            if icon is None:
                if image_id not in self._pending:
                    self._wanted[image_id] = None
                    self._start_timer.start()
                return self._placeholder
            return icon
        return None

    def loaded_count(self) -> int:
        return len(self._icons)

    def is_busy(self) -> bool:
        """Thumbnails are being made (or are about to be)."""
        return bool(self._pending or self._wanted)

    def _start_wanted(self) -> None:
        """After the paint: drop queued tasks of rows no longer painted, start the painted ones."""
        wanted, self._wanted = self._wanted, {}
        for image_id in self._tasks.keys():
            if image_id not in wanted and self._tasks.take_back(image_id):  # queued, never started: scrolled past
                self._pending.discard(image_id)
        for image_id in wanted:
            self._request(image_id)

    def _request(self, image_id: int) -> None:
        if image_id in self._pending or self._split is None:
            return
        try:
            path = self._split.coco.image_path(image_id)
        except VqadeskError:
            return  # the viewer reports the missing file when the image is opened
        self._pending.add(image_id)
        split = self._split
        self._tasks.start(make_thumbnail, path, self._size, key=image_id,
                          on_done=lambda image, i=image_id, s=split: self._done(s, i, image),
                          on_fail=lambda _msg, i=image_id, s=split: self._done(s, i, None))

    def _done(self, split: DatasetSplit, image_id: int, image: QImage | None) -> None:
        self._pending.discard(image_id)
        if split is not self._split:
            return
        if image is None:
            pixmap = QPixmap(self._size, self._size)
            pixmap.fill(QColor(200, 60, 60, 90))  # unreadable image: a red tile
        else:
            pixmap = QPixmap.fromImage(image)
        self._icons[image_id] = QIcon(pixmap)
        row = self.row_of(image_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def shutdown(self) -> None:
        self._start_timer.stop()
        self._tasks.shutdown(2000)


class BrowserPanel(QWidget):
    """Split selector, filter box and the thumbnail grid."""

    image_selected = Signal(int)
    split_changed = Signal(str)

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
        shown = f"{len(ids):,} of {total:,} images" if len(ids) != total else f"{total:,} images"
        self.count_label.setText(shown if split else "No dataset")

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.image_selected.emit(self.model.image_id(current.row()))

"""The main window: browser | viewer | details, with menus and a status bar.

Opening a dataset (and generating the Shapes world on first launch) and
decoding images run in pool threads; the window is shown and responsive
before any of it is done. ``sig_ready`` fires once the first image is on
screen, which is when ``--screenshot`` takes its picture.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QWidget

from vqadesk import __version__
from vqadesk.data.dataset import Dataset, DatasetSplit, open_dataset
from vqadesk.data.default_dataset import ensure_shapes_world
from vqadesk.data.images import load_image
from vqadesk.gui.browser import BrowserPanel
from vqadesk.gui.details import DetailsPanel
from vqadesk.gui.qimage import pil_to_qimage
from vqadesk.gui.viewer import ImageViewer
from vqadesk.gui.workers import Task


def _open_default_or(path: str | None) -> Dataset:
    """Pool thread: open ``path``, or the Shapes world (generated if needed)."""
    return open_dataset(path if path else ensure_shapes_world())


def _decode(path: Path) -> QImage:
    return pil_to_qimage(load_image(path))


class MainWindow(QMainWindow):
    sig_ready = Signal()
    sig_dataset_changed = Signal(object)

    def __init__(self, settings: QSettings, parent: QWidget | None = None, *, restore_geometry: bool = True):
        super().__init__(parent)
        self.settings = settings
        self.dataset: Dataset | None = None
        self._pool = QThreadPool(self)
        self._tasks: set[Task] = set()
        self._image_request = 0
        self._ready_sent = False
        self.setWindowTitle("vqadesk")
        self.resize(1280, 800)

        self.browser = BrowserPanel()
        self.viewer = ImageViewer()
        self.details = DetailsPanel()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.browser, self.viewer, self.details):
            splitter.addWidget(widget)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([380, 520, 380])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self._build_menus()
        self.statusBar().showMessage("Starting…")

        self.browser.image_selected.connect(self.show_image)
        geometry = settings.value("window/geometry")
        if restore_geometry and geometry is not None:
            self.restoreGeometry(geometry)

    # -- menus -------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open dataset folder…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.setToolTip("A COCO folder (annotations/ + images), a Shapes world or a folder of photos")
        open_action.triggered.connect(self._choose_dataset)
        shapes_action = QAction("Open the &Shapes world", self)
        shapes_action.triggered.connect(lambda: self.open_dataset(None))
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (open_action, shapes_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        self.boxes_action = QAction("Object &boxes", self, checkable=True, checked=True)
        self.boxes_action.setShortcut(QKeySequence("B"))
        self.boxes_action.toggled.connect(self.viewer.set_boxes_visible)
        full_screen = QAction("&Full screen", self, checkable=True, shortcut=QKeySequence("F11"))
        full_screen.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        view_menu.addAction(self.boxes_action)
        view_menu.addAction(full_screen)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About vqadesk", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _choose_dataset(self) -> None:
        start = str(self.dataset.root) if self.dataset else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start)
        if folder:
            self.open_dataset(folder)

    def _about(self) -> None:
        import PySide6

        QMessageBox.about(
            self,
            "About vqadesk",
            f"<b>vqadesk {__version__}</b><br>Visual question answering and captioning "
            f"on COCO-style data.<br>PySide6 {PySide6.__version__}",
        )

    # -- datasets ----------------------------------------------------------
    def open_dataset(self, path: str | None) -> None:
        """Open ``path`` (None: the built-in Shapes world) in the background."""
        what = path or "the Shapes world (generated on first launch)"
        self.statusBar().showMessage(f"Opening {what}…")
        self._run(Task(_open_default_or, path), self._dataset_opened, self._dataset_failed)

    def _dataset_opened(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.settings.setValue("dataset/last", str(dataset.root))
        self.setWindowTitle(f"vqadesk — {dataset.name}")
        self.browser.set_dataset(dataset)
        splits = ", ".join(
            f"{name}: {len(s.image_ids):,} images, {s.question_count:,} questions"
            for name, s in dataset.splits.items()
        )
        self.statusBar().showMessage(f"{dataset.root} — {splits}")
        self.sig_dataset_changed.emit(dataset)

    def _dataset_failed(self, message: str) -> None:
        self.statusBar().showMessage("Could not open the dataset")
        self.viewer.show_message(f"Could not open the dataset:\n{message}")
        self.details.clear("No dataset open — use File → Open dataset folder…")
        self._send_ready()

    # -- images ------------------------------------------------------------
    def show_image(self, image_id: int) -> None:
        split = self.browser.split
        if split is None:
            return
        self._image_request += 1
        request = self._image_request
        self.details.show_image(split, image_id)
        try:
            path = split.coco.image_path(image_id)
        except Exception as exc:  # noqa: BLE001 - a VqadeskError naming the file
            self.viewer.show_message(str(exc))
            self._send_ready()
            return
        self._run(
            Task(_decode, path),
            lambda image, r=request, s=split, i=image_id: self._image_decoded(r, s, i, image),
            lambda message, r=request: self._image_failed(r, message),
        )

    def _image_decoded(self, request: int, split: DatasetSplit, image_id: int, image: QImage) -> None:
        if request != self._image_request:
            return  # a newer selection superseded this one
        self.viewer.show_image(image, split.coco.objects(image_id))
        self._send_ready()

    def _image_failed(self, request: int, message: str) -> None:
        if request == self._image_request:
            self.viewer.show_message(message)
            self._send_ready()

    # -- plumbing ----------------------------------------------------------
    def _run(self, task: Task, on_done, on_fail) -> None:
        self._tasks.add(task)
        task.signals.finished.connect(on_done)
        task.signals.failed.connect(on_fail)
        task.signals.finished.connect(lambda _r, t=task: self._tasks.discard(t))
        task.signals.failed.connect(lambda _m, t=task: self._tasks.discard(t))
        self._pool.start(task)

    def _send_ready(self) -> None:
        if not self._ready_sent:
            self._ready_sent = True
            self.sig_ready.emit()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.browser.model.shutdown()
        self._pool.clear()
        self._pool.waitForDone(3000)
        super().closeEvent(event)

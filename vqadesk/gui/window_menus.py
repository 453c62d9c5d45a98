"""The main window's menus, keyboard shortcuts, status bar, and the dialogs its menus open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QProgressBar

from vqadesk import __version__
from vqadesk.gui.style import THEMES

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow

SHORTCUTS = (
    "Ctrl+O  open a dataset folder\nCtrl+Shift+O  open photos\nEnter / Ctrl+Enter  ask\n"
    "↑ / ↓  question history\nCtrl+Shift+C  caption\nCtrl+Shift+B  caption a folder (Batch tab)\n"
    "Ctrl+E  export the history\n"
    "B  object boxes\nH  attention heatmap\nCtrl+1 / Ctrl+2  Explore / Training\nF11  full screen\n"
    "Wheel  zoom · drag  pan · double-click  fit"
)


def build_status_bar(window: MainWindow) -> None:
    """The busy indicator, the models and device in use, and the last inference's time."""
    bar = window.statusBar()
    window.busy = QProgressBar()
    window.busy.setRange(0, 0)  # indeterminate: "working"
    window.busy.setMaximumWidth(120)
    window.busy.setMaximumHeight(14)
    window.busy.hide()
    window.device_label = QLabel("device: starting…")
    window.device_label.setToolTip("Where the models run (CUDA when there is a GPU, else MPS, else the CPU) and "
                                   "their arithmetic (bf16 on CPUs and GPUs that have it, else fp32)")
    window.models_label = QLabel("models: loading…")
    window.models_label.setToolTip("The VQA model and the captioner in use (Models tab to change)")
    window.timing_label = QLabel("")
    window.timing_label.setToolTip("How long the last inference took, image loading included")
    for widget in (window.busy, window.models_label, window.device_label, window.timing_label):
        bar.addPermanentWidget(widget)
    bar.showMessage("Starting…")


def build_menus(window: MainWindow) -> None:
    """File, View, Models and Help, and the shortcuts that have no menu entry."""
    _file_menu(window)
    _view_menu(window)
    models_menu = window.menuBar().addMenu("&Models")
    open_checkpoint = QAction("&Open checkpoint…", window)
    open_checkpoint.triggered.connect(window.open_checkpoint_dialog)
    show_models = QAction("&Choose models…", window)
    show_models.triggered.connect(lambda: window.show_side_tab("Models"))
    models_menu.addActions([open_checkpoint, show_models])

    help_menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", window, shortcut=QKeySequence("F1"))
    shortcuts.triggered.connect(lambda: QMessageBox.information(window, "Keyboard shortcuts", SHORTCUTS))
    about = QAction("&About vqadesk", window)
    about.triggered.connect(lambda: show_about(window))
    help_menu.addActions([shortcuts, about])

    # Ctrl+Enter asks from anywhere in the window; Ctrl+Shift+C captions.
    for keys in ("Ctrl+Return", "Ctrl+Enter"):
        QShortcut(QKeySequence(keys), window, activated=window.ask_from_anywhere)
    QShortcut(QKeySequence("Ctrl+Shift+C"), window, activated=window.caption_panel.generate)


def _file_menu(window: MainWindow) -> None:
    file_menu = window.menuBar().addMenu("&File")
    actions = [
        ("&Open dataset folder…", QKeySequence.StandardKey.Open, lambda: choose_dataset(window),
         "A COCO folder (annotations/ + images), a Shapes world or a folder of photos"),
        ("Open &COCO dataset…", None, lambda: choose_coco_files(window),
         "A COCO annotations file (captions_*.json or instances_*.json), then the folder of its images"),
        ("Open folder of &photos…", None, lambda: choose_dataset(window), "Any folder of JPEG/PNG photos"),
        ("Open &image…", QKeySequence("Ctrl+Shift+O"), lambda: choose_image(window),
         "Open and caption one or more photos"),
        ("Open the &Shapes world", None, lambda: window.open_dataset(None), "The built-in synthetic dataset"),
        ("Caption &folder…", QKeySequence("Ctrl+Shift+B"), lambda: choose_batch_folder(window),
         "Caption (or question) every photo of a folder in the Batch tab, then review, edit and export"),
    ]
    for text, shortcut, slot, tip in actions:
        action = QAction(text, window)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        file_menu.addAction(action)
    file_menu.addSeparator()
    export = QAction("&Export history…", window, shortcut=QKeySequence("Ctrl+E"))
    export.triggered.connect(window.history_panel.choose_export)
    file_menu.addAction(export)
    file_menu.addSeparator()
    quit_action = QAction("&Quit", window, shortcut=QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(window.close)
    file_menu.addAction(quit_action)


def _view_menu(window: MainWindow) -> None:
    view_menu = window.menuBar().addMenu("&View")
    overlays = window.overlays
    window.boxes_action = QAction("Object &boxes", window, checkable=True, checked=True, shortcut=QKeySequence("B"))
    window.boxes_action.toggled.connect(overlays.boxes.setChecked)
    overlays.boxes.toggled.connect(window.boxes_action.setChecked)
    window.heatmap_action = QAction("&Attention heatmap", window, checkable=True, checked=True,
                                    shortcut=QKeySequence("H"))
    window.heatmap_action.toggled.connect(overlays.heatmap.setChecked)
    overlays.heatmap.toggled.connect(window.heatmap_action.setChecked)
    view_menu.addAction(window.boxes_action)
    view_menu.addAction(window.heatmap_action)
    view_menu.addSeparator()
    theme_menu = view_menu.addMenu("&Theme")
    window.theme_group = QActionGroup(window)
    for theme in THEMES:
        action = QAction(theme.capitalize() if theme != "system" else "Follow the system", window, checkable=True)
        action.setData(theme)
        action.triggered.connect(lambda _checked, t=theme: window.set_theme(t))
        window.theme_group.addAction(action)
        theme_menu.addAction(action)
    view_menu.addSeparator()
    full_screen = QAction("&Full screen", window, checkable=True, shortcut=QKeySequence("F11"))
    full_screen.toggled.connect(lambda on: window.showFullScreen() if on else window.showNormal())
    view_menu.addAction(full_screen)
    explore = QAction("E&xplore tab", window, shortcut=QKeySequence("Ctrl+1"))
    explore.triggered.connect(lambda: window.tabs.setCurrentIndex(0))
    training = QAction("&Training tab", window, shortcut=QKeySequence("Ctrl+2"))
    training.triggered.connect(lambda: window.tabs.setCurrentIndex(1))
    view_menu.addActions([explore, training])


def show_about(window: MainWindow) -> None:
    import sys
    from importlib import metadata

    import pyqtgraph
    import PySide6

    try:  # the installed version, read without importing torch (only the inference process does)
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "(not installed)"
    device = window.inference.models.device if window.inference.models else "not started"
    QMessageBox.about(
        window, "About vqadesk",
        f"<b>vqadesk {__version__}</b><br>Visual question answering and image captioning on COCO-style data."
        f"<br><br>Python {sys.version.split()[0]} · PySide6 {PySide6.__version__} · "
        f"pyqtgraph {pyqtgraph.__version__} · torch {torch_version}"
        f"<br>Device: {device}",
    )


def choose_dataset(window: MainWindow) -> None:
    start = str(window.dataset.root) if window.dataset else str(Path.home())
    folder = QFileDialog.getExistingDirectory(window, "Open dataset folder", start)
    if folder:
        window.open_dataset(folder)


def choose_coco_files(window: MainWindow) -> None:
    start = str(window.dataset.root) if window.dataset else str(Path.home())
    annotation_file, _ = QFileDialog.getOpenFileName(
        window, "COCO annotations file (captions_*.json or instances_*.json)", start, "COCO JSON (*.json)"
    )
    if not annotation_file:
        return
    image_dir = QFileDialog.getExistingDirectory(window, "Folder of its images", str(Path(annotation_file).parent))
    if image_dir:
        window.open_coco_files(annotation_file, image_dir)


def choose_batch_folder(window: MainWindow) -> None:
    """File → Caption folder…: the Batch tab, set up on the folder chosen."""
    start = window.batch_panel.form.folder_edit.text() or str(Path.home())
    folder = QFileDialog.getExistingDirectory(window, "Caption folder: the folder of photos", start)
    if folder:
        window.caption_folder(folder)


def choose_image(window: MainWindow) -> None:
    files, _ = QFileDialog.getOpenFileNames(
        window, "Open photos", str(Path.home()), "Images (*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff)"
    )
    if files:
        window.handle_drop(files)

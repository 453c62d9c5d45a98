"""The main window: an Explore tab (browser | viewer | Ask, Caption, Compare, Models, History)
and a Training tab, with menus, drag and drop and a status bar.

Everything slow happens off the GUI thread: opening a dataset (and
generating the Shapes world on first launch) and decoding images run in
pool threads (``workers.Task``), a big split's JSON in a child process
(``split_process``); model loading and inference run in the inference
process (``inference.InferenceClient``), so this process never imports torch
and the window shows at once. The Training tab is made in small steps while
the window is idle (``training_tab.build_in_steps``). ``sig_ready`` fires
once the first image is on screen and the models have loaded (or failed
to), which is when ``--screenshot`` takes its picture.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vqadesk import __version__
from vqadesk.data.dataset import Dataset, DatasetSplit, open_photos
from vqadesk.data.default_dataset import default_shapes_root, ensure_shapes_world
from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.model_cards import read_model_card
from vqadesk.engine.torch_free.model_registry import DEFAULT_CAPTIONER_NAME, DEFAULT_VQA_NAME
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.split_process import open_coco_files_via_child, open_dataset_via_child, stop_children
from vqadesk.gui.background.workers import Task
from vqadesk.gui.drops import classify_drop
from vqadesk.gui.explore.ask_panel import AskPanel, short_model_name
from vqadesk.gui.explore.browser import BrowserPanel
from vqadesk.gui.explore.caption_panel import CaptionPanel
from vqadesk.gui.explore.compare_panel import ComparePanel
from vqadesk.gui.explore.history_panel import HistoryPanel, history_entry
from vqadesk.gui.explore.image_context import ImageContext
from vqadesk.gui.explore.models_panel import ModelsPanel
from vqadesk.gui.explore.overlay_bar import OverlayBar
from vqadesk.gui.explore.viewer import ImageViewer
from vqadesk.gui.qimage import pil_to_qimage
from vqadesk.gui.steady_tabs import SteadyTabWidget
from vqadesk.gui.style import THEMES, apply_theme

SIDE_TABS = ("Ask", "Caption", "Compare", "Models", "History")
# While thumbnails are being made, the Training tab's next piece waits this long (ms).
TRAINING_STEP_RETRY_MS = 100


def _open_default_or(path: str | None, split: str | None) -> Dataset:
    """Pool thread: open ``path``, or the Shapes world (generated if needed), showing ``split`` first
    if it has one by that name; a big split's JSON is parsed by a child process (``split_process``),
    so it never holds this process's GIL."""
    return open_dataset_via_child(path if path else ensure_shapes_world(), split)


def _import_plotting() -> None:
    """Pool thread: import pyqtgraph and the modules built on it (~0.5-1 s) off the GUI thread."""
    import vqadesk.gui.explore.charts
    import vqadesk.gui.training.tab  # noqa: F401


def _decode(path: Path) -> QImage:
    return pil_to_qimage(load_image(path))


class MainWindow(QMainWindow):
    sig_ready = Signal()
    sig_dataset_changed = Signal(object)
    sig_models_changed = Signal(object)  # LoadedModels

    def __init__(
        self,
        settings: QSettings,
        parent: QWidget | None = None,
        *,
        restore_geometry: bool = True,
        device: str = "auto",
    ):
        super().__init__(parent)
        self.settings = settings
        self.dataset: Dataset | None = None
        self.context: ImageContext | None = None
        self.dropped: list[Path] = []
        self.dropped_captions: dict[str, object] = {}  # photo path -> CaptionPrediction
        self._pool = QThreadPool(self)
        self._tasks: set[Task] = set()
        self._image_request = 0
        self._image_shown = False
        self._models_settled = True  # until start() begins loading them (a window never started waits for none)
        self._ready_sent = False
        self._started = False
        self.last_notice: QMessageBox | None = None
        self.setWindowTitle("vqadesk")
        self.resize(1280, 800)
        self.setAcceptDrops(True)

        self.inference = InferenceClient(device, self)
        self.browser = BrowserPanel()
        self.viewer = ImageViewer()
        self.viewer.setAcceptDrops(False)  # drops go to the window (see eventFilter)
        self.overlays = OverlayBar(self.viewer)
        self.image_info = QLabel("Opening…")
        self.image_info.setWordWrap(True)
        self.image_info.setTextFormat(Qt.TextFormat.RichText)
        viewer_box = QWidget()
        viewer_layout = QVBoxLayout(viewer_box)
        viewer_layout.setContentsMargins(0, 0, 0, 0)
        viewer_layout.addWidget(self.image_info)
        viewer_layout.addWidget(self.overlays)
        viewer_layout.addWidget(self.viewer, 1)

        self.ask_panel = AskPanel(self.inference)
        self.caption_panel = CaptionPanel(self.inference)
        self.compare_panel = ComparePanel(self.inference)
        self.models_panel = ModelsPanel()
        self.history_panel = HistoryPanel()
        self.side_tabs = SteadyTabWidget()
        for panel, title in zip(
            (self.ask_panel, self.caption_panel, self.compare_panel, self.models_panel, self.history_panel), SIDE_TABS
        ):
            self.side_tabs.addTab(panel, title)

        self.explore_splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.browser, viewer_box, self.side_tabs):
            self.explore_splitter.addWidget(widget)
        self.explore_splitter.setStretchFactor(0, 2)
        self.explore_splitter.setStretchFactor(1, 3)
        self.explore_splitter.setStretchFactor(2, 3)
        self.explore_splitter.setSizes([362, 448, 470])  # three thumbnail columns at 1280 px
        self.explore_splitter.setChildrenCollapsible(False)

        # The Training tab (pyqtgraph plots) is made in steps while the window is idle, once
        # pyqtgraph is imported (or at once when it is first needed): build_training_tab.
        self.training_tab = None  # a TrainingTab once built
        self._training_steps = None  # training_tab.build_in_steps while the tab is being made
        self._plotting_imported = False
        self._plotting_pending = False  # pyqtgraph is being imported: a dataset waits for it
        self._opened_early: Dataset | None = None  # a dataset opened before pyqtgraph was imported
        self._training_timer = QTimer(self, singleShot=True, interval=0)
        self._training_timer.timeout.connect(self._training_step)
        self._training_dataset: str | None = None
        # An answer's heatmap is laid over the image on the event-loop turn after the answer's bars
        # are drawn: each QGraphicsView's scene update repaints the window synchronously, and the two
        # in one turn made one 30-40 ms stall (1 ms: a timer, so a later turn; the newest answer wins).
        self._answer_heatmap: tuple | None = None
        self._heatmap_timer = QTimer(self, singleShot=True, interval=1)
        self._heatmap_timer.timeout.connect(self._show_answer_heatmap)
        self.tabs = SteadyTabWidget()
        self.tabs.addTab(self.explore_splitter, "Explore")
        self.tabs.addTab(QLabel("Loading the Training tab…", alignment=Qt.AlignmentFlag.AlignCenter), "Training")
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(lambda index: self.build_training_tab() if index == 1 else None)
        self.setCentralWidget(self.tabs)

        self._build_status_bar()
        self._build_menus()
        self._connect()
        self._restore(restore_geometry)
        for kind, name, path in self.models_panel.entries():
            self._model_listed(kind, name, path)
        self._watch_drops()
        self._freeze_long_lived()

    # -- building ------------------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: "working"
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(14)
        self.busy.hide()
        self.device_label = QLabel("device: starting…")
        self.device_label.setToolTip("Where the models run (CUDA when there is a GPU, else MPS, else the CPU)")
        self.models_label = QLabel("models: loading…")
        self.models_label.setToolTip("The VQA model and the captioner in use (Models tab to change)")
        self.timing_label = QLabel("")
        self.timing_label.setToolTip("How long the last inference took, image loading included")
        for widget in (self.busy, self.models_label, self.device_label, self.timing_label):
            bar.addPermanentWidget(widget)
        bar.showMessage("Starting…")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        actions = [
            ("&Open dataset folder…", QKeySequence.StandardKey.Open, self._choose_dataset,
             "A COCO folder (annotations/ + images), a Shapes world or a folder of photos"),
            ("Open &COCO dataset…", None, self._choose_coco_files,
             "A COCO annotations file (captions_*.json or instances_*.json), then the folder of its images"),
            ("Open folder of &photos…", None, self._choose_dataset, "Any folder of JPEG/PNG photos"),
            ("Open &image…", QKeySequence("Ctrl+Shift+O"), self._choose_image, "Open and caption one or more photos"),
            ("Open the &Shapes world", None, lambda: self.open_dataset(None), "The built-in synthetic dataset"),
        ]
        for text, shortcut, slot, tip in actions:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.setStatusTip(tip)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        file_menu.addSeparator()
        export = QAction("&Export history…", self, shortcut=QKeySequence("Ctrl+E"))
        export.triggered.connect(self.history_panel.choose_export)
        file_menu.addAction(export)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        self.boxes_action = QAction("Object &boxes", self, checkable=True, checked=True, shortcut=QKeySequence("B"))
        self.boxes_action.toggled.connect(self.overlays.boxes.setChecked)
        self.overlays.boxes.toggled.connect(self.boxes_action.setChecked)
        self.heatmap_action = QAction("&Attention heatmap", self, checkable=True, checked=True,
                                      shortcut=QKeySequence("H"))
        self.heatmap_action.toggled.connect(self.overlays.heatmap.setChecked)
        self.overlays.heatmap.toggled.connect(self.heatmap_action.setChecked)
        view_menu.addAction(self.boxes_action)
        view_menu.addAction(self.heatmap_action)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        for theme in THEMES:
            action = QAction(theme.capitalize() if theme != "system" else "Follow the system", self, checkable=True)
            action.setData(theme)
            action.triggered.connect(lambda _checked, t=theme: self.set_theme(t))
            self.theme_group.addAction(action)
            theme_menu.addAction(action)
        view_menu.addSeparator()
        full_screen = QAction("&Full screen", self, checkable=True, shortcut=QKeySequence("F11"))
        full_screen.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        view_menu.addAction(full_screen)
        explore = QAction("E&xplore tab", self, shortcut=QKeySequence("Ctrl+1"))
        explore.triggered.connect(lambda: self.tabs.setCurrentIndex(0))
        training = QAction("&Training tab", self, shortcut=QKeySequence("Ctrl+2"))
        training.triggered.connect(lambda: self.tabs.setCurrentIndex(1))
        view_menu.addActions([explore, training])

        models_menu = self.menuBar().addMenu("&Models")
        open_checkpoint = QAction("&Open checkpoint…", self)
        open_checkpoint.triggered.connect(self._open_checkpoint_dialog)
        show_models = QAction("&Choose models…", self)
        show_models.triggered.connect(lambda: self.show_side_tab("Models"))
        models_menu.addActions([open_checkpoint, show_models])

        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = QAction("&Keyboard shortcuts", self, shortcut=QKeySequence("F1"))
        shortcuts.triggered.connect(self._show_shortcuts)
        about = QAction("&About vqadesk", self)
        about.triggered.connect(self._about)
        help_menu.addActions([shortcuts, about])

        # Ctrl+Enter asks from anywhere in the window; Ctrl+Shift+C captions.
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self._ask_from_anywhere)
        QShortcut(QKeySequence("Ctrl+Shift+C"), self, activated=self.caption_panel.generate)

    def _connect(self) -> None:
        self.browser.image_selected.connect(self.show_image)
        self.browser.split_changed.connect(self._remember_split)
        self.inference.sig_ready.connect(self._engine_ready)
        self.inference.sig_failed.connect(self._engine_failed)
        self.inference.sig_models_changed.connect(self._models_changed)
        self.inference.sig_busy_changed.connect(self.busy.setVisible)
        self.inference.sig_job_finished.connect(self._job_finished)
        self.ask_panel.sig_answered.connect(self._answered)
        self.ask_panel.sig_pin_probe.connect(self._pin_probe)
        self.caption_panel.sig_word_selected.connect(self._word_selected)
        self.caption_panel.sig_captioned.connect(lambda *_: self._describe_heatmap())
        self.models_panel.sig_use_model.connect(self.use_model)
        self.models_panel.sig_model_added.connect(self._model_listed)
        self.overlays.sig_settings_changed.connect(self._save_view_settings)

    def _restore(self, restore_geometry: bool) -> None:
        settings = self.settings
        if restore_geometry:
            geometry = settings.value("window/geometry")
            if geometry is not None:
                self.restoreGeometry(geometry)
            splitter = settings.value("window/explore_splitter")
            if splitter is not None:
                self.explore_splitter.restoreState(splitter)
        self.overlays.colormap.setCurrentText(
            str(settings.value("view/colormap", self.overlays.colormap.currentText())))
        self.overlays.opacity.setValue(_int(settings.value("view/opacity"), self.overlays.opacity.value()))
        self.ask_panel.top_k.setValue(_int(settings.value("ask/top_k"), self.ask_panel.top_k.value()))
        self.caption_panel.beam.setValue(_int(settings.value("caption/beam"), self.caption_panel.beam.value()))
        self.caption_panel.auto.setChecked(str(settings.value("caption/auto", "true")).lower() == "true")
        theme = str(settings.value("view/theme", "system"))
        for action in self.theme_group.actions():
            action.setChecked(action.data() == (theme if theme in THEMES else "system"))

    # -- start-up --------------------------------------------------------------------------------

    def start(self, dataset: str | None = None) -> None:
        """Start the inference worker and open ``dataset`` (None: the last one, else the Shapes world)."""
        if self._started:
            return
        self._started = True
        self._models_settled = False
        self.inference.start()
        self._plotting_pending = True
        self._run(Task(_import_plotting), lambda _none: self._build_charts(), self._plotting_failed)
        if dataset is None:
            last = self.settings.value("dataset/last")
            dataset = last if isinstance(last, str) and Path(last).is_dir() else None
        self.open_dataset(dataset)

    def _build_charts(self) -> None:
        """pyqtgraph is imported (in a pool thread): make the charts, one per event-loop turn, then
        show the dataset if it was opened meanwhile."""
        _ = self.ask_panel.chart
        QTimer.singleShot(1, self._build_compare_chart)  # 1 ms: a timer, so the next event-loop turn

    def _build_compare_chart(self) -> None:
        _ = self.compare_panel.chart
        self._watch_drops()  # the plots accept drops
        self._plotting_imported = True
        self._plotting_settled()
        self._start_training_build()

    def _plotting_failed(self, message: str) -> None:
        """pyqtgraph did not import (a broken install): no charts, but the dataset still shows."""
        self.tabs.widget(1).setText(f"The Training tab needs pyqtgraph, which could not be imported:\n{message}")
        self.statusBar().showMessage(f"Charts are unavailable: {message}")
        self._plotting_settled()

    def _plotting_settled(self) -> None:
        self._plotting_pending = False
        if self._opened_early is not None:
            dataset, self._opened_early = self._opened_early, None
            QTimer.singleShot(0, lambda: self._dataset_opened(dataset))

    def _start_training_build(self) -> None:
        """Once pyqtgraph is imported and the first image is shown: make the Training tab in steps,
        while the models load (the GUI thread is mostly idle then, waiting for the inference process)."""
        if self._plotting_imported and self._image_shown and self.training_tab is None and self._started:
            self._training_timer.start(0)

    def _training_step(self) -> None:
        """One piece of the Training tab (``training_tab.build_in_steps``): at most ~35 ms, then the event loop."""
        if self.training_tab is not None:
            return
        if self.browser.model.is_busy():
            # Thumbnails are being made: their threads' Python would slow each piece several
            # times over (the GIL); the first screen's thumbnails come first.
            self._training_timer.start(TRAINING_STEP_RETRY_MS)
            return
        if self._training_steps is None:
            from vqadesk.gui.training.tab import build_in_steps

            self._training_steps = build_in_steps(self.settings, self.inference)
        tab = next(self._training_steps)
        if tab is None:
            self._training_timer.start(0)
        else:
            self._install_training_tab(tab)

    def build_training_tab(self) -> None:
        """The Training tab now: made already while the window was idle, or its remaining pieces made here."""
        if self.training_tab is None:
            self._training_timer.stop()
            if self._training_steps is None:
                from vqadesk.gui.training.tab import build_in_steps

                self._training_steps = build_in_steps(self.settings, self.inference)
            tab = None
            for tab in self._training_steps:
                if tab is not None:
                    break
            self._install_training_tab(tab)

    def _install_training_tab(self, tab) -> None:
        self._training_steps = None
        self.training_tab = tab
        self.training_tab.sig_use_model.connect(self._use_trained_model)
        if self._training_dataset:
            self.training_tab.set_dataset(self._training_dataset)
        current = self.tabs.currentIndex()
        placeholder = self.tabs.widget(1)
        self.tabs.blockSignals(True)  # swapping the placeholder is not the user changing tabs
        self.tabs.removeTab(1)
        self.tabs.insertTab(1, self.training_tab, "Training")
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        self._watch_drops()  # the tab's fields and plots accept drops
        self._freeze_long_lived()

    def _engine_ready(self, models) -> None:
        self.device_label.setText(models.device)
        self.statusBar().showMessage("Loading models…")
        vqa = str(self.settings.value("models/vqa", DEFAULT_VQA_NAME))
        captioner = str(self.settings.value("models/captioner", DEFAULT_CAPTIONER_NAME))
        pending = {"vqa", "captioning"}

        def settle(kind: str) -> None:
            pending.discard(kind)
            if not pending:
                if self.statusBar().currentMessage().startswith("Loading models"):
                    self.statusBar().clearMessage()
                self._models_settled = True
                self._maybe_ready()

        def failed(kind: str, name: str, default: str, message: str) -> None:
            if name != default:  # a remembered model went missing: fall back to the bundled one
                self.statusBar().showMessage(f"Could not load {name} ({message}); using {default}")
                self.inference.load_models(**{"vqa" if kind == "vqa" else "captioner": default},
                                           on_done=lambda _m: settle(kind),
                                           on_error=lambda m: (self._model_failed(kind, m), settle(kind)))
                return
            self._model_failed(kind, message)
            settle(kind)

        self.inference.load_models(vqa=vqa, on_done=lambda _m: settle("vqa"),
                                   on_error=lambda m: failed("vqa", vqa, DEFAULT_VQA_NAME, m))
        self.inference.load_models(captioner=captioner, on_done=lambda _m: settle("captioning"),
                                   on_error=lambda m: failed("captioning", captioner, DEFAULT_CAPTIONER_NAME, m))

    def _engine_failed(self, message: str) -> None:
        self.caption_panel.captioner_failed(message)  # an Auto caption waiting for the first models
        self.device_label.setText("device: none")
        self.models_label.setText("models: unavailable")
        self.notify(f"The models cannot run:\n{message}\n\nBrowsing still works.", warning=True)
        self._models_settled = True
        self._maybe_ready()

    def _model_failed(self, kind: str, message: str) -> None:
        what = "VQA model" if kind == "vqa" else "captioner"
        if kind != "vqa":
            self.caption_panel.captioner_failed(message)
        self.statusBar().showMessage(f"Could not load the {what}: {message}")
        self.models_panel.show_message(f"Could not load the {what}: {message}", "error")

    # -- models ------------------------------------------------------------------------------------

    def use_model(self, kind: str, path: str) -> None:
        """Load ``path`` as the active VQA model (kind "vqa") or captioner."""
        what = "VQA model" if kind == "vqa" else "captioner"
        self.statusBar().showMessage(f"Loading the {what} {path}…")
        key = "vqa" if kind == "vqa" else "captioner"
        self.inference.load_models(
            **{key: path},
            on_done=lambda _m: self.statusBar().showMessage(f"{what} loaded: {Path(path).name}", 5000),
            on_error=lambda message: self._model_failed(kind, message),
        )

    def _use_trained_model(self, kind: str, path: str) -> None:
        if self.models_panel.open_checkpoint(path):
            self.use_model(kind, path)
            self.tabs.setCurrentIndex(0)
            self.show_side_tab("Ask" if kind == "vqa" else "Caption")

    def _models_changed(self, models) -> None:
        self.models_label.setText(f"VQA {_short(models.vqa)} · captions {_short(models.captioner)}")
        self.device_label.setText(models.device)
        for kind, name, path in (("vqa", models.vqa, models.vqa_path),
                                 ("captioning", models.captioner, models.captioner_path)):
            if path is not None:  # a checkpoint loaded by path (settings, Training tab) is listed too
                self.models_panel.add_model(kind, _short(name), str(path))
            self.models_panel.set_active(kind, str(path) if path else None, models.device)
        if models.vqa_path is not None:
            self.settings.setValue("models/vqa", str(models.vqa) if models.vqa else "")
            try:
                card = read_model_card(models.vqa_path)
            except (VqadeskError, OSError):
                card = None
            self.ask_panel.shapes_only_model = models.vqa if card is not None and card.knows_only_shapes else None
            self.compare_panel.add_model(_short(models.vqa), str(models.vqa_path), checked=True)
        if models.captioner:
            self.settings.setValue("models/captioner", str(models.captioner))
        self.sig_models_changed.emit(models)

    def _model_listed(self, kind: str, name: str, path: str) -> None:
        if kind == "vqa":
            self.compare_panel.add_model(name, path)

    def _open_checkpoint_dialog(self) -> None:
        self.show_side_tab("Models")
        self.models_panel._choose_file()

    def _job_finished(self, channel: str, seconds: float) -> None:
        if channel in ("ask", "caption", "compare", "caption-dropped"):
            self.timing_label.setText(f"{channel.split('-')[0]} {seconds * 1000:.0f} ms")

    # -- datasets ---------------------------------------------------------------------------------

    def open_dataset(self, path: str | None) -> None:
        """Open ``path`` (None: the built-in Shapes world) in the background."""
        what = path or "the Shapes world (generated on first launch)"
        self.statusBar().showMessage(f"Opening {what}…")
        self._run(Task(_open_default_or, path, self._remembered_split(path)), self._dataset_arrived,
                  self._dataset_failed)

    def _remembered_split(self, path: str | None) -> str | None:
        """The split last shown of the dataset at ``path`` (None: the Shapes world), if it is that one."""
        root, split = self.settings.value("dataset/split_root"), self.settings.value("dataset/split")
        if not isinstance(root, str) or not isinstance(split, str):
            return None
        try:
            here = Path(path).expanduser() if path else default_shapes_root()
            same = here.resolve() == Path(root).resolve()
        except OSError:
            return None
        return split if same else None

    def _remember_split(self, name: str) -> None:
        if self.dataset is not None and not self.dataset.is_loose_photos:
            self.settings.setValue("dataset/split_root", str(self.dataset.root))
            self.settings.setValue("dataset/split", name)

    def open_coco_files(self, annotation_file: str, image_dir: str) -> None:
        self.statusBar().showMessage(f"Opening {annotation_file}…")
        self._run(Task(open_coco_files_via_child, annotation_file, image_dir), self._dataset_arrived,
                  self._dataset_failed)

    def _dataset_arrived(self, dataset: Dataset) -> None:
        """A pool thread opened ``dataset``."""
        if self._plotting_pending:
            # pyqtgraph is being imported by a pool thread: ~0.5 s of Python that would make
            # every Python call of the dataset's first paint wait for the GIL. Show it after.
            self._opened_early = dataset
            return
        self._dataset_opened(dataset)

    def _dataset_opened(self, dataset: Dataset) -> None:
        self.dataset = dataset
        if not dataset.is_loose_photos:
            self.settings.setValue("dataset/last", str(dataset.root))
            self._training_dataset = str(dataset.root)
            if self.training_tab is not None:
                self.training_tab.set_dataset(self._training_dataset)
        self.setWindowTitle(f"vqadesk — {dataset.name}")
        self.browser.set_dataset(dataset)
        # Only the splits opened so far: the others (train2014 beside val2014) are
        # read when the user switches to them, in a pool thread.
        opened = dataset.open_splits
        splits = ", ".join(
            f"{name}: {len(s.image_ids):,} images, {s.question_count:,} questions" for name, s in opened.items()
        )
        self.statusBar().showMessage(f"{dataset.name} — {splits}", 10000)
        self.ask_panel.set_completions([text for s in opened.values() for text in s.question_texts()])
        self.sig_dataset_changed.emit(dataset)

    def _dataset_failed(self, message: str) -> None:
        self.statusBar().showMessage("Could not open the dataset")
        self.viewer.show_message(f"Could not open the dataset:\n{message}")
        self.image_info.setText("No dataset open — use File → Open dataset folder…")
        self._image_settled()

    def _choose_dataset(self) -> None:
        start = str(self.dataset.root) if self.dataset else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start)
        if folder:
            self.open_dataset(folder)

    def _choose_coco_files(self) -> None:
        start = str(self.dataset.root) if self.dataset else str(Path.home())
        annotation_file, _ = QFileDialog.getOpenFileName(
            self, "COCO annotations file (captions_*.json or instances_*.json)", start, "COCO JSON (*.json)"
        )
        if not annotation_file:
            return
        image_dir = QFileDialog.getExistingDirectory(self, "Folder of its images", str(Path(annotation_file).parent))
        if image_dir:
            self.open_coco_files(annotation_file, image_dir)

    def _choose_image(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open photos", str(Path.home()), "Images (*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff)"
        )
        if files:
            self.handle_drop(files)

    # -- images -------------------------------------------------------------------------------------

    def show_image(self, image_id: int) -> None:
        split = self.browser.split
        if split is None or self.dataset is None:
            return
        self._image_request += 1
        request = self._image_request
        try:
            path = split.coco.image_path(image_id)
        except VqadeskError as exc:  # names the missing file
            self.context = None
            for panel in (self.ask_panel, self.caption_panel, self.compare_panel):
                panel.set_image(None)
            self.viewer.show_message(str(exc))
            self._image_settled()
            return
        self.context = ImageContext(path=path, image_id=image_id, split=split, is_shapes=self.dataset.is_shapes)
        self._show_image_info(split, image_id)
        self.ask_panel.set_image(self.context)
        self.compare_panel.set_image(self.context)
        dropped = self.dropped_captions.get(str(path))
        if dropped is not None and self.dataset.is_loose_photos:
            auto = self.caption_panel.auto.isChecked()
            self.caption_panel.auto.setChecked(False)  # already captioned: show it, don't recompute
            self.caption_panel.set_image(self.context)
            self.caption_panel.auto.setChecked(auto)
            self.caption_panel.show_prediction(self.context, dropped)
        else:
            self.caption_panel.set_image(self.context)
        self._run(
            Task(_decode, path),
            lambda image, r=request, s=split, i=image_id: self._image_decoded(r, s, i, image),
            lambda message, r=request: self._image_failed(r, message),
        )

    def _show_image_info(self, split: DatasetSplit, image_id: int) -> None:
        from collections import Counter

        image = split.coco.image(image_id)
        objects = split.coco.objects(image_id)
        try:
            width, height = split.coco.image_size(image_id)
            size = f"{width} × {height}"
        except VqadeskError:
            size = "unreadable file"
        counts = Counter(obj.category_name for obj in objects)
        summary = ", ".join(f"{name} × {n}" for name, n in sorted(counts.items())) or "no annotated objects"
        self.image_info.setText(f"<b>{image.file_name}</b> · id {image_id} · {size} · {split.name} · {summary}")

    def _image_decoded(self, request: int, split: DatasetSplit, image_id: int, image: QImage) -> None:
        if request != self._image_request:
            return  # a newer selection superseded this one
        self.viewer.show_image(image, list(split.coco.objects(image_id)))
        self._describe_heatmap()
        self._image_settled()

    def _image_failed(self, request: int, message: str) -> None:
        if request == self._image_request:
            self.viewer.show_message(message)
            self._image_settled()

    # -- results on the image ------------------------------------------------------------------------

    def _answered(self, prediction, context: ImageContext) -> None:
        self.history_panel.add(history_entry(prediction, context))
        self.compare_panel.set_question(prediction.question)
        if context is self.context:
            label = f"VQA: “{prediction.question}” → {prediction.best.text} ({prediction.best.prob * 100:.0f}%)"
            self._answer_heatmap = (prediction.attention, label, context)
            self._heatmap_timer.start()

    def _show_answer_heatmap(self) -> None:
        pending, self._answer_heatmap = self._answer_heatmap, None
        if pending is not None and pending[2] is self.context:
            self.viewer.show_heatmap(pending[0], pending[1])
            self._describe_heatmap()

    def _word_selected(self, attention, label: str) -> None:
        self._answer_heatmap = None  # a caption word clicked now wins over an answer a moment old
        self.viewer.show_heatmap(attention, f"Caption word {label}")
        self._describe_heatmap()

    def _describe_heatmap(self) -> None:
        if self.viewer.has_heatmap():
            self.overlays.describe(f"Heatmap — {self.viewer.heatmap_label}")
        else:
            self.overlays.describe("Ask a question or click a caption word to see where the model looked.")

    def _pin_probe(self, image_path: str, question: str) -> None:
        self.build_training_tab()
        self.training_tab.set_probe(image_path, question)
        self.statusBar().showMessage(f"Pinned for the Training tab's probe: “{question}”", 8000)

    def _ask_from_anywhere(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.show_side_tab("Ask")
        self.ask_panel.ask(self.ask_panel.question_edit.text())

    def show_side_tab(self, title: str) -> None:
        self.side_tabs.setCurrentIndex(SIDE_TABS.index(title))

    # -- drag and drop -------------------------------------------------------------------------------

    def handle_drop(self, paths: list[str]) -> None:
        """Open dropped folders as datasets; add dropped photos to "Dropped photos" and caption them."""
        items = classify_drop(paths)
        if items.refused:
            self.notify(items.refusal_message())
            self.statusBar().showMessage(items.refused[0], 10000)
        if items.folders:
            self.open_dataset(str(items.folders[0]))
            return
        if not items.photos:
            return
        new = [p for p in items.photos if p not in self.dropped]
        self.dropped.extend(new)
        first = items.photos[0]
        try:
            dataset = open_photos(self.dropped)
        except VqadeskError as exc:
            self.statusBar().showMessage(str(exc))
            return
        self._dataset_opened(dataset)
        split = dataset.split(dataset.split_names[0])  # one split, already open
        self.browser.select_row(self.dropped.index(first))
        self.show_side_tab("Caption")
        self.caption_dropped([str(p) for p in new], split)

    def caption_dropped(self, paths: list[str], split: DatasetSplit) -> None:
        if not paths:
            return
        beam = self.caption_panel.beam.value()

        def done(predictions) -> None:
            for path, prediction in zip(paths, predictions):
                self.dropped_captions[path] = prediction
            self.browser.set_labels({i: self.dropped_captions[str(split.coco.image_path(i))].best.text
                                     for i in split.image_ids
                                     if str(split.coco.image_path(i)) in self.dropped_captions})
            if self.context is not None and str(self.context.path) in self.dropped_captions:
                self.caption_panel.show_prediction(self.context, self.dropped_captions[str(self.context.path)])
            self.statusBar().showMessage(f"Captioned {len(paths)} dropped photo(s)", 8000)

        self.statusBar().showMessage(f"Captioning {len(paths)} dropped photo(s)…")
        self.inference.submit("caption-dropped", PoolApi.caption_many, paths, beam_size=beam, on_done=done,
                              on_error=lambda message: self.statusBar().showMessage(message))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            paths = [url.toLocalFile() or url.toString() for url in event.mimeData().urls()]
            QTimer.singleShot(0, lambda: self.handle_drop(paths))  # after the drag has ended

    @staticmethod
    def _freeze_long_lived() -> None:
        """Leave the objects that live as long as the window out of Python's full collections.

        A full (generation 2) collection walks every tracked object while holding
        the GIL: measured 28 ms in this process once the window is built (87,000
        objects: modules, Qt wrappers, pyqtgraph), and it comes at any allocation,
        in any thread -- a dataset read in a pool thread stalled the window 40-50 ms
        this way. ``gc.freeze`` moves what exists now into a generation that is
        never walked; garbage among it is still freed by reference counting (only
        cycles among these objects would stay). Called once the window is built,
        the Training tab made, and the app ready.
        """
        gc.freeze()

    def _watch_drops(self) -> None:
        """Send file drops on the window's own drop targets (text fields, plots) to the window.

        A filter on each widget that accepts drops, installed again whenever
        widgets are added (charts, the Training tab), rather than one on the
        whole application: that one would run Python for every event of the
        process -- paints, timers, layouts -- and make each wait for the GIL.
        """
        for widget in self.findChildren(QWidget):
            if widget.acceptDrops():
                widget.installEventFilter(self)  # installing it twice keeps one

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        # Text fields accept drops of text (a file's path) themselves; a drop of
        # files anywhere in this window opens them instead.
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop) and isinstance(watched, QWidget):
            if watched.window() is self and event.mimeData().hasUrls():
                if kind == QEvent.Type.Drop:
                    self.dropEvent(event)
                else:
                    event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    def notify(self, text: str, *, warning: bool = False) -> QMessageBox:
        """A message box that does not block the event loop (nor tests): shown with ``open``."""
        box = QMessageBox(QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information,
                          "vqadesk", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_notice = box
        return box

    # -- looks --------------------------------------------------------------------------------------

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, theme)
        self.settings.setValue("view/theme", theme)
        for action in self.theme_group.actions():
            action.setChecked(action.data() == theme)

    def _save_view_settings(self) -> None:
        self.settings.setValue("view/colormap", self.overlays.colormap.currentText())
        self.settings.setValue("view/opacity", self.overlays.opacity.value())

    def _show_shortcuts(self) -> None:
        QMessageBox.information(
            self, "Keyboard shortcuts",
            "Ctrl+O  open a dataset folder\nCtrl+Shift+O  open photos\nEnter / Ctrl+Enter  ask\n"
            "↑ / ↓  question history\nCtrl+Shift+C  caption\nCtrl+E  export the history\n"
            "B  object boxes\nH  attention heatmap\nCtrl+1 / Ctrl+2  Explore / Training\nF11  full screen\n"
            "Wheel  zoom · drag  pan · double-click  fit",
        )

    def _about(self) -> None:
        import sys
        from importlib import metadata

        import pyqtgraph
        import PySide6

        try:  # the installed version, read without importing torch (only the inference process does)
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            torch_version = "(not installed)"
        device = self.inference.models.device if self.inference.models else "not started"
        QMessageBox.about(
            self, "About vqadesk",
            f"<b>vqadesk {__version__}</b><br>Visual question answering and image captioning on COCO-style data."
            f"<br><br>Python {sys.version.split()[0]} · PySide6 {PySide6.__version__} · "
            f"pyqtgraph {pyqtgraph.__version__} · torch {torch_version}"
            f"<br>Device: {device}",
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _run(self, task: Task, on_done, on_fail) -> None:
        self._tasks.add(task)
        task.signals.finished.connect(on_done)
        task.signals.failed.connect(on_fail)
        task.signals.finished.connect(lambda _r, t=task: self._tasks.discard(t))
        task.signals.failed.connect(lambda _m, t=task: self._tasks.discard(t))
        self._pool.start(task)

    def _image_settled(self) -> None:
        """The first image (or the reason there is none) is on screen: the Training tab may be made now."""
        self._image_shown = True
        self._start_training_build()
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        if not self._ready_sent and self._image_shown and self._models_settled:
            self._ready_sent = True
            self._freeze_long_lived()  # charts, first dataset, models' records: here to stay
            self.sig_ready.emit()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.training_tab is not None and self.training_tab.is_running():
            answer = QMessageBox.question(
                self, "vqadesk",
                "A training run is still going. Stop it (it saves its last checkpoint) and quit?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/explore_splitter", self.explore_splitter.saveState())
        self.settings.setValue("ask/top_k", self.ask_panel.top_k.value())
        self.settings.setValue("caption/beam", self.caption_panel.beam.value())
        self.settings.setValue("caption/auto", "true" if self.caption_panel.auto.isChecked() else "false")
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._training_timer.stop()
        if self.training_tab is not None:
            self.training_tab.shutdown()
        self.inference.shutdown()
        stop_children()  # splits still being parsed in child processes
        self.caption_panel.shutdown()
        self.browser.model.shutdown()
        self._pool.clear()
        self._pool.waitForDone(3000)
        self.settings.sync()
        super().closeEvent(event)


def _short(name: str | None) -> str:
    return short_model_name(name) if name else "none"


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default

"""The main window: an Explore tab (browser | viewer | Ask, Caption, Compare, Models, History)
and a Training tab, with menus, drag and drop and a status bar.

Everything slow happens off the GUI thread: opening a dataset (and
generating the Shapes world on first launch) and decoding images run in
pool threads (``background/workers.BackgroundTasks``), a big split's JSON in
a child process (``background/split_process``); model loading and inference
run in the inference process (``background/inference.InferenceClient``), so
this process never imports torch and the window shows at once.

Its parts in their own modules: the start-up order (``startup.py``), the
Training tab's placeholder and stepwise making (``training_slot.py``), the
models in use (``active_models.py``), the settings (``window_settings.py``),
the menus, status bar and file dialogs (``window_menus.py``), the dropped
photos (``dropped_photos.py``). ``sig_ready`` fires once the
first image is on screen and the models have loaded (or failed to), which is
when ``--screenshot`` takes its picture.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vqadesk.data.dataset import Dataset, DatasetSplit
from vqadesk.data.default_dataset import ensure_shapes_world
from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.gui import window_settings
from vqadesk.gui.active_models import ActiveModels
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.background.split_process import open_coco_files_via_child, open_dataset_via_child, stop_children
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.batch.panel import BatchPanel
from vqadesk.gui.dropped_photos import DroppedPhotos
from vqadesk.gui.drops import classify_drop
from vqadesk.gui.evaluate_slot import EvaluateTabSlot
from vqadesk.gui.explore.ask_panel import AskPanel
from vqadesk.gui.explore.browser import BrowserPanel
from vqadesk.gui.explore.caption_panel import CaptionPanel
from vqadesk.gui.explore.compare_panel import ComparePanel
from vqadesk.gui.explore.history_panel import HistoryPanel, history_entry
from vqadesk.gui.explore.hub_models import model_key
from vqadesk.gui.explore.image_context import ImageContext, describe_image
from vqadesk.gui.explore.models_panel import ModelsPanel
from vqadesk.gui.explore.overlay_bar import OverlayBar
from vqadesk.gui.explore.viewer import ImageViewer
from vqadesk.gui.qimage import pil_to_qimage
from vqadesk.gui.startup import StartupSequence, freeze_long_lived
from vqadesk.gui.steady_tabs import SteadyTabWidget
from vqadesk.gui.style import apply_theme
from vqadesk.gui.training_slot import TrainingTabSlot
from vqadesk.gui.window_menus import build_menus, build_status_bar
from vqadesk.text.counts import plural

SIDE_TABS = ("Ask", "Caption", "Batch", "Compare", "Models", "History")
BATCH_WIDTH = 600  # the side tabs' width while the Batch tab shows (its table), taken from the browser first
BROWSER_NARROWEST = 240  # two thumbnail columns
TIMED_CHANNELS = ("ask", "caption", "compare", "caption-dropped")  # the status bar shows how long these took


def _open_default_or(path: str | None, split: str | None) -> Dataset:
    """Pool thread: open ``path``, or the Shapes world (generated if needed), showing ``split`` first
    if it has one by that name; a big split's JSON is parsed by a child process (``split_process``),
    so it never holds this process's GIL."""
    return open_dataset_via_child(path if path else ensure_shapes_world(), split)


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
        self.dropped_photos = DroppedPhotos(self)
        self.dropped_captions = self.dropped_photos.captions  # photo path -> CaptionPrediction
        self.tasks = BackgroundTasks(self)
        self._image_request = 0
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
        self.batch_panel = BatchPanel(self.inference)
        self.side_tabs = SteadyTabWidget()
        for panel, title in zip(
            (self.ask_panel, self.caption_panel, self.batch_panel, self.compare_panel, self.models_panel,
             self.history_panel), SIDE_TABS
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

        # An answer's heatmap is laid over the image on the event-loop turn after the answer's bars are
        # drawn: each QGraphicsView's scene update repaints the window, and two in one turn stall it
        # (docs/app.md). 1 ms: a timer, so a later turn; the newest answer wins.
        self._answer_heatmap: tuple | None = None
        self._heatmap_timer = QTimer(self, singleShot=True, interval=1)
        self._heatmap_timer.timeout.connect(self._show_answer_heatmap)
        self.tabs = SteadyTabWidget()
        self.tabs.addTab(self.explore_splitter, "Explore")
        self.training_slot = TrainingTabSlot(self.tabs, settings, self.inference, self.browser.model.is_busy, self)
        self.evaluate_slot = EvaluateTabSlot(self.tabs, self.models_panel.entries, self)
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(self._main_tab_changed)
        self.setCentralWidget(self.tabs)

        self.startup = StartupSequence(self)
        self.active_models = ActiveModels(self)
        build_status_bar(self)
        build_menus(self)
        self._connect()
        window_settings.restore_window(self, restore_geometry)
        for kind, name, path in self.models_panel.entries():
            self.active_models.model_listed(kind, name, path)
        self.watch_drops()
        freeze_long_lived()

    def _connect(self) -> None:
        self.browser.image_selected.connect(self.show_image)
        self.browser.split_changed.connect(self._remember_split)
        self.inference.sig_ready.connect(self.active_models.load_remembered)
        self.inference.sig_failed.connect(self.active_models.engine_failed)
        self.inference.sig_models_changed.connect(self.active_models.models_changed)
        self.inference.sig_busy_changed.connect(self.busy.setVisible)
        self.inference.sig_job_finished.connect(self._job_finished)
        self.ask_panel.sig_answered.connect(self._answered)
        self.ask_panel.sig_pin_probe.connect(self._pin_probe)
        self.caption_panel.sig_word_selected.connect(self._word_selected)
        self.caption_panel.sig_captioned.connect(lambda *_: self._describe_heatmap())
        self.models_panel.sig_use_model.connect(self.use_model)
        self.models_panel.sig_model_added.connect(self.active_models.model_listed)
        self.models_panel.sig_downloaded.connect(self._model_downloaded)
        for notice in (self.ask_panel.notice, self.caption_panel.notice):
            notice.sig_use_model.connect(self.use_model)
            notice.sig_get_model.connect(self.show_catalogue_entry)
        self.overlays.sig_settings_changed.connect(
            lambda: window_settings.save_view(self.settings, self.overlays.colormap.currentText(),
                                              self.overlays.opacity.value()))
        self.training_slot.sig_installed.connect(self._training_tab_installed)
        self.evaluate_slot.sig_installed.connect(self._evaluate_tab_installed)
        self.models_panel.sig_model_added.connect(lambda *_: self.evaluate_slot.models_changed())
        self._sizes_before_batch: list[int] | None = None  # the Explore columns before the Batch tab widened them
        self._sizes_in_batch: list[int] = []
        self.side_tabs.currentChanged.connect(self._side_tab_changed)
        self.batch_panel.sig_use_model.connect(self.use_model)
        self.batch_panel.sig_show_photo.connect(self.show_batch_photo)
        self.sig_models_changed.connect(lambda _models: self._offer_batch_models())
        self.models_panel.sig_model_added.connect(lambda *_: self._offer_batch_models())
        self.browser.split_changed.connect(lambda _name: self.batch_panel.form.set_split(self.browser.split))
        self.browser.sig_caption_selected.connect(self.caption_selected)

    # -- start-up --------------------------------------------------------------------------------

    def start(self, dataset: str | None = None) -> None:
        """Start the inference worker and open ``dataset`` (None: the last one, else the Shapes world)."""
        self.startup.begin(dataset)

    @property
    def training_tab(self):
        """The Training tab once made (``build_training_tab``), else None."""
        return self.training_slot.tab

    def build_training_tab(self) -> None:
        """The Training tab now: made already while the window was idle, or its remaining pieces made here."""
        self.training_slot.build_now()

    def _main_tab_changed(self, index: int) -> None:
        if index == 1:
            self.build_training_tab()
        elif index == 2:
            self.evaluate_slot.shown()

    @property
    def evaluate_tab(self):
        """The Evaluate tab, made now if it was not yet."""
        return self.evaluate_slot.build_now()

    def show_evaluate_tab(self) -> None:
        self.tabs.setCurrentIndex(2)

    def _evaluate_tab_installed(self, tab) -> None:
        tab.sig_status.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.watch_drops()

    def _training_tab_installed(self, tab) -> None:
        tab.sig_use_model.connect(self.active_models.use_trained)
        self.watch_drops()  # the tab's fields and plots accept drops
        freeze_long_lived()

    def use_model(self, kind: str, path: str) -> None:
        """Load ``path`` as the active model of ``kind`` (a ``ModelKind``)."""
        self.active_models.use(kind, path)

    def show_catalogue_entry(self, repo_id: str) -> None:
        """The Models tab, on ``repo_id``'s catalogue entry (the Ask and Caption panels' *Get …* offer)."""
        self.tabs.setCurrentIndex(0)
        self.show_side_tab("Models")
        self.models_panel.select_catalogue(repo_id)

    def _model_downloaded(self, reference: str) -> None:
        self.statusBar().showMessage(f"Downloaded {reference}: the Models tab's Use this model loads it", 10000)
        for notice in (self.ask_panel.notice, self.caption_panel.notice):
            notice.refresh_offer()  # "Get …" becomes "Use …"

    def open_checkpoint_dialog(self) -> None:
        self.show_side_tab("Models")
        self.models_panel.choose_file()

    def _job_finished(self, channel: str, seconds: float) -> None:
        if channel in TIMED_CHANNELS:
            self.timing_label.setText(f"{channel.split('-')[0]} {seconds * 1000:.0f} ms")

    # -- datasets ---------------------------------------------------------------------------------

    def open_dataset(self, path: str | None) -> None:
        """Open ``path`` (None: the built-in Shapes world) in the background."""
        what = path or "the Shapes world (generated on first launch)"
        self.statusBar().showMessage(f"Opening {what}…")
        split = window_settings.remembered_split(self.settings, path)
        self.tasks.start(_open_default_or, path, split, on_done=self.startup.dataset_arrived,
                         on_fail=self._dataset_failed)

    def _remember_split(self, name: str) -> None:
        if self.dataset is not None and not self.dataset.is_loose_photos:
            window_settings.remember_split(self.settings, str(self.dataset.root), name)

    def open_coco_files(self, annotation_file: str, image_dir: str) -> None:
        self.statusBar().showMessage(f"Opening {annotation_file}…")
        self.tasks.start(open_coco_files_via_child, annotation_file, image_dir,
                         on_done=self.startup.dataset_arrived, on_fail=self._dataset_failed)

    def show_dataset(self, dataset: Dataset) -> None:
        """Show ``dataset`` (opened in a pool thread, or the dropped photos)."""
        self.dataset = dataset
        if not dataset.is_loose_photos:
            window_settings.remember_dataset(self.settings, str(dataset.root))
            self.training_slot.set_dataset(str(dataset.root))
            self.evaluate_slot.set_dataset(str(dataset.root), dataset.split_names, dataset.first_split)
        self.setWindowTitle(f"vqadesk — {dataset.name}")
        self.browser.set_dataset(dataset)
        # Only the splits opened so far: the others (train2014 beside val2014) are
        # read when the user switches to them, in a pool thread.
        opened = dataset.open_splits
        splits = ", ".join(
            f"{name}: {plural(len(s.image_ids), 'image')}, {plural(s.question_count, 'question')}"
            for name, s in opened.items()
        )
        self.statusBar().showMessage(f"{dataset.name} — {splits}", 10000)
        self.ask_panel.set_completions([text for s in opened.values() for text in s.question_texts()])
        self.sig_dataset_changed.emit(dataset)

    def _dataset_failed(self, message: str) -> None:
        self.statusBar().showMessage("Could not open the dataset")
        self.viewer.show_message(f"Could not open the dataset:\n{message}")
        self.image_info.setText("No dataset open — use File → Open dataset folder…")
        self.startup.image_settled()

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
            self.startup.image_settled()
            return
        self.context = ImageContext(path=path, image_id=image_id, split=split, is_shapes=self.dataset.is_shapes)
        self.image_info.setText(describe_image(split, image_id))
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
        self.tasks.start(
            _decode, path,
            on_done=lambda image, r=request, s=split, i=image_id: self._image_decoded(r, s, i, image),
            on_fail=lambda message, r=request: self._image_failed(r, message),
        )

    def _image_decoded(self, request: int, split: DatasetSplit, image_id: int, image: QImage) -> None:
        if request != self._image_request:
            return  # a newer selection superseded this one
        self.viewer.show_image(image, list(split.coco.objects(image_id)))
        self._describe_heatmap()
        self.startup.image_settled()

    def _image_failed(self, request: int, message: str) -> None:
        if request == self._image_request:
            self.viewer.show_message(message)
            self.startup.image_settled()

    # -- results on the image ------------------------------------------------------------------------

    def _answered(self, prediction, context: ImageContext) -> None:
        self.history_panel.add(history_entry(prediction, context))
        self.compare_panel.set_question(prediction.question)
        if context is self.context:
            label = f"VQA: “{prediction.question}” → {prediction.best.text} ({prediction.best.prob * 100:.0f}%)"
            self._answer_heatmap = (prediction.attention, label, context, prediction.attention_region)
            self._heatmap_timer.start()

    def _show_answer_heatmap(self) -> None:
        pending, self._answer_heatmap = self._answer_heatmap, None
        if pending is not None and pending[2] is self.context:
            self.viewer.show_heatmap(pending[0], pending[1], pending[3])
            self._describe_heatmap()

    def _word_selected(self, attention, label: str, region: str) -> None:
        self._answer_heatmap = None  # a caption word clicked now wins over an answer a moment old
        self.viewer.show_heatmap(attention, f"Caption word {label}", region)
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

    def ask_from_anywhere(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.show_side_tab("Ask")
        self.ask_panel.ask(self.ask_panel.question_edit.text())

    def show_side_tab(self, title: str) -> None:
        self.side_tabs.setCurrentIndex(SIDE_TABS.index(title))

    # -- batch jobs --------------------------------------------------------------------------------

    def show_batch(self) -> None:
        """The Explore tab with the Batch panel in front."""
        self.tabs.setCurrentIndex(0)
        self.show_side_tab("Batch")

    def caption_folder(self, folder: str, recursive: bool | None = None) -> None:
        """The Batch panel set up on ``folder`` (File → Caption folder…, a folder dropped with Shift held)."""
        self.show_batch()
        self.batch_panel.form.set_folder(folder, recursive)
        self.statusBar().showMessage(f"Batch tab: {Path(folder).name} — choose the task and the model, then Start",
                                     10000)

    def caption_selected(self, image_ids: list[int]) -> None:
        """The browser's "Caption selected photos": the Batch panel on the selection."""
        split = self.browser.split
        if split is None or not image_ids:
            return
        self.show_batch()
        self.batch_panel.form.set_selection(split, image_ids)

    def _side_tab_changed(self, _index: int) -> None:
        """The Batch tab widens the side tabs for its table (from the browser, then the viewer); leaving it puts
        the columns back, unless the user has moved them since."""
        sizes = self.explore_splitter.sizes()
        if self.side_tabs.currentWidget() is self.batch_panel:
            if self._sizes_before_batch is None and sizes[2] < BATCH_WIDTH:
                from_browser = min(BATCH_WIDTH - sizes[2], max(sizes[0] - BROWSER_NARROWEST, 0))
                from_viewer = min(BATCH_WIDTH - sizes[2] - from_browser, max(sizes[1] - 300, 0))
                widened = [sizes[0] - from_browser, sizes[1] - from_viewer, sizes[2] + from_browser + from_viewer]
                self._sizes_before_batch = sizes
                self.explore_splitter.setSizes(widened)
                self._sizes_in_batch = self.explore_splitter.sizes()
        elif self._sizes_before_batch is not None:
            if sizes == self._sizes_in_batch:
                self.explore_splitter.setSizes(self._sizes_before_batch)
            self._sizes_before_batch = None

    def _offer_batch_models(self) -> None:
        models = self.inference.models
        active = {ModelKind.VQA: model_key(models.vqa, models.vqa_path) if models and models.vqa else None,
                  ModelKind.CAPTIONING: (model_key(models.captioner, models.captioner_path)
                                         if models and models.captioner else None)}
        self.batch_panel.form.set_models(active, self.models_panel.entries())

    def show_batch_photo(self, path: Path, heatmap: tuple | None, text: str, heatmap_label: str) -> None:
        """A batch result's photo in the viewer, with its attention map when the prediction had one."""
        self._image_request += 1
        request = self._image_request
        self.image_info.setText(text)

        def decoded(image: QImage) -> None:
            if request != self._image_request:
                return
            self.viewer.show_image(image, [])
            if heatmap is not None:
                grid, region = heatmap
                self.viewer.show_heatmap(grid, heatmap_label, region)
            self._describe_heatmap()

        def failed(message: str) -> None:
            if request == self._image_request:
                self.viewer.show_message(textwrap.fill(message, 60))  # a long path would run off the viewer
                self._describe_heatmap()

        self.tasks.start(_decode, Path(path), on_done=decoded, on_fail=failed)

    # -- drag and drop -------------------------------------------------------------------------------

    def handle_drop(self, paths: list[str], *, batch: bool = False) -> None:
        """Open dropped folders as datasets (``batch``, Shift held: set up a batch job on the first one
        instead); add dropped photos to "Dropped photos" and caption them."""
        items = classify_drop(paths)
        if items.refused:
            self.notify(items.refusal_message())
            self.statusBar().showMessage(items.refused[0], 10000)
        if items.folders and batch:
            self.caption_folder(str(items.folders[0]))
            return
        if items.folders:
            self.open_dataset(str(items.folders[0]))
            return
        if items.photos:
            self.dropped_photos.add(items.photos)

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
            batch = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # Shift: a batch job, not a dataset
            QTimer.singleShot(0, lambda: self.handle_drop(paths, batch=batch))  # after the drag has ended

    def watch_drops(self) -> None:
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
        window_settings.save_theme(self.settings, theme)
        for action in self.theme_group.actions():
            action.setChecked(action.data() == theme)

    # -- closing ------------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.training_slot.is_running():
            answer = QMessageBox.question(
                self, "vqadesk",
                "A training run is still going. Stop it (it saves its last checkpoint) and quit?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if self.evaluate_slot.is_running():
            answer = QMessageBox.question(
                self, "vqadesk", "An evaluation is still running. Cancel it (nothing of it is kept) and quit?")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        window_settings.save_window(self)
        self.training_slot.shutdown()
        self.evaluate_slot.shutdown()  # a running evaluation is cancelled: its partial folder is removed
        self.inference.shutdown()
        stop_children()  # splits still being parsed in child processes
        self.caption_panel.shutdown()
        self.batch_panel.shutdown()  # a running job stops; its finished photos stay in its progress file
        self.models_panel.shutdown()  # a download stops; what it fetched stays in the cache
        self.browser.model.shutdown()
        self.tasks.shutdown(3000)
        self.settings.sync()
        super().closeEvent(event)


"""The VQA model and captioner the main window uses: loading them, and showing what is loaded.

At start the models last in use are loaded (a remembered one that went
missing falls back to the bundled one); the Models tab, the Models menu and
the Training tab's "Use this model" load others. After every load the status
bar, the Models, Ask and Compare panels and the settings follow
(``models_changed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from vqadesk.engine.torch_free.model_cards import read_model_card
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.gui.explore.ask_panel import short_model_name
from vqadesk.gui.window_settings import DEFAULT_MODELS, remember_model, remembered_model

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow


class ActiveModels(QObject):
    """Loads the window's models through its inference client and shows the outcome."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self._window = window

    def load_remembered(self, models) -> None:
        """The inference process is ready (``models``: what it has, nothing yet): load the models last in use."""
        window = self._window
        window.device_label.setText(models.device)
        window.statusBar().showMessage("Loading models…")
        pending = set(ModelKind)

        def settle(kind: ModelKind) -> None:
            pending.discard(kind)
            if not pending:
                if window.statusBar().currentMessage().startswith("Loading models"):
                    window.statusBar().clearMessage()
                window.startup.models_settled()

        def failed(kind: ModelKind, name: str, message: str) -> None:
            default = DEFAULT_MODELS[kind]
            if name != default:  # a remembered model went missing: fall back to the bundled one
                window.statusBar().showMessage(f"Could not load {name} ({message}); using {default}")
                window.inference.load_model(kind, default, on_done=lambda _m: settle(kind),
                                            on_error=lambda m: (self.show_failure(kind, m), settle(kind)))
                return
            self.show_failure(kind, message)
            settle(kind)

        for kind in ModelKind:
            name = remembered_model(window.settings, kind)
            window.inference.load_model(kind, name, on_done=lambda _m, k=kind: settle(k),
                                        on_error=lambda m, k=kind, n=name: failed(k, n, m))

    def engine_failed(self, message: str) -> None:
        """The models cannot run at all; browsing still works."""
        window = self._window
        window.caption_panel.captioner_failed(message)  # an Auto caption waiting for the first models
        window.device_label.setText("device: none")
        window.models_label.setText("models: unavailable")
        window.notify(f"The models cannot run:\n{message}\n\nBrowsing still works.", warning=True)
        window.startup.models_settled()

    def show_failure(self, kind: ModelKind, message: str) -> None:
        window = self._window
        kind = ModelKind(kind)
        if kind is ModelKind.CAPTIONING:
            window.caption_panel.captioner_failed(message)
        window.statusBar().showMessage(f"Could not load the {kind.noun}: {message}")
        window.models_panel.show_message(f"Could not load the {kind.noun}: {message}", "error")

    def use(self, kind: ModelKind, path: str) -> None:
        """Load ``path`` as the active model of ``kind``."""
        kind = ModelKind(kind)
        status = self._window.statusBar()
        status.showMessage(f"Loading the {kind.noun} {path}…")
        self._window.inference.load_model(
            kind, path,
            on_done=lambda _m: status.showMessage(f"{kind.noun} loaded: {Path(path).name}", 5000),
            on_error=lambda message: self.show_failure(kind, message),
        )

    def use_trained(self, kind: ModelKind, path: str) -> None:
        """The Training tab's "Use this model": list the checkpoint, load it and show its panel."""
        window = self._window
        if window.models_panel.open_checkpoint(path):
            self.use(kind, path)
            window.tabs.setCurrentIndex(0)
            window.show_side_tab("Ask" if kind == ModelKind.VQA else "Caption")

    def models_changed(self, models) -> None:
        """After any load: the status bar, the panels and the settings say what is loaded now."""
        window = self._window
        window.models_label.setText(f"VQA {_short(models.vqa)} · captions {_short(models.captioner)}")
        window.device_label.setText(models.device)
        for kind, name, path in ((ModelKind.VQA, models.vqa, models.vqa_path),
                                 (ModelKind.CAPTIONING, models.captioner, models.captioner_path)):
            if path is not None:  # a checkpoint loaded by path (settings, Training tab) is listed too
                window.models_panel.add_model(kind, _short(name), str(path))
            window.models_panel.set_active(kind, str(path) if path else None, models.device)
        if models.vqa_path is not None:
            remember_model(window.settings, ModelKind.VQA, str(models.vqa) if models.vqa else "")
            try:
                card = read_model_card(models.vqa_path)
            except (VqadeskError, OSError):
                card = None
            window.ask_panel.shapes_only_model = models.vqa if card is not None and card.knows_only_shapes else None
            window.compare_panel.add_model(_short(models.vqa), str(models.vqa_path), checked=True)
        if models.captioner:
            remember_model(window.settings, ModelKind.CAPTIONING, str(models.captioner))
        window.sig_models_changed.emit(models)

    def model_listed(self, kind: ModelKind, name: str, path: str) -> None:
        """A model joined the Models tab's list: the Compare panel offers the VQA ones."""
        if kind == ModelKind.VQA:
            self._window.compare_panel.add_model(name, path)


def _short(name: str | None) -> str:
    return short_model_name(name) if name else "none"

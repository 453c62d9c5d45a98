"""The VQA model and captioner the main window uses: loading them, and showing what is loaded.

At start the models last in use are loaded (a remembered one that went
missing falls back to the bundled one); the Models tab, the Models menu, the
Ask and Caption panels' offer of a pretrained model and the Training tab's
"Use this model" load others. A load runs in the inference process and may
take seconds (a 1 GB pretrained model): meanwhile the status bar and the
Models tab say which model is loading and for how long, once a second, and
the window stays usable. After every load the status bar, the Models, Ask,
Caption and Compare panels and the settings follow (``models_changed``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from vqadesk.engine.torch_free.model_cards import read_model_card
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.gui.explore.hub_models import display_name, model_key, short_model_name
from vqadesk.gui.window_settings import DEFAULT_MODELS, remember_model, remembered_model

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow


class ActiveModels(QObject):
    """Loads the window's models through its inference client and shows the outcome."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self._window = window
        self._loading: dict[ModelKind, tuple[str, float]] = {}  # kind -> (model's name, when its load began)
        self._loading_text = ""
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(lambda: self._show_loading(take_status_bar=False))

    def load_remembered(self, models) -> None:
        """The inference process is ready (``models``: what it has, nothing yet): load the models last in use."""
        window = self._window
        window.device_label.setText(models.status_text)
        pending = set(ModelKind)

        def settle(kind: ModelKind) -> None:
            pending.discard(kind)
            self._loaded(kind)
            if not pending:
                window.startup.models_settled()

        def failed(kind: ModelKind, name: str, message: str) -> None:
            default = DEFAULT_MODELS[kind]
            if name != default:  # a remembered model went missing: fall back to the bundled one
                self._loaded(kind)
                window.statusBar().showMessage(f"Could not load {name} ({message}); using {default}")
                window.inference.load_model(kind, default, on_done=lambda _m: settle(kind),
                                            on_error=lambda m: (self.show_failure(kind, m), settle(kind)))
                return
            self.show_failure(kind, message)
            settle(kind)

        for kind in ModelKind:
            name = remembered_model(window.settings, kind)
            self._loading_started(kind, name)
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
        """Load ``path`` (a checkpoint, a folder or ``hf:ORG/NAME``) as the active model of ``kind``."""
        kind = ModelKind(kind)
        status = self._window.statusBar()
        self._loading_started(kind, path)

        def done(_models) -> None:
            seconds = self._loaded(kind)
            noun = kind.noun[0].upper() + kind.noun[1:]
            status.showMessage(f"{noun} loaded: {_short(display_name(path))} ({seconds:.0f} s)", 5000)

        def failed(message: str) -> None:
            self._loaded(kind)
            self.show_failure(kind, message)

        self._window.inference.load_model(kind, path, on_done=done, on_error=failed)

    # -- saying what is loading ---------------------------------------------------------------------

    def _loading_started(self, kind: ModelKind, name: str) -> None:
        self._loading[ModelKind(kind)] = (str(name), time.monotonic())
        self._show_loading(take_status_bar=True)
        self._tick.start()

    def _loaded(self, kind: ModelKind) -> float:
        """The load of ``kind`` has ended; how many seconds it took."""
        _name, began = self._loading.pop(ModelKind(kind), ("", time.monotonic()))
        if not self._loading:
            self._tick.stop()
        self._show_loading(take_status_bar=False)
        return time.monotonic() - began

    def _show_loading(self, *, take_status_bar: bool) -> None:
        """The Models tab, and the status bar unless another message replaced ours (``take_status_bar``: a new
        load, which shows itself anyway): which models are loading and for how long (or nothing)."""
        window = self._window
        now = time.monotonic()
        parts = [f"{_short(display_name(name))} as the {kind.noun} ({now - began:.0f} s)"
                 for kind, (name, began) in self._loading.items()]
        text = ("Loading " + " and ".join(parts) + "… in the inference process; you can keep browsing"
                if parts else "")
        status = window.statusBar()
        ours = status.currentMessage() in (self._loading_text, "")
        if text and (take_status_bar or ours):
            status.showMessage(text)
        elif not text and ours:
            status.clearMessage()
        self._loading_text = text
        window.models_panel.show_loading(text)

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
        window.device_label.setText(models.status_text)
        keys = {}
        for kind, name, path in ((ModelKind.VQA, models.vqa, models.vqa_path),
                                 (ModelKind.CAPTIONING, models.captioner, models.captioner_path)):
            # A Hub model is known by hf:ORG/NAME (however the inference process names it), anything
            # else by its file; None: nothing loaded.
            key = keys[kind] = model_key(name, path) if path is not None or _is_hub(name) else None
            if path is not None and not _is_hub(key):
                # A checkpoint or folder loaded by path (settings, Training tab) is listed too; a Hub
                # model is listed under the Hugging Face cache already.
                window.models_panel.add_model(kind, _short(name), str(path))
            window.models_panel.set_active(kind, key, models.device)
        if keys[ModelKind.VQA] is not None:
            vqa_key = keys[ModelKind.VQA]
            remember_model(window.settings, ModelKind.VQA, vqa_key if _is_hub(vqa_key) else str(models.vqa or ""))
            window.ask_panel.set_shapes_only_model(models.vqa if _knows_only_shapes(models.vqa_path) else None)
            window.compare_panel.add_model(_short(models.vqa), vqa_key, checked=True)
        if models.captioner:
            captioner_key = keys[ModelKind.CAPTIONING]
            remember_model(window.settings, ModelKind.CAPTIONING,
                           captioner_key if _is_hub(captioner_key) else str(models.captioner))
            window.caption_panel.set_shapes_only_model(
                models.captioner if _knows_only_shapes(models.captioner_path) else None)
        window.sig_models_changed.emit(models)

    def model_listed(self, kind: ModelKind, name: str, path: str) -> None:
        """A model joined the Models tab's list: the Compare panel offers the VQA ones."""
        if kind == ModelKind.VQA:
            self._window.compare_panel.add_model(name, path)


def _is_hub(key: str | None) -> bool:
    return bool(key) and str(key).lower().startswith("hf:")


def _knows_only_shapes(path) -> bool:
    """Whether the checkpoint at ``path`` says it was trained on the Shapes world (a folder or Hub model: no)."""
    if path is None:
        return False
    try:
        return read_model_card(path).knows_only_shapes
    except (VqadeskError, OSError):
        return False


def _short(name: str | None) -> str:
    return short_model_name(name) if name else "none"

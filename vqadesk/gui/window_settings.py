"""What the main window remembers between runs (``QSettings``), and where each value goes back.

    window/geometry, window/explore_splitter   the window's place and the Explore tab's columns
    view/colormap, view/opacity, view/theme    the heatmap's looks and the theme
    ask/top_k, caption/beam, caption/auto      the Ask and Caption panels' options
    models/vqa, models/captioner               the models last in use (written as they load)
    dataset/last                               the dataset folder last open
    dataset/split_root, dataset/split          the split last shown, and of which dataset

The Training tab's form keeps its own fields (``gui/training/form.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings

from vqadesk.data.default_dataset import default_shapes_root
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import DEFAULT_CAPTIONER_NAME, DEFAULT_VQA_NAME
from vqadesk.gui.style import THEMES

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow

MODEL_KEYS = {ModelKind.VQA: "models/vqa", ModelKind.CAPTIONING: "models/captioner"}
DEFAULT_MODELS = {ModelKind.VQA: DEFAULT_VQA_NAME, ModelKind.CAPTIONING: DEFAULT_CAPTIONER_NAME}


def restore_window(window: MainWindow, restore_geometry: bool) -> None:
    """Put back the window's place (unless ``restore_geometry`` is False: screenshots), looks and options."""
    settings = window.settings
    if restore_geometry:
        geometry = settings.value("window/geometry")
        if geometry is not None:
            window.restoreGeometry(geometry)
        splitter = settings.value("window/explore_splitter")
        if splitter is not None:
            window.explore_splitter.restoreState(splitter)
    overlays, ask, caption = window.overlays, window.ask_panel, window.caption_panel
    overlays.colormap.setCurrentText(str(settings.value("view/colormap", overlays.colormap.currentText())))
    overlays.opacity.setValue(_int(settings.value("view/opacity"), overlays.opacity.value()))
    ask.top_k.setValue(_int(settings.value("ask/top_k"), ask.top_k.value()))
    caption.beam.setValue(_int(settings.value("caption/beam"), caption.beam.value()))
    caption.auto.setChecked(str(settings.value("caption/auto", "true")).lower() == "true")
    theme = str(settings.value("view/theme", "system"))
    for action in window.theme_group.actions():
        action.setChecked(action.data() == (theme if theme in THEMES else "system"))


def save_window(window: MainWindow) -> None:
    """The window's place and the panels' options (closing); the rest is saved as it changes."""
    settings = window.settings
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/explore_splitter", window.explore_splitter.saveState())
    settings.setValue("ask/top_k", window.ask_panel.top_k.value())
    settings.setValue("caption/beam", window.caption_panel.beam.value())
    settings.setValue("caption/auto", "true" if window.caption_panel.auto.isChecked() else "false")


def save_view(settings: QSettings, colormap: str, opacity: int) -> None:
    settings.setValue("view/colormap", colormap)
    settings.setValue("view/opacity", opacity)


def save_theme(settings: QSettings, theme: str) -> None:
    settings.setValue("view/theme", theme)


def remembered_model(settings: QSettings, kind: ModelKind) -> str:
    """The model of ``kind`` last in use (its name or checkpoint path), else the bundled one."""
    return str(settings.value(MODEL_KEYS[kind], DEFAULT_MODELS[kind]))


def remember_model(settings: QSettings, kind: ModelKind, name: str) -> None:
    settings.setValue(MODEL_KEYS[kind], name)


def last_dataset(settings: QSettings) -> str | None:
    """The dataset folder last open, if it is still there."""
    last = settings.value("dataset/last")
    return last if isinstance(last, str) and Path(last).is_dir() else None


def remember_dataset(settings: QSettings, root: str) -> None:
    settings.setValue("dataset/last", root)


def remembered_split(settings: QSettings, path: str | None) -> str | None:
    """The split last shown of the dataset at ``path`` (None: the Shapes world), if it is that one."""
    root, split = settings.value("dataset/split_root"), settings.value("dataset/split")
    if not isinstance(root, str) or not isinstance(split, str):
        return None
    try:
        here = Path(path).expanduser() if path else default_shapes_root()
        same = here.resolve() == Path(root).resolve()
    except OSError:
        return None
    return split if same else None


def remember_split(settings: QSettings, root: str, name: str) -> None:
    settings.setValue("dataset/split_root", root)
    settings.setValue("dataset/split", name)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default

"""Photos dropped on the window (or opened with File → Open image…): one "Dropped photos" dataset.

Each drop adds its new photos to the set, reopens it as a dataset of loose
photos and captions the new ones in one job (``PoolApi.caption_many``);
their captions label the browser's thumbnails and are shown again, not
recomputed, when a photo is selected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from vqadesk.data.dataset import DatasetSplit, open_photos
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.errors import VqadeskError
from vqadesk.text.counts import plural

if TYPE_CHECKING:
    from vqadesk.gui.main_window import MainWindow


class DroppedPhotos(QObject):
    """The photos dropped so far and their captions (photo path -> ``CaptionPrediction``)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self._window = window
        self.paths: list[Path] = []
        self.captions: dict[str, object] = {}

    def add(self, photos: list[Path]) -> None:
        """Show the dropped photos with ``photos`` added, the first of them selected, and caption the new ones."""
        window = self._window
        new = [p for p in photos if p not in self.paths]
        self.paths.extend(new)
        try:
            dataset = open_photos(self.paths)
        except VqadeskError as exc:
            window.statusBar().showMessage(str(exc))
            return
        window.show_dataset(dataset)
        split = dataset.split(dataset.split_names[0])  # one split, already open
        window.browser.select_row(self.paths.index(photos[0]))
        window.show_side_tab("Caption")
        self.caption([str(p) for p in new], split)

    def caption(self, paths: list[str], split: DatasetSplit) -> None:
        if not paths:
            return
        window = self._window
        beam = window.caption_panel.beam.value()

        def done(predictions) -> None:
            for path, prediction in zip(paths, predictions):
                self.captions[path] = prediction
            window.browser.set_labels({i: self.captions[str(split.coco.image_path(i))].best.text
                                       for i in split.image_ids
                                       if str(split.coco.image_path(i)) in self.captions})
            context = window.context
            if context is not None and str(context.path) in self.captions:
                window.caption_panel.show_prediction(context, self.captions[str(context.path)])
            window.statusBar().showMessage(f"Captioned {plural(len(paths), 'dropped photo')}", 8000)

        window.statusBar().showMessage(f"Captioning {plural(len(paths), 'dropped photo')}…")
        window.inference.submit("caption-dropped", PoolApi.caption_many, paths, beam_size=beam, on_done=done,
                                on_error=lambda message: window.statusBar().showMessage(message))

"""Thumbnails made in pool threads only for what a view paints, shared by the browser and the Batch tab.

A model's ``data(DecorationRole)`` runs inside the view's paint, so it only
asks ``icon(key, path)``: the icon when made, else a neutral placeholder,
and the key is noted as wanted. The tasks start on the next event-loop
turn, after the paint; keys asked for by an earlier paint whose tasks have
not started yet (scrolled past) are taken back from the pool, so the
threads make what is on screen now. Thumbnails are cached on disk
(``data/thumbnails.py``), so a second visit decodes nothing; an unreadable
photo gets a red tile. ``sig_ready(key)`` tells the model which row to
repaint.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap

from vqadesk.data.thumbnails import cached_thumbnail
from vqadesk.gui.background.workers import BackgroundTasks
from vqadesk.gui.qimage import pil_to_qimage


def make_thumbnail(path: Path, size: int) -> QImage:
    """Pool thread: ``path``'s thumbnail, from the on-disk cache or decoded (and cached)."""
    return pil_to_qimage(cached_thumbnail(path, size))


class LazyThumbnails(QObject):
    """Icons of ``size`` px keyed by the caller's keys (image ids, photo keys), made on demand."""

    sig_ready = Signal(object)  # the key whose icon has just been made

    def __init__(self, size: int, parent: QObject | None = None, *, max_threads: int = 2):
        super().__init__(parent)
        self.size = size
        self._icons: dict[Hashable, QIcon] = {}
        self._paths: dict[Hashable, Path] = {}  # wanted keys' files
        self._pending: set[Hashable] = set()
        self._wanted: dict[Hashable, None] = {}  # asked for by the last paint(s), not started yet (ordered)
        self._generation = 0  # bumped by ``clear``: results of older tasks are dropped
        self._start_timer = QTimer(self, singleShot=True, interval=0)
        self._start_timer.timeout.connect(self._start_wanted)
        self._tasks = BackgroundTasks(self, max_threads=max_threads)  # keyed by the caller's keys
        placeholder = QPixmap(size, size)
        placeholder.fill(QColor(128, 128, 128, 60))
        self.placeholder = QIcon(placeholder)

    def icon(self, key: Hashable, path: Path | None) -> QIcon:
        """``key``'s icon, or the placeholder while it is made (``path`` None: it stays the placeholder)."""
        icon = self._icons.get(key)
        if icon is not None:
            return icon
        if path is not None and key not in self._pending:
            self._wanted[key] = None
            self._paths[key] = path
            self._start_timer.start()
        return self.placeholder

    def clear(self) -> None:
        """Forget every icon (another split, another batch); tasks under way are ignored when they end."""
        self._icons.clear()
        self._wanted.clear()
        self._paths.clear()
        self._pending.clear()
        self._generation += 1

    def loaded_count(self) -> int:
        return len(self._icons)

    def is_busy(self) -> bool:
        """Thumbnails are being made (or are about to be)."""
        return bool(self._pending or self._wanted)

    def _start_wanted(self) -> None:
        """After the paint: drop queued tasks of keys no longer painted, start the painted ones."""
        wanted, self._wanted = self._wanted, {}
        for key in self._tasks.keys():
            if key not in wanted and self._tasks.take_back(key):  # queued, never started: scrolled past
                self._pending.discard(key)
        for key in wanted:
            path = self._paths.pop(key, None)
            if path is None or key in self._pending:
                continue
            self._pending.add(key)
            generation = self._generation
            self._tasks.start(make_thumbnail, path, self.size, key=key,
                              on_done=lambda image, k=key, g=generation: self._done(g, k, image),
                              on_fail=lambda _message, k=key, g=generation: self._done(g, k, None))

    def _done(self, generation: int, key: Hashable, image: QImage | None) -> None:
        if generation != self._generation:
            return
        self._pending.discard(key)
        if image is None:
            pixmap = QPixmap(self.size, self.size)
            pixmap.fill(QColor(200, 60, 60, 90))  # unreadable image: a red tile
        else:
            pixmap = QPixmap.fromImage(image)
        self._icons[key] = QIcon(pixmap)
        self.sig_ready.emit(key)

    def shutdown(self) -> None:
        self._start_timer.stop()
        self._tasks.shutdown(2000)

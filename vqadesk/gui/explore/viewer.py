"""The image viewer: fit, zoom (wheel), pan (drag) and overlays.

Overlays, each toggled on its own: object boxes from instances annotations,
and one attention heatmap -- where the VQA model looked for the last answer,
or where the captioner looked for the word the user clicked. A map covers
what the model saw, as its prediction's ``attention_region`` says: the own
models see ``fit_square``'s centre square (``CENTRE_SQUARE``), pretrained
models whose processor resizes the whole photo see all of it
(``WHOLE_IMAGE``, any (h, w) grid, stretched to the photo's shape). The map
is smoothly upsampled from its grid (8 x 8 for the Shapes CNN), coloured by
a perceptual colour map and shown with the user's opacity. Maps are scaled to their own maximum: they show where the
model looked most, not absolute values (each sums to 1 over the grid).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from vqadesk.data.coco import CocoObject
from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE

# Boxes must stay visible on any image, whatever its colours (the Shapes world
# uses all the bright hues): a white line on a dark outline, labels on a dark tab.
BOX_LINE = QColor(255, 255, 255)
BOX_OUTLINE = QColor(0, 0, 0, 200)
LABEL_BACKGROUND = QColor(0, 0, 0, 170)
HEATMAP_COLORMAPS = ("inferno", "viridis", "turbo", "CET-L4")
DEFAULT_COLORMAP = "inferno"
DEFAULT_OPACITY = 0.6


def colour_lookup(name: str) -> np.ndarray:
    """``(256, 3) uint8`` colours of one of pyqtgraph's bundled colour maps."""
    import pyqtgraph as pg

    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False).astype(np.uint8)


def heatmap_image(grid: np.ndarray, lookup: np.ndarray) -> QImage:
    """A small RGB QImage of ``grid`` (h, w), scaled to its maximum, through ``lookup``."""
    values = np.asarray(grid, dtype=np.float64)
    top = values.max() if values.size else 0.0
    scaled = values / top if top > 0 else np.zeros_like(values)
    rgb = np.ascontiguousarray(lookup[np.clip((scaled * 255).round().astype(int), 0, 255)])  # (h, w, 3)
    height, width = values.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def heatmap_area(width: int, height: int, region: str) -> QRectF:
    """The part of a ``width`` x ``height`` image a map of ``region`` covers: all of it, or its centre square."""
    if region == WHOLE_IMAGE:
        return QRectF(0, 0, width, height)
    side = min(width, height)  # fit_square's centre crop
    return QRectF((width - side) / 2, (height - side) / 2, side, side)


class ImageViewer(QGraphicsView):
    """Shows one image; fits it to the view until the user zooms."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.setMinimumSize(240, 240)
        self._pixmap_item: QGraphicsPixmapItem | None = None
        self._box_items: list[QGraphicsRectItem | QGraphicsSimpleTextItem] = []
        self._fit = True
        self._boxes_visible = True
        self._message: QGraphicsSimpleTextItem | None = None
        self._heatmap_item: QGraphicsPixmapItem | None = None
        self._heatmap_grid: np.ndarray | None = None
        self._heatmap_region = CENTRE_SQUARE
        self._heatmap_visible = True
        self._opacity = DEFAULT_OPACITY
        self._colormap = DEFAULT_COLORMAP
        self._lookup: np.ndarray | None = None
        self.heatmap_label = ""

    def show_image(self, image: QImage, objects: list[CocoObject]) -> None:
        scene = self.scene()
        scene.clear()
        self._box_items = []
        self._message = None
        self._heatmap_item = None
        self._heatmap_grid = None
        self.heatmap_label = ""
        self._pixmap_item = scene.addPixmap(QPixmap.fromImage(image))
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # Drawn once at screen resolution and reused: every answer repaints the photo under
        # its new heatmap, and smooth-scaling a 640 px photo each time costs milliseconds.
        self._pixmap_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        scene.setSceneRect(QRectF(0, 0, image.width(), image.height()))
        self._add_boxes(objects)
        self._fit = True
        self._fit_view()

    def show_message(self, text: str) -> None:
        """Replace the image by a readable message (e.g. an unreadable file)."""
        scene = self.scene()
        scene.clear()
        self._pixmap_item = None
        self._box_items = []
        self._heatmap_item = None
        self._heatmap_grid = None
        self.heatmap_label = ""
        self._message = scene.addSimpleText(text)
        self._message.setBrush(QBrush(QColor(230, 230, 230)))
        scene.setSceneRect(self._message.boundingRect().adjusted(-20, -20, 20, 20))
        self.resetTransform()

    def set_boxes_visible(self, visible: bool) -> None:
        self._boxes_visible = visible
        for item in self._box_items:
            item.setVisible(visible)

    # -- the attention heatmap --------------------------------------------------------------

    def show_heatmap(self, grid: np.ndarray | None, label: str = "", region: str = CENTRE_SQUARE) -> None:
        """Lay ``grid`` (h, w) over the part of the image the model saw (``region``); None removes the map."""
        if self._heatmap_item is not None:
            self.scene().removeItem(self._heatmap_item)
            self._heatmap_item = None
        self._heatmap_grid = None if grid is None else np.asarray(grid)
        self._heatmap_region = region
        self.heatmap_label = label if grid is not None else ""
        if self._heatmap_grid is None or self._pixmap_item is None or self._heatmap_grid.ndim != 2:
            return
        if self._lookup is None:
            self._lookup = colour_lookup(self._colormap)
        rows, columns = self._heatmap_grid.shape
        item = self.scene().addPixmap(QPixmap.fromImage(heatmap_image(self._heatmap_grid, self._lookup)))
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)  # bilinear upsampling
        area = heatmap_area(self._pixmap_item.pixmap().width(), self._pixmap_item.pixmap().height(), region)
        item.setTransform(QTransform.fromScale(area.width() / columns, area.height() / rows))
        item.setPos(area.topLeft())
        item.setOpacity(self._opacity)
        item.setZValue(1)  # above the photo, below the boxes
        item.setVisible(self._heatmap_visible)
        item.setToolTip(label)
        self._heatmap_item = item

    def clear_heatmap(self) -> None:
        self.show_heatmap(None)

    def has_heatmap(self) -> bool:
        return self._heatmap_item is not None

    def heatmap_rect(self) -> QRectF | None:
        """Where the map lies, in image pixels (None without a map)."""
        item = self._heatmap_item
        if item is None:
            return None
        size = item.pixmap().size()  # its grid; the bounding rect of a smooth pixmap item has a margin
        return item.mapRectToScene(QRectF(0, 0, size.width(), size.height()))

    @property
    def heatmap_region(self) -> str:
        return self._heatmap_region

    @property
    def heatmap_grid(self) -> np.ndarray | None:
        return self._heatmap_grid

    def set_heatmap_visible(self, visible: bool) -> None:
        self._heatmap_visible = visible
        if self._heatmap_item is not None:
            self._heatmap_item.setVisible(visible)

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        if self._heatmap_item is not None:
            self._heatmap_item.setOpacity(self._opacity)

    def set_colormap(self, name: str) -> None:
        if name not in HEATMAP_COLORMAPS:
            return
        self._colormap = name
        self._lookup = colour_lookup(name)
        if self._heatmap_grid is not None:
            self.show_heatmap(self._heatmap_grid, self.heatmap_label, self._heatmap_region)

    def boxes_count(self) -> int:
        """How many objects have a box (each box is drawn with three items)."""
        return len(self._box_items) // 3

    def _add_boxes(self, objects: list[CocoObject]) -> None:
        # Lines and labels keep their size on screen whatever the zoom (cosmetic
        # pens, labels that ignore the view transform), so they read the same on
        # a 128 px Shapes scene and a 640 px photo.
        outline = QPen(BOX_OUTLINE, 3.5)
        outline.setCosmetic(True)
        line = QPen(BOX_LINE, 1.5)
        line.setCosmetic(True)
        font = QFont()
        font.setPixelSize(12)
        scene = self.scene()
        for obj in objects:
            x, y, w, h = obj.bbox
            items = [scene.addRect(QRectF(x, y, w, h), outline), scene.addRect(QRectF(x, y, w, h), line)]
            label = QGraphicsSimpleTextItem(obj.category_name)
            label.setFont(font)
            label.setBrush(QBrush(BOX_LINE))
            text = label.boundingRect()
            # The tab sits just above the box's top-left corner, in screen pixels.
            tab = QGraphicsRectItem(QRectF(0, -text.height() - 2, text.width() + 6, text.height() + 2))
            tab.setPen(QPen(Qt.PenStyle.NoPen))
            tab.setBrush(QBrush(LABEL_BACKGROUND))
            tab.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            tab.setPos(x, y)
            label.setParentItem(tab)
            label.setPos(3, -text.height() - 1)
            scene.addItem(tab)
            items.append(tab)
            for item in items:
                item.setZValue(2)
                item.setVisible(self._boxes_visible)
            self._box_items.extend(items)

    def _fit_view(self) -> None:
        if self._pixmap_item is not None and self._fit:
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_view()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._pixmap_item is None:
            return
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._fit = True  # double-click returns to "fit to window"
        self._fit_view()
        super().mouseDoubleClickEvent(event)

    def fit_to_window(self) -> None:
        self._fit = True
        self._fit_view()

    def zoom(self, factor: float) -> None:
        if self._pixmap_item is not None:
            self._fit = False
            self.scale(factor, factor)

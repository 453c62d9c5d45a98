"""The image viewer: fit, zoom (wheel), pan (drag) and object-box overlays."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
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

# Boxes must stay visible on any image, whatever its colours (the Shapes world
# uses all the bright hues): a white line on a dark outline, labels on a dark tab.
BOX_LINE = QColor(255, 255, 255)
BOX_OUTLINE = QColor(0, 0, 0, 200)
LABEL_BACKGROUND = QColor(0, 0, 0, 170)


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

    def show_image(self, image: QImage, objects: list[CocoObject]) -> None:
        scene = self.scene()
        scene.clear()
        self._box_items = []
        self._message = None
        self._pixmap_item = scene.addPixmap(QPixmap.fromImage(image))
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
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
        self._message = scene.addSimpleText(text)
        self._message.setBrush(QBrush(QColor(230, 230, 230)))
        scene.setSceneRect(self._message.boundingRect().adjusted(-20, -20, 20, 20))
        self.resetTransform()

    def set_boxes_visible(self, visible: bool) -> None:
        self._boxes_visible = visible
        for item in self._box_items:
            item.setVisible(visible)

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
        self._fit = False
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._fit = True  # double-click returns to "fit to window"
        self._fit_view()
        super().mouseDoubleClickEvent(event)

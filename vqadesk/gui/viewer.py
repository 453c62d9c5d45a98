"""The image viewer: fit, zoom (wheel), pan (drag) and object-box overlays."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from vqadesk.data.coco import CocoObject

BOX_COLOUR = QColor(255, 200, 0)


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
        self._add_boxes(objects, image.width())
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
        return sum(isinstance(item, QGraphicsRectItem) for item in self._box_items)

    def _add_boxes(self, objects: list[CocoObject], image_width: int) -> None:
        # Line and label sizes follow the image size so boxes read the same on
        # a 128 px Shapes scene and a 640 px photo.
        pen = QPen(BOX_COLOUR, max(1.0, image_width / 320))
        pen.setCosmetic(False)
        font = QFont()
        font.setPixelSize(max(7, image_width // 30))
        for obj in objects:
            x, y, w, h = obj.bbox
            rect = self.scene().addRect(QRectF(x, y, w, h), pen)
            label = self.scene().addSimpleText(obj.category_name, font)
            label.setBrush(QBrush(BOX_COLOUR))
            label.setPos(x, max(0.0, y - font.pixelSize() - 2))
            for item in (rect, label):
                item.setVisible(self._boxes_visible)
                self._box_items.append(item)

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

"""Pillow images to Qt images, safe to call from worker threads.

QImage (unlike QPixmap) may be created outside the GUI thread, so thumbnail
workers decode with the project's image loader and hand back QImages.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB Pillow image as a QImage that owns its pixels."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from ``data``, which Python will free

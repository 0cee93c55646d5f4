"""Pixels between Pillow/numpy (the engine's side) and QImage (the screen's side).

Safe to call from worker threads: QImage, unlike QPixmap, is not tied to the GUI thread.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage, QPainter

from resnet_desktop.core.imaging.decode import image_from_array


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB Pillow image as a QImage that owns a copy of the pixels."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    data = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    height, width = data.shape[:2]
    qimage = QImage(data.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()


def qimage_to_rgb_array(image: QImage) -> np.ndarray:
    """An HxWx3 uint8 RGB copy of ``image``; transparency is composited over white."""
    if image.hasAlphaChannel():
        flat = QImage(image.size(), QImage.Format.Format_RGB888)
        flat.fill(0xFFFFFF)
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    else:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, :width * 3].reshape(height, width, 3).copy()


def qimage_to_pil(image: QImage) -> Image.Image:
    """An RGB Pillow image with a copy of the pixels, ready for the engine (pasted images,
    camera frames)."""
    return image_from_array(qimage_to_rgb_array(image))

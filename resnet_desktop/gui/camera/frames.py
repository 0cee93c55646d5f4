"""Camera frames as pixels: QVideoFrame -> QImage -> RGB numpy array, brightness, saving.

Cameras deliver frames in whatever pixel format they like (NV12, YUYV, MJPEG decoded to
YUV420P, BGRA...). ``QVideoFrame.toImage()`` converts any of them (on the CPU when no GPU
backend is around), and :func:`~resnet_desktop.gui.widgets.image_convert.qimage_to_rgb_array` turns
the QImage into the packed RGB array that the engine takes, minding ``bytesPerLine`` padding.

Everything here is safe on worker threads: it touches QImage and QVideoFrame (reentrant,
implicitly shared), never a widget or a QPixmap.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame

from resnet_desktop.core.foundation.atomic import atomic_open
from resnet_desktop.core.foundation.errors import ImageError
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array

log = logging.getLogger(__name__)

DARK_LUMINANCE = 12.0
"""Mean luma (0-255) below which a frame counts as the black picture of a camera warming up.
A dim room is still around 30-60; a covered lens or a sensor that is not streaming yet is < 5."""

_LUMA_SIDE = 32

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP",
                ".tif": "TIFF", ".tiff": "TIFF"}
"""What a snapshot can be saved as, by file name extension."""

SAVE_FILTER = ("PNG image (*.png);;JPEG image (*.jpg *.jpeg);;WebP image (*.webp);;"
               "BMP image (*.bmp);;TIFF image (*.tif *.tiff)")


def frame_to_qimage(frame: QVideoFrame) -> QImage | None:
    """The frame as a QImage (any pixel format converted), or None for an empty frame."""
    if not frame.isValid():
        return None
    image = frame.toImage()
    return None if image.isNull() else image


def mean_luminance(image: QImage) -> float:
    """Mean Rec. 601 luma (0-255) of ``image``, measured on a small downscaled copy."""
    if image.isNull():
        return 0.0
    small = image.scaled(_LUMA_SIDE, _LUMA_SIDE, Qt.AspectRatioMode.IgnoreAspectRatio,
                         Qt.TransformationMode.FastTransformation)
    rgb = qimage_to_rgb_array(small).astype(np.float32)
    return float((rgb @ np.array([0.299, 0.587, 0.114], np.float32)).mean())


def is_dark(image: QImage, threshold: float = DARK_LUMINANCE) -> bool:
    return mean_luminance(image) < threshold


def save_rgb(pixels: np.ndarray, path: Path) -> Path:
    """Write an RGB array as an image file, atomically; the format follows the extension.

    Raises :class:`ImageError` with a one-line message for an unknown extension or a write
    that fails (the previous file, if any, is left untouched).
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(SAVE_FORMATS))
        what = path.suffix or "a file without an extension"
        raise ImageError(f"{path.name}: cannot save as {what}; use one of {known}")
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
    options = {"quality": 92} if fmt in ("JPEG", "WEBP") else {}
    try:
        with atomic_open(path, "wb") as handle:
            image.save(handle, format=fmt, **options)
    except OSError as exc:
        raise ImageError(f"{path.name}: cannot be saved ({exc.strerror or exc})") from None
    log.info("snapshot saved to %s", path)
    return path

"""The live camera picture, scaled to fit and optionally mirrored, or a message in its place.

A plain widget painting the newest frame rather than a QVideoWidget: it can mirror, it shows
messages (no camera, permission, errors) in the same place, and ``grab()`` renders it in
headless tests. A frame is converted to a QImage only when it is painted, so frames arriving
faster than the screen repaints cost nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtMultimedia import QVideoFrame
from PySide6.QtWidgets import QSizePolicy, QWidget

from resnet_desktop.gui.camera.frames import frame_to_qimage

_MARGIN = 24


class CameraPreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(240, 180)
        self._frame: QVideoFrame | None = None
        self._image: QImage | None = None
        self._mirrored = False
        self._message = ""

    # -- what the panel and tests read --------------------------------------------------------

    def message(self) -> str:
        return self._message

    def current_image(self) -> QImage | None:
        """The newest frame as a QImage (converted once per frame, on demand)."""
        if self._image is None and self._frame is not None:
            self._image = frame_to_qimage(self._frame)
        return self._image

    # -- updates -------------------------------------------------------------------------------

    def set_frame(self, frame: QVideoFrame) -> None:
        self._frame = frame
        self._image = None
        self.update()

    def clear_frame(self) -> None:
        self._frame = None
        self._image = None
        self.update()

    def set_mirrored(self, on: bool) -> None:
        self._mirrored = bool(on)
        self.update()

    def set_message(self, text: str) -> None:
        """Show ``text`` instead of the picture; an empty text shows the picture again."""
        self._message = text
        self.setAccessibleDescription(text)
        self.update()

    # -- painting ------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        image = None if self._message else self.current_image()
        if image is not None:
            self._paint_image(painter, image)
        else:
            self._paint_message(painter)
        painter.end()

    def _paint_image(self, painter: QPainter, image: QImage) -> None:
        size = image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                        size.width(), size.height())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._mirrored:
            painter.translate(self.width(), 0)
            painter.scale(-1, 1)
        painter.drawImage(target, image)
        painter.resetTransform()

    def _paint_message(self, painter: QPainter) -> None:
        text = self._message or "Starting the camera…"
        painter.setPen(QColor(230, 230, 230))  # on the preview's own dark background
        area = QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

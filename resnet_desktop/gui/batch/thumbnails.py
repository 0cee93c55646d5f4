"""Small previews for the results table, made off the GUI thread and only when asked for.

The table asks for a thumbnail only when a row is painted, so a batch of ten thousand photos
decodes the few dozen on screen, not all of them. Decoding uses JPEG draft mode (a 12-megapixel
photo decodes at 1/8 scale) on one pool thread, so it never competes much with the batch.
Finished previews are kept in a bounded most-recently-used cache.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPainter, QPixmap

from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.imaging.decode import load_image
from resnet_desktop.gui.widgets.image_convert import pil_to_qimage

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = 48


class _Relay(QObject):
    """Lives on the GUI thread; pool threads emit through it (queued)."""

    made = Signal(str, object)


def _centred_on_square(image: QImage, size: int) -> QImage:
    """Every preview the same square size, so the file names beside them line up."""
    square = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    painter.drawImage((size - image.width()) // 2, (size - image.height()) // 2, image)
    painter.end()
    return square


class _MakeThumbnail(QRunnable):
    def __init__(self, relay: _Relay, path: str, size: int) -> None:
        super().__init__()
        self._relay = relay
        self._path = path
        self._size = size

    def run(self) -> None:
        image: QImage | None = None
        try:
            picture = load_image(self._path, draft=(self._size, self._size))
            picture.thumbnail((self._size, self._size), Image.Resampling.BILINEAR)
            image = _centred_on_square(pil_to_qimage(picture), self._size)
        except ResNetDesktopError:
            image = None
        except Exception:  # a preview is never worth a crash
            log.exception("thumbnail of %s failed", self._path)
        with contextlib.suppress(RuntimeError):  # the table is gone
            self._relay.made.emit(self._path, image)


class ThumbnailCache(QObject):
    """``pixmap(path)`` returns a cached preview or None and starts making it;
    ``thumbnail_ready(path)`` says when it is there."""

    thumbnail_ready = Signal(str)

    def __init__(self, parent: QObject | None = None, *, size: int = THUMBNAIL_SIZE,
                 capacity: int = 600) -> None:
        super().__init__(parent)
        self.size = size
        self._capacity = capacity
        self._cache: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.made.connect(self._on_made)

    def pixmap(self, path: Path | str) -> QPixmap | None:
        key = str(path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_MakeThumbnail(self._relay, key, self.size))
        return None

    def clear(self) -> None:
        self._pool.clear()
        self._cache.clear()
        self._pending.clear()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)

    @Slot(str, object)
    def _on_made(self, path: str, image: QImage | None) -> None:
        if path not in self._pending:
            return  # cleared meanwhile
        self._pending.discard(path)
        self._cache[path] = QPixmap.fromImage(image) if image is not None else None
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        self.thumbnail_ready.emit(path)

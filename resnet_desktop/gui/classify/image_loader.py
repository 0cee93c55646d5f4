"""Decode images for display on a small thread pool, so a 50-megapixel photo never freezes the UI.

Files go through the engine's own decoder (``core.imaging.load_image``), so the pane accepts
exactly the files the classifier accepts and shows the engine's message for the others.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from resnet_desktop.core.foundation.errors import ResNetDesktopError

log = logging.getLogger(__name__)

DISPLAY_MAX_SIDE = 2048
THUMBNAIL_SIDE = 96


class ImageLoader(QObject):
    """Loads files into QImages off the GUI thread; each call's answer carries its ticket."""

    loaded = Signal(int, object)
    """(ticket, QImage) scaled to at most ``max_side`` pixels."""
    failed = Signal(int, str)
    """(ticket, one-line message for the user)."""

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)

    def load(self, ticket: int, path: Path, max_side: int = DISPLAY_MAX_SIDE) -> None:
        self._pool.start(_LoadTask(self, ticket, Path(path), max_side))

    def clear(self) -> None:
        """Drop queued loads (running ones finish; their tickets are stale by then)."""
        self._pool.clear()

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)


class _LoadTask(QRunnable):
    def __init__(self, loader: ImageLoader, ticket: int, path: Path, max_side: int) -> None:
        super().__init__()
        self._loader = loader
        self._ticket = ticket
        self._path = path
        self._max_side = max_side

    def run(self) -> None:
        # Imported on the pool's thread: the decoder brings numpy and Pillow, which the
        # window's first paint does without.
        from resnet_desktop.core.imaging.decode import load_image
        from resnet_desktop.gui.widgets.image_convert import pil_to_qimage

        try:
            image = load_image(self._path, draft=(self._max_side, self._max_side))
            image.thumbnail((self._max_side, self._max_side))
            qimage = pil_to_qimage(image)
        except ResNetDesktopError as exc:
            self._emit("failed", str(exc))
            return
        except Exception as exc:  # a decoder bug must not kill the pool thread silently
            log.exception("could not display %s", self._path)
            self._emit("failed", f"{self._path.name}: cannot be shown ({exc})")
            return
        self._emit("loaded", qimage)

    def _emit(self, name: str, payload: object) -> None:
        with contextlib.suppress(RuntimeError):  # the pane that asked is gone; nobody listens
            getattr(self._loader, name).emit(self._ticket, payload)

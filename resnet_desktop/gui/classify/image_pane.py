"""The image pane: drop, paste or open images, step through several, see each scaled to fit.

The pane decodes for display on a thread pool (:mod:`image_loader`) and says
:attr:`ImagePane.image_changed` once the current image is on screen; the window then asks for
its classification. Problems (not an image, unreadable, empty clipboard) are shown in the pane
itself, never in a modal dialog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QImage,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.gui.classify.image_loader import THUMBNAIL_SIDE, ImageLoader
from resnet_desktop.gui.classify.strip_delegate import StripDelegate
from resnet_desktop.gui.widgets import palette as colours

if TYPE_CHECKING:  # numpy, which the first paint does without
    from resnet_desktop.core.imaging.crop_box import CropBox

log = logging.getLogger(__name__)

PLACEHOLDER = "Drop images here\nor paste one (Ctrl+V), or open files (Ctrl+O)"
MAX_STRIP_THUMBNAILS = 300


@dataclass(frozen=True)
class ImageSource:
    """What the pane shows: a file, or an image that came without one (pasted)."""

    path: Path | None = None
    image: QImage | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or (self.path.name if self.path else "Pasted image")


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files named by a drop or the clipboard (folders give their image files)."""
    from resnet_desktop.core.imaging.decode import EXTENSIONS  # numpy, Pillow: not at start

    paths: list[Path] = []
    for url in mime.urls() if mime.hasUrls() else []:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            paths.extend(sorted((p for p in path.iterdir()
                                 if p.is_file() and p.suffix.lower() in EXTENSIONS),
                                key=lambda p: p.name.lower()))
        else:
            paths.append(path)
    return paths


class ImageView(QWidget):
    """Paints one image scaled to fit with its aspect ratio, or a message, or the drop hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None
        self._message = ""
        self._is_error = False
        self._busy = False
        self._drag_over = False
        self._overlay: QImage | None = None
        self._overlay_crop: CropBox | None = None
        self._overlay_opacity = 0.5

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def overlay(self) -> QImage | None:
        """The map drawn over the image's crop, if any."""
        return self._overlay

    def set_overlay(self, image: QImage | None, crop: CropBox | None) -> None:
        """Draw ``image`` stretched over ``crop`` (fractions of the image); None removes it."""
        self._overlay, self._overlay_crop = image, crop
        self.update()

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_opacity = opacity
        self.update()

    def message(self) -> str:
        return self._message

    def set_image(self, image: QImage) -> None:
        self._pixmap = QPixmap.fromImage(image)
        self._scaled = None
        self._overlay = self._overlay_crop = None
        self._message, self._is_error, self._busy = "", False, False
        self.update()

    def set_message(self, text: str, *, error: bool = False, busy: bool = False) -> None:
        """Replace the image by ``text`` (an error is drawn with a warning colour)."""
        self._pixmap = None
        self._scaled = None
        self._overlay = self._overlay_crop = None
        self._message, self._is_error, self._busy = text, error, busy
        self.update()

    def set_drag_over(self, on: bool) -> None:
        self._drag_over = on
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn: centred, scaled to fit, aspect ratio kept."""
        if self._pixmap is None or self._pixmap.isNull():
            return QRectF()
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        size = QSize(self._pixmap.size())
        size.scale(area.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        if size.width() > self._pixmap.width() * 4:
            size = self._pixmap.size() * 4
        x = area.left() + (area.width() - size.width()) / 2
        y = area.top() + (area.height() - size.height()) / 2
        return QRectF(x, y, size.width(), size.height())

    def resizeEvent(self, event) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pal = self.palette()
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        path = QPainterPath()
        path.addRoundedRect(frame, 8, 8)
        painter.fillPath(path, colours.mix(pal.color(QPalette.ColorRole.Window),
                                           pal.color(QPalette.ColorRole.Base), 0.5))
        if self._drag_over:
            pen = QPen(colours.accent(pal), 2, Qt.PenStyle.DashLine)
        elif self._pixmap is None:
            pen = QPen(colours.mix(pal.color(QPalette.ColorRole.Window),
                                   pal.color(QPalette.ColorRole.WindowText), 0.25), 1.5,
                       Qt.PenStyle.DashLine)
        else:
            pen = QPen(colours.mix(pal.color(QPalette.ColorRole.Window),
                                   pal.color(QPalette.ColorRole.WindowText), 0.15), 1)
        painter.setPen(pen)
        painter.drawPath(path)

        if self._pixmap is not None and not self._pixmap.isNull():
            target = self.image_rect()
            if self._scaled is None or self._scaled.size() != target.size().toSize():
                self._scaled = self._pixmap.scaled(target.size().toSize(),
                                                   Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(target.topLeft(), self._scaled)
            if self._overlay is not None and self._overlay_crop is not None:
                crop = self._overlay_crop
                painter.setOpacity(self._overlay_opacity)
                painter.drawImage(QRectF(target.left() + crop.left * target.width(),
                                         target.top() + crop.top * target.height(),
                                         (crop.right - crop.left) * target.width(),
                                         (crop.bottom - crop.top) * target.height()),
                                  self._overlay)
                painter.setOpacity(1.0)
        else:
            self._paint_message(painter, frame)
        painter.end()

    def _paint_message(self, painter: QPainter, frame: QRectF) -> None:
        pal = self.palette()
        text = self._message or PLACEHOLDER
        area = frame.adjusted(24, 24, -24, -24)
        icon_size = 40
        if self._is_error:
            icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            colour = colours.error(pal)
        else:
            icon = QIcon()
            colour = colours.muted_text(pal) if not self._busy else \
                pal.color(QPalette.ColorRole.WindowText)
        font = painter.font()
        if not self._message:
            font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.15)
        painter.setFont(font)
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | \
            Qt.TextFlag.TextWordWrap
        bounds = painter.boundingRect(area, flags, text)
        total = bounds.height() + (icon_size + 12 if not icon.isNull() else 0)
        y = area.top() + max(0.0, (area.height() - total) / 2)
        if not icon.isNull():
            icon.paint(painter, int(area.center().x() - icon_size / 2), int(y), icon_size,
                       icon_size)
            y += icon_size + 12
        painter.setPen(QColor(colour))
        painter.drawText(QRectF(area.left(), y, area.width(), area.bottom() - y), flags, text)


class ImagePane(QWidget):
    """Drop, paste or open images; Left/Right step through several; shows one at a time."""

    image_loading = Signal(object)
    """Another :class:`ImageSource` became current; any answer about the previous one is stale."""
    image_changed = Signal(object)
    """An :class:`ImageSource` is now on screen and should be classified."""
    image_failed = Signal(object, str)
    """(:class:`ImageSource`, message): the current file cannot be shown (message in the pane)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._sources: list[ImageSource] = []
        self._index = -1
        self._ticket = 0
        self._strip_generation = 0
        self._loader = ImageLoader(self)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)
        self._thumbs = ImageLoader(self, threads=1)
        self._thumbs.loaded.connect(self._on_thumbnail)

        self.view = ImageView(self)
        self.view.setAcceptDrops(False)
        self.caption = QLabel(self)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setMinimumWidth(50)
        self.previous_button = QToolButton(self)
        self.previous_button.setArrowType(Qt.ArrowType.LeftArrow)
        self.previous_button.setToolTip("Previous image (Left)")
        self.previous_button.clicked.connect(self.show_previous)
        self.next_button = QToolButton(self)
        self.next_button.setArrowType(Qt.ArrowType.RightArrow)
        self.next_button.setToolTip("Next image (Right)")
        self.next_button.clicked.connect(self.show_next)
        self.strip = QListWidget(self)
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setIconSize(QSize(THUMBNAIL_SIDE // 2 + 16, THUMBNAIL_SIDE // 2 + 16))
        self.strip.setFixedHeight(THUMBNAIL_SIDE // 2 + 40)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.currentRowChanged.connect(self._on_strip_row)
        self.strip.setItemDelegate(StripDelegate(self.strip))

        nav = QHBoxLayout()
        nav.setContentsMargins(0, 0, 0, 0)
        nav.addWidget(self.previous_button)
        nav.addWidget(self.caption, 1)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.view, 1)
        layout.addLayout(nav)
        layout.addWidget(self.strip)
        self._update_navigation()

    # -- what the window and tests read -------------------------------------------------------

    def sources(self) -> list[ImageSource]:
        return list(self._sources)

    def current_index(self) -> int:
        return self._index

    def current_source(self) -> ImageSource | None:
        return self._sources[self._index] if 0 <= self._index < len(self._sources) else None

    def message(self) -> str:
        """The text shown in place of an image ("" while an image is shown)."""
        return self.view.message()

    def has_image(self) -> bool:
        return self.view.pixmap() is not None

    # -- bringing images in ----------------------------------------------------------------

    def open_paths(self, paths: list[Path]) -> None:
        """Show these files as a strip, starting with the first."""
        paths = [Path(p) for p in paths]
        if not paths:
            self.show_message("Nothing to show: no image files were given.", error=True)
            return
        self._set_sources([ImageSource(path=p) for p in paths])

    def show_image(self, image: QImage, name: str = "Pasted image") -> None:
        """Show an image that has no file (pasted); it replaces the strip."""
        if image.isNull():
            self.show_message("The pasted image is empty.", error=True)
            return
        self._set_sources([ImageSource(image=image, name=name)])

    def paste(self) -> bool:
        """Paste files or an image from the clipboard; says so in the pane when there is none."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.show_message("The clipboard is empty.", error=True)
            return False
        return self._take_mime(mime, "clipboard")

    def show_message(self, text: str, *, error: bool = False) -> None:
        """A message in place of the image; the strip (if any) stays."""
        self._ticket += 1
        self.view.set_message(text, error=error)

    def clear(self) -> None:
        self._ticket += 1
        self._sources = []
        self._index = -1
        self.strip.clear()
        self.view.set_message("")
        self._update_navigation()

    def show_next(self) -> None:
        if self._index + 1 < len(self._sources):
            self.set_index(self._index + 1)

    def show_previous(self) -> None:
        if self._index > 0:
            self.set_index(self._index - 1)

    def set_index(self, index: int) -> None:
        if not 0 <= index < len(self._sources):
            return
        self._index = index
        if self.strip.currentRow() != index:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(index)
            self.strip.blockSignals(False)
        self._update_navigation()
        self._show_current()

    def shutdown(self) -> None:
        """Stop decoding (called when the window closes)."""
        self._ticket += 1
        self._loader.shutdown()
        self._thumbs.shutdown()

    # -- internals ----------------------------------------------------------------------------

    def _set_sources(self, sources: list[ImageSource]) -> None:
        self._sources = sources
        self._thumbs.clear()
        self._strip_generation += 1
        self.strip.blockSignals(True)
        self.strip.clear()
        if len(sources) > 1:
            placeholder = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
            for i, source in enumerate(sources):
                item = QListWidgetItem(placeholder, "")
                item.setToolTip(source.label)
                item.setSizeHint(QSize(THUMBNAIL_SIDE // 2 + 24, THUMBNAIL_SIDE // 2 + 24))
                self.strip.addItem(item)
                if source.path is not None and i < MAX_STRIP_THUMBNAILS:
                    self._thumbs.load(self._strip_generation * MAX_STRIP_THUMBNAILS + i,
                                      source.path, THUMBNAIL_SIDE)
        self.strip.blockSignals(False)
        self._index = -1
        self.set_index(0)
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _show_current(self) -> None:
        source = self.current_source()
        if source is None:
            return
        self._ticket += 1
        self._loader.clear()
        self.image_loading.emit(source)
        if source.image is not None:
            self.view.set_image(source.image)
            self.image_changed.emit(source)
            return
        self.view.set_message(f"Loading {source.label}…", busy=True)
        self._loader.load(self._ticket, source.path)

    def _on_loaded(self, ticket: int, image: QImage) -> None:
        if ticket != self._ticket:
            return
        self.view.set_image(image)
        self.image_changed.emit(self.current_source())

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket != self._ticket:
            return
        self.view.set_message(message, error=True)
        self.image_failed.emit(self.current_source(), message)

    def _on_thumbnail(self, ticket: int, image: QImage) -> None:
        generation, row = divmod(ticket, MAX_STRIP_THUMBNAILS)
        item = self.strip.item(row) if generation == self._strip_generation else None
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _on_strip_row(self, row: int) -> None:
        if row != self._index:
            self.set_index(row)

    def _update_navigation(self) -> None:
        count = len(self._sources)
        several = count > 1
        self.strip.setVisible(several)
        self.previous_button.setVisible(several)
        self.next_button.setVisible(several)
        self.previous_button.setEnabled(self._index > 0)
        self.next_button.setEnabled(0 <= self._index < count - 1)
        source = self.current_source()
        if source is None:
            self.caption.setText("")
        elif several:
            self.caption.setText(f"{source.label}  ·  {self._index + 1} / {count}")
        else:
            self.caption.setText(source.label)

    def _take_mime(self, mime: QMimeData, where: str) -> bool:
        paths = local_paths(mime)
        if paths:
            self.open_paths(paths)
            return True
        if mime.hasImage():
            image = mime.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.show_image(image, "Pasted image" if where == "clipboard" else "Dropped image")
                return True
        if mime.hasUrls() and any(not url.isLocalFile() for url in mime.urls()):
            self.show_message("Only local files can be classified; save the image first.",
                              error=True)
        elif mime.hasUrls():
            self.show_message("The folder holds no image files.", error=True)
        else:
            self.show_message(f"The {where} holds no image and no image file.", error=True)
        return False

    # -- Qt events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()
            self.view.set_drag_over(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.view.set_drag_over(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.view.set_drag_over(False)
        event.acceptProposedAction()
        self._take_mime(event.mimeData(), "drop")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Right:
            self.show_next()
        elif event.key() == Qt.Key.Key_Left:
            self.show_previous()
        elif event.key() == Qt.Key.Key_Home:
            self.set_index(0)
        elif event.key() == Qt.Key.Key_End:
            self.set_index(len(self._sources) - 1)
        else:
            super().keyPressEvent(event)

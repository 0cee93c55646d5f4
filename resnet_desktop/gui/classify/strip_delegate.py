"""The thumbnail strip's items: the picture, and a frame round the one on screen.

Qt's icon mode highlights a selected item's text area; with no text that is a blue bar under
the thumbnail, which reads as a rendering glitch. This delegate draws the thumbnail centred in
its cell and frames the current one in the palette's highlight colour instead.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

FRAME_WIDTH = 3.0
FRAME_RADIUS = 4.0


class StripDelegate(QStyledItemDelegate):
    """Thumbnail centred in its cell; the selected one framed, the hovered one outlined."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        cell = QRectF(option.rect).adjusted(2, 2, -2, -2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if isinstance(icon, QIcon):
            size = option.decorationSize
            pixmap = icon.pixmap(size)
            picture = pixmap.deviceIndependentSize()
            left = cell.center().x() - picture.width() / 2
            top = cell.center().y() - picture.height() / 2
            painter.drawPixmap(int(left), int(top), pixmap)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            colour = option.palette.color(QPalette.ColorRole.Highlight)
            if not selected:
                colour.setAlphaF(0.45)
            pen = QPen(colour, FRAME_WIDTH if selected else 1.0)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            inset = pen.widthF() / 2
            painter.drawRoundedRect(cell.adjusted(inset, inset, -inset, -inset), FRAME_RADIUS,
                                    FRAME_RADIUS)
        painter.restore()

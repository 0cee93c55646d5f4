"""Error messages shown inside a form, next to what they are about (no message boxes)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

from resnet_desktop.gui.widgets import palette as colours


def error_label(parent: QWidget, name: str = "error") -> QLabel:
    """A hidden, wrapping, selectable label in the theme's error colour."""
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, colours.error(pal))
    label.setPalette(pal)
    label.hide()
    return label


def show_error(label: QLabel, message: str) -> None:
    label.setText(message)
    label.setVisible(bool(message))

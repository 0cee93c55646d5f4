"""The Classify tab's layout: the image pane beside the model picker and the chart."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from resnet_desktop.gui.classify.image_pane import ImagePane
from resnet_desktop.gui.classify.top5_chart import Top5Chart


class ClassifyView(QWidget):
    """The first tab: image pane on the left; model picker and chart on the right."""

    def __init__(self, pane: ImagePane, picker: QWidget, chart: Top5Chart,
                 parent: QWidget | None = None, *, over_image: QWidget | None = None) -> None:
        """``over_image``: a bar above the image (the "Where it looked" controls)."""
        super().__init__(parent)
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 0, 0, 0)
        side_layout.setSpacing(12)
        side_layout.addWidget(picker)
        side_layout.addWidget(chart, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        if over_image is not None:
            left = QWidget(self)
            left_layout = QVBoxLayout(left)
            left_layout.setContentsMargins(0, 0, 0, 0)
            left_layout.addWidget(over_image)
            left_layout.addWidget(pane, 1)
            self.splitter.addWidget(left)
        else:
            self.splitter.addWidget(pane)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 440])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.addWidget(self.splitter)

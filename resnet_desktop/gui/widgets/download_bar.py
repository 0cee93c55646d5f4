"""The status-bar download indicator: what, how far, how fast, how long, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from resnet_desktop.gui.widgets.formatting import download_text, format_bytes


class DownloadBar(QWidget):
    """Hidden until :meth:`start`; Cancel emits :attr:`cancel_requested`."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = ""
        self.label = QLabel(self)
        self.label.setMinimumWidth(120)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(160)
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the download; what has arrived is kept and the "
                                      "download resumes next time")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        self.hide()

    def start(self, name: str, total: int = 0, done: int = 0) -> None:
        self._name = name
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.cancel_button.setEnabled(True)
        resumed = f" (resuming at {format_bytes(done)})" if done else ""
        self.label.setText(f"Downloading {name}{resumed}…")
        self.label.setToolTip(self.label.text())
        self.show()
        if total:
            self.update_progress(done, total, 0.0)

    def update_progress(self, done: int, total: int, rate: float) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
        text = "Downloading " + download_text(self._name, done, total, rate)
        self.label.setText(text)
        self.label.setToolTip(text)

    def finish(self) -> None:
        self.hide()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)

    def text(self) -> str:
        return self.label.text()

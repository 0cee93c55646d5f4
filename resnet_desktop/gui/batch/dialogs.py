"""The confirmation shown before keywords are written (into XMP sidecars, or into the image
files themselves): how many files, which keywords."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.sidecars.xmp import SidecarPreview


class SidecarPreviewDialog(QDialog):
    """Opened with ``open()`` (window-modal, does not block the event loop); ``accepted``
    means write."""

    def __init__(self, preview: SidecarPreview, parent: QWidget | None = None, *,
                 embed_summary: str | None = None) -> None:
        """``embed_summary`` (how many images get the keywords inside them) turns the dialog
        into the one for "Write into the image files"."""
        super().__init__(parent)
        self.setObjectName("SidecarPreviewDialog")
        self.setWindowTitle("Write keywords into the image files" if embed_summary
                            else "Write XMP sidecars")
        self.preview = preview
        lines = preview.lines(limit=200)
        self.summary = QLabel(embed_summary or lines[0], self)
        self.summary.setWordWrap(True)
        note = QLabel("Only the files' metadata changes, never their pixels; Undo puts every "
                      "file back byte for byte." if embed_summary else
                      f"Readers: {preview.naming.readers}. Undo sidecars puts every file back "
                      "as it was.", self)
        note.setWordWrap(True)
        self.details = QPlainTextEdit("\n".join(lines[1:]), self)
        self.details.setReadOnly(True)
        self.buttons = QDialogButtonBox(self)
        self.write_button = self.buttons.addButton(
            "Write into the files" if embed_summary else "Write sidecars",
            QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.write_button.setEnabled(preview.files > 0)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(note)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.buttons)
        self.resize(520, 420)

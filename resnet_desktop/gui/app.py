"""Start the desktop app (placeholder until the main window lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    label = QLabel("ResNet Desktop")
    label.show()
    return app.exec()

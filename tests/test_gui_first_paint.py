"""The window paints before the model and images load; a window never painted still gets them."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

from resnet_desktop.gui.app import FirstPaint

pytestmark = pytest.mark.gui


class Painted(QWidget):
    """Records its paints, so the test can tell what came first."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self._log = log

    def paintEvent(self, event) -> None:
        self._log.append("paint")
        super().paintEvent(event)


def test_the_work_starts_after_the_first_paint(qtbot):
    log: list[str] = []
    widget = Painted(log)
    qtbot.addWidget(widget)
    hook = FirstPaint(widget, lambda: log.append("load"))
    widget.show()
    qtbot.waitUntil(lambda: "load" in log, timeout=5000)
    assert log[0] == "paint" and log.count("load") == 1
    hook.deleteLater()


def test_a_window_that_is_never_painted_still_loads(qtbot):
    log: list[str] = []
    widget = Painted(log)  # never shown
    qtbot.addWidget(widget)
    hook = FirstPaint(widget, lambda: log.append("load"))
    qtbot.waitUntil(lambda: log == ["load"], timeout=FirstPaint.FALLBACK_MS + 3000)
    hook.deleteLater()

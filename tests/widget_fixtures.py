"""Fixtures for widgets several test files show as they are: the Top-5 chart at the size the
Classify tab gives it, and the main window with its default services. A test file that needs
them set up otherwise defines its own fixture of the same name."""

from __future__ import annotations

import pytest


@pytest.fixture
def chart(qtbot):
    from resnet_desktop.gui.classify.top5_chart import Top5Chart

    widget = Top5Chart()
    qtbot.addWidget(widget)
    widget.resize(440, 420)
    widget.show()
    return widget


@pytest.fixture
def window(qtbot):
    from resnet_desktop.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()

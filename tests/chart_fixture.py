"""The ``chart`` fixture: a shown Top-5 chart at the size the Classify tab gives it."""

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

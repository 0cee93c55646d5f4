"""The thumbnail strip frames the image on screen (no highlight bar under it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QColor, QPalette

from resnet_desktop.gui.classify.image_pane import ImagePane

pytestmark = pytest.mark.gui


def close(a: QColor, b: QColor, tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3],
                                                        strict=True))


def test_the_current_thumbnail_is_framed_and_nothing_is_drawn_under_it(qtbot, tmp_path):
    pane = ImagePane()
    qtbot.addWidget(pane)
    pane.resize(600, 500)
    pane.show()
    paths = []
    for name, colour in (("a", (250, 250, 250)), ("b", (240, 240, 240))):
        paths.append(Path(tmp_path / f"{name}.png"))
        Image.new("RGB", (200, 200), colour).save(paths[-1])
    with qtbot.waitSignal(pane.image_changed, timeout=5000):
        pane.open_paths(paths)
    qtbot.waitUntil(lambda: pane.strip.item(1).icon().availableSizes()[0].width() > 32,
                    timeout=5000)
    highlight = pane.strip.palette().color(QPalette.ColorRole.Highlight)
    shot = pane.strip.viewport().grab().toImage()
    scale = shot.devicePixelRatio()
    first, second = (pane.strip.visualItemRect(pane.strip.item(i)) for i in (0, 1))

    def pixel(x: int, y: int) -> QColor:
        return shot.pixelColor(int(x * scale), int(y * scale))

    middle = first.center().y()
    assert close(pixel(first.left() + 3, middle), highlight)  # the frame's left side
    assert close(pixel(first.center().x(), first.bottom() - 3), highlight)  # and its bottom
    assert not close(pixel(second.left() + 3, middle), highlight)  # the other one: no frame
    # Below the framed cell there is no selection bar.
    below = first.bottom() + 4
    if below < pane.strip.viewport().height():
        assert not close(pixel(first.center().x(), below), highlight)

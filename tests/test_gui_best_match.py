"""One best-match display: no headline that repeats the first bar."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette

from resnet_desktop.core.engine import Classification, Engine, Prediction
from resnet_desktop.gui.classify.top5_chart import Top5Chart

pytestmark = pytest.mark.gui


def show(qtbot, chart: Top5Chart, result: Classification) -> None:
    with qtbot.waitSignal(chart.animation_finished, timeout=3000):
        chart.set_result(result)


def first_bar_top(chart: Top5Chart) -> int:
    """The first row (in device-independent pixels) painted in the accent colour: bar 1."""
    image = chart.grab().toImage()
    scale = image.devicePixelRatio()
    accent = chart.palette().color(QPalette.ColorRole.Highlight)
    x = int(chart.width() * 0.25 * scale)
    for y in range(image.height()):
        colour = image.pixelColor(x, y)
        if all(abs(a - b) < 30 for a, b in zip(colour.getRgb()[:3], accent.getRgb()[:3],
                                                strict=True)):
            return int(y / scale)
    raise AssertionError("no bar painted")


def test_a_confident_class_without_a_category_is_shown_once(qtbot, chart, photos):
    custom = Classification(None, "flowers", "cpu", 9.0,
                            (Prediction(0, "rose", 0.93), Prediction(1, "tulip", 0.05)))
    show(qtbot, chart, custom)
    assert chart.category() is None and chart.is_confident()
    assert chart.headline() == "rose"  # what logs and screenshots report
    assert not chart.headline_shown()
    without_headline = first_bar_top(chart)

    engine = Engine()
    cat = engine.classify_file(engine.load("efficientnet-lite0", "cpu"), photos["chelsea"])
    show(qtbot, chart, cat)
    assert chart.category() is not None and chart.headline().startswith("Cat — ")
    assert chart.headline_shown()
    # The category's headline takes a line above the bars; a repeated class name does not.
    assert first_bar_top(chart) - without_headline > 20

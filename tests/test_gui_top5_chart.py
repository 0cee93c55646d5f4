"""The top-5 chart: labels, percentages, the no-confident-match rule, animation, both palettes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette

from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.inference.results import Classification
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array

pytestmark = pytest.mark.gui

NAMES = ("espresso", "cup", "German short-haired pointer", "chocolate sauce", "coffee mug")


def result(*probabilities: float, names=NAMES) -> Classification:
    top = tuple(Prediction(i, name, p) for i, (name, p) in enumerate(zip(names, probabilities,
                                                                         strict=False)))
    return Classification(None, "test-model", "cpu", 12.5, top)


def test_bars_show_the_top_five_and_animate_to_them(qtbot, chart):
    assert chart.labels() == [] and "Drop an image" in chart.headline()
    with qtbot.waitSignal(chart.animation_finished, timeout=3000):
        chart.set_result(result(0.9, 0.04, 0.03, 0.02, 0.01))
        assert chart.is_animating()
    assert chart.labels() == list(NAMES)
    assert chart.probabilities() == pytest.approx([0.9, 0.04, 0.03, 0.02, 0.01])
    assert chart.headline() == "espresso" and chart.is_confident()
    assert "espresso: 90.0%" in chart.toolTip()
    assert "German short-haired pointer 3.0%" in chart.accessibleDescription()


@pytest.mark.parametrize("probabilities", [
    (0.25, 0.2, 0.2, 0.2, 0.15),   # top-1 too low
    (0.46, 0.44, 0.05, 0.03, 0.02),  # top-1 and top-2 nearly tied
])
def test_no_confident_match_instead_of_an_answer(qtbot, chart, probabilities):
    chart.set_result(result(*probabilities))
    assert chart.headline() == "No confident match"
    assert not chart.is_confident()
    assert chart.labels()[0] == "espresso"  # the bars still show what the model thinks


def test_fewer_than_five_classes(qtbot, chart):
    chart.set_result(result(0.7, 0.3, names=("yes", "no")))
    assert chart.labels() == ["yes", "no"]
    assert chart.probabilities() == pytest.approx([0.7, 0.3])


def test_pending_and_clear(qtbot, chart):
    chart.set_result(result(0.9, 0.04, 0.03, 0.02, 0.01))
    chart.set_pending(True)
    assert chart.is_pending() and chart.labels()  # the old bars fade, they do not vanish
    chart.set_result(result(0.5, 0.2, 0.1, 0.1, 0.1))
    assert not chart.is_pending()
    chart.clear("The model is not downloaded yet.")
    assert chart.labels() == [] and chart.headline() == "The model is not downloaded yet."
    chart.set_result(Classification(None, "m", error="bad.png: the image is corrupt"))
    assert chart.labels() == [] and "corrupt" in chart.headline()


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#202124"),
                         (QPalette.ColorRole.WindowText, "#e8eaed"),
                         (QPalette.ColorRole.Base, "#17181a"),
                         (QPalette.ColorRole.Text, "#e8eaed"),
                         (QPalette.ColorRole.Highlight, "#8ab4f8"),
                         (QPalette.ColorRole.HighlightedText, "#202124")):
        palette.setColor(role, QColor(colour))
    return palette


@pytest.mark.parametrize("dark", [False, True])
def test_the_chart_reads_in_light_and_dark_palettes(qtbot, chart, dark):
    if dark:
        chart.setPalette(dark_palette())
    with qtbot.waitSignal(chart.animation_finished, timeout=3000):
        chart.set_result(result(0.9, 0.04, 0.03, 0.02, 0.01))
    pixels = qimage_to_rgb_array(chart.grab().toImage()).astype(float).mean(axis=2)
    base = chart.palette().color(QPalette.ColorRole.Base).lightness()
    text = chart.palette().color(QPalette.ColorRole.Text).lightness()
    assert abs(base - text) > 150
    # The card is mostly its base colour, and text-coloured pixels are there to read.
    assert np.mean(np.abs(pixels - base) < 12) > 0.6
    assert np.sum(np.abs(pixels - text) < 40) > 500
    # The top bar uses the highlight colour, which differs from the card.
    highlight = chart.palette().color(QPalette.ColorRole.Highlight).lightness()
    assert abs(highlight - base) > 40

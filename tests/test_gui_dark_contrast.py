"""On a dark palette the secondary bars and the chart's footer keep their contrast."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette

from resnet_desktop.gui.widgets import palette as colours

pytestmark = pytest.mark.gui


def luminance(colour: QColor) -> float:
    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b, _ = colour.getRgb()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("highlight", ["#3d8ee0", "#3daee9", "#8ab4f8", "#2a82da"])
def test_bars_and_footer_read_on_a_dark_card(qapp, highlight):
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"),
                         (QPalette.ColorRole.WindowText, "#e6e6e6"),
                         (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.Text, "#e6e6e6"),
                         (QPalette.ColorRole.Highlight, highlight)):
        palette.setColor(role, QColor(colour))
    card = palette.color(QPalette.ColorRole.Base)
    assert colours.is_dark(palette)
    assert contrast(colours.soft_accent(palette), card) >= 3.0  # WCAG: graphical objects
    assert contrast(colours.accent(palette), colours.soft_accent(palette)) > 1.2  # 1st stands out
    assert contrast(colours.muted_text(palette), card) >= 4.5  # the footer is text

"""Colours derived from the current palette, so light and dark themes both read well."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    amount = min(1.0, max(0.0, amount))
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
        a.alphaF() + (b.alphaF() - a.alphaF()) * amount,
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def muted_text(palette: QPalette) -> QColor:
    """Secondary text: between the text and the background, still legible."""
    return mix(palette.color(QPalette.ColorRole.WindowText),
               palette.color(QPalette.ColorRole.Window), 0.40)


def accent(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.Highlight)


def soft_accent(palette: QPalette) -> QColor:
    """The accent faded towards the background, for secondary bars. Less on a dark base, where
    fading a mid-tone highlight as far leaves the bars at about 2:1 against the card."""
    amount = 0.2 if is_dark(palette) else 0.45
    return mix(accent(palette), palette.color(QPalette.ColorRole.Base), amount)


def track(palette: QPalette) -> QColor:
    """The empty part of a bar: a faint tint of the text on the base colour."""
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text),
               0.10)


def warning(palette: QPalette) -> QColor:
    """An amber that keeps contrast on light and dark backgrounds."""
    return QColor("#f0b429") if is_dark(palette) else QColor("#a35b00")


def error(palette: QPalette) -> QColor:
    return QColor("#ff7b72") if is_dark(palette) else QColor("#b42318")

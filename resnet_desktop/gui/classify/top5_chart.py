"""The live top-5 chart: a headline answer (or "No confident match") over animated bars.

The headline is the image's category when one is confident ("Cat — 93.5%", the leaf classes
rolled up through WordNet, :mod:`~resnet_desktop.core.keywords.rollup`), else the top-1 class
when it is confident on its own; a click on it shows the category's chain
(animal › mammal › cat) in the caption above.

Custom-painted rather than QtCharts: long ImageNet names get a full line above their bar
instead of a cramped axis, and every colour comes from the palette, so the chart reads well in
light and dark themes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEasingCurve, QRectF, QSize, Qt, QVariantAnimation, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from resnet_desktop.core.engine import DISPLAY_NAMES
from resnet_desktop.core.keywords.confidence import is_confident
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.vocabulary import DEFAULT_VOCABULARY, Vocabulary
from resnet_desktop.gui.widgets import palette as colours
from resnet_desktop.gui.widgets.formatting import format_percent

if TYPE_CHECKING:  # their modules import numpy, which the first paint does without
    from resnet_desktop.core.engine import Classification
    from resnet_desktop.core.keywords.rollup import CategoryMatch

ROWS = 5
ANIMATION_MS = 450
_MARGIN = 16
_BAR_HEIGHT = 12
_ROW_GAP = 12
_MAX_ROW_GAP = 40


class Top5Chart(QWidget):
    """Shows one :class:`Classification`; call :meth:`set_result` whenever a new one arrives."""

    animation_finished = Signal()
    """The bars reached the values of the latest result (for screenshots and tests)."""
    bar_clicked = Signal(int)
    """The row (0 = the top-1) the user clicked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        self._result: Classification | None = None
        self._pending = False
        self._placeholder = "Drop an image to classify it"
        self._labels: list[str] = []
        self._policy = KeywordPolicy(0.0, DEFAULT_VOCABULARY)
        self._category: CategoryMatch | None = None
        self._show_chain = False
        self._targets: list[float] = [0.0] * ROWS
        self._starts: list[float] = [0.0] * ROWS
        self._shown: list[float] = [0.0] * ROWS
        self._row_rects: list[QRectF] = []
        self._selected = -1
        self._animation = QVariantAnimation(self)
        self._animation.setStartValue(0.0)
        self._animation.setEndValue(1.0)
        self._animation.setDuration(ANIMATION_MS)
        self._animation.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._animation.valueChanged.connect(self._on_animation_value)
        self._animation.finished.connect(self.animation_finished)

    # -- what tests, screenshots and the window read --------------------------------------

    def result(self) -> Classification | None:
        return self._result

    def labels(self) -> list[str]:
        """The class names on the bars, best first."""
        return list(self._labels)

    def probabilities(self) -> list[float]:
        """The probabilities the bars are heading to (their final lengths)."""
        return self._targets[:len(self._labels)]

    def category(self) -> CategoryMatch | None:
        """The confident category of the result on the chart (None: none, or custom labels)."""
        return self._category

    def is_confident(self) -> bool:
        return bool(self._labels) and (self._category is not None
                                       or is_confident(self.probabilities()))

    def headline(self) -> str:
        """The line above the bars: the category ("Cat — 93.5%"), the confident top-1 class,
        "No confident match", or the placeholder."""
        if not self._labels:
            return self._placeholder
        if self._category is not None:
            label = self._category.label
            return f"{label[:1].upper()}{label[1:]} — {format_percent(self._category.probability)}"
        return self._labels[0] if self.is_confident() else "No confident match"

    def headline_shown(self) -> bool:
        """False when the headline would only repeat the first bar (a confident class with no
        category above it): the bold first bar is then the one best-match display."""
        if not self._labels:
            return True
        category = self._category
        if category is None:
            return not self.is_confident()
        return category.label.casefold() != self._labels[0].casefold()

    def chain_shown(self) -> bool:
        return self._show_chain and self._category is not None

    def toggle_chain(self) -> None:
        """Show or hide the category's chain (animal › mammal › cat) above the headline."""
        self._show_chain = not self._show_chain
        self.update()

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Use ``vocabulary``'s renames, blocks and thresholds for the category."""
        self._policy = KeywordPolicy(0.0, vocabulary)
        if self._result is not None:
            self._category = self._policy.category(self._result.top, self._result.categories)
            self.update()

    def is_pending(self) -> bool:
        return self._pending

    def is_animating(self) -> bool:
        return self._animation.state() == QVariantAnimation.State.Running

    # -- updates -----------------------------------------------------------------------------

    def set_pending(self, pending: bool) -> None:
        """A new image is on its way: the bars fade until its result arrives."""
        if pending != self._pending:
            self._pending = pending
            self.update()

    def set_result(self, result: Classification) -> None:
        """Animate the bars from where they are to ``result``'s top five."""
        self._pending = False
        if not result.ok:
            self.clear(result.error or "")
            return
        self._result = result
        self._category = self._policy.category(result.top, result.categories)
        self._labels = [p.label for p in result.top[:ROWS]]
        self._starts = list(self._shown)
        self._targets = [p.probability for p in result.top[:ROWS]]
        self._targets += [0.0] * (ROWS - len(self._targets))
        self.setToolTip("\n".join(f"{p.label}: {format_percent(p.probability)}"
                                  for p in result.top[:ROWS]))
        self.setAccessibleDescription(self.headline() + ". " + "; ".join(
            f"{p.label} {format_percent(p.probability)}" for p in result.top[:ROWS]))
        self._animation.stop()
        self._animation.start()
        self.update()

    def clear(self, placeholder: str = "") -> None:
        """No result: an empty chart with ``placeholder`` (or the default hint) as headline."""
        self._animation.stop()
        self._pending = False
        self._result = None
        self._category = None
        self._labels = []
        self._targets = [0.0] * ROWS
        self._starts = [0.0] * ROWS
        self._shown = [0.0] * ROWS
        if placeholder:
            self._placeholder = placeholder
        else:
            self._placeholder = "Drop an image to classify it"
        self.setToolTip("")
        self.setAccessibleDescription(self._placeholder)
        self.update()

    def mousePressEvent(self, event) -> None:
        """A click on the headline shows or hides the category's chain."""
        if (self._category is not None and event.button() == Qt.MouseButton.LeftButton
                and event.position().y() <= _MARGIN + self._headline_height()):
            self.toggle_chain()
            event.accept()
            return
        for row, rect in enumerate(self._row_rects):
            if event.button() == Qt.MouseButton.LeftButton and rect.contains(event.position()):
                self.bar_clicked.emit(row)  # "Where it looked" shows that class's map
                event.accept()
                return
        super().mousePressEvent(event)

    def _on_animation_value(self, value: float) -> None:
        t = float(value)
        self._shown = [s + (e - s) * t for s, e in zip(self._starts, self._targets, strict=True)]
        self.update()

    # -- painting ----------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        row = metrics.height() + 6 + _BAR_HEIGHT + _ROW_GAP
        return QSize(240, 2 * _MARGIN + self._headline_height() + ROWS * row + row // 2)

    def _scaled_font(self, factor: float, bold: bool = False) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * factor)
        font.setBold(bold)
        return font

    def _headline_height(self) -> int:
        return (QFontMetrics(self._scaled_font(0.85)).height() + 4
                + QFontMetrics(self._scaled_font(1.7, bold=True)).height() + 20)

    def selected_row(self) -> int:
        """The row drawn as selected (the class whose map is shown), or -1."""
        return self._selected

    def set_selected_row(self, row: int) -> None:
        self._selected = row
        self.update()

    def row_rect(self, row: int) -> QRectF:
        """Where row ``row`` was last drawn (empty before it was)."""
        return self._row_rects[row] if 0 <= row < len(self._row_rects) else QRectF()

    def paintEvent(self, event) -> None:
        self._row_rects = []
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        card = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        path = QPainterPath()
        path.addRoundedRect(card, 8, 8)
        painter.fillPath(path, pal.color(QPalette.ColorRole.Base))
        painter.setPen(colours.mix(pal.color(QPalette.ColorRole.Base),
                                   pal.color(QPalette.ColorRole.Text), 0.18))
        painter.drawPath(path)

        inner = QRectF(card).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        if self._pending:
            painter.setOpacity(0.45)
        top = self._paint_headline(painter, inner)
        if self._labels:
            footer = self._footer_text()
            footer_height = self.fontMetrics().height() + 8 if footer else 0
            self._paint_bars(painter, QRectF(inner.left(), top, inner.width(),
                                             inner.bottom() - top - footer_height))
            if footer:
                painter.setFont(self._scaled_font(0.85))
                painter.setPen(colours.muted_text(pal))
                painter.drawText(QRectF(inner.left(), inner.bottom() - footer_height,
                                        inner.width(), footer_height),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                                 QFontMetrics(painter.font()).elidedText(
                                     footer, Qt.TextElideMode.ElideMiddle, int(inner.width())))
        painter.end()

    def _footer_text(self) -> str:
        result = self._result
        if result is None:
            return ""
        where = DISPLAY_NAMES.get(result.provider, result.provider)
        parts = [result.model, f"{result.ms:.1f} ms on {where}" if where else ""]
        return "  ·  ".join(p for p in parts if p)

    def _paint_headline(self, painter: QPainter, area: QRectF) -> float:
        pal = self.palette()
        caption_font = self._scaled_font(0.85)
        headline_font = self._scaled_font(1.7, bold=True)
        caption_metrics = QFontMetrics(caption_font)
        headline_metrics = QFontMetrics(headline_font)
        y = area.top()
        detail = ""
        if self._pending:
            caption = "Classifying…"
        elif not self._labels:
            caption = "Top 5"
        elif self._category is not None:
            caption = (" › ".join(self._category.path) if self._show_chain
                       else "Category (click for its chain)")
        elif self.is_confident():
            caption = "Best match"
            detail = format_percent(self._targets[0])
        else:
            caption = "Top 5"
            detail = f"best guess {format_percent(self._targets[0])}"

        painter.setFont(caption_font)
        painter.setPen(colours.muted_text(pal))
        painter.drawText(QRectF(area.left(), y, area.width(), caption_metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         caption.upper())
        y += caption_metrics.height() + 4

        if not self.headline_shown():
            return y + 12

        if not self._labels:
            painter.setFont(self._scaled_font(1.05))
            painter.setPen(colours.muted_text(pal))
            text_rect = QRectF(area.left(), y, area.width(), area.bottom() - y)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
                             | Qt.TextFlag.TextWordWrap, self._placeholder)
            return area.bottom()

        line = QRectF(area.left(), y, area.width(), headline_metrics.height())
        detail_font = QFont(headline_font)
        detail_font.setBold(False)
        if not self.is_confident():
            detail_font = self._scaled_font(1.0)
        detail_width = QFontMetrics(detail_font).horizontalAdvance(detail) + 16 if detail else 0
        painter.setFont(headline_font)
        painter.setPen(pal.color(QPalette.ColorRole.Text) if self.is_confident()
                       else colours.warning(pal))
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         headline_metrics.elidedText(self.headline(), Qt.TextElideMode.ElideRight,
                                                     int(area.width() - detail_width)))
        if detail:
            painter.setFont(detail_font)
            painter.setPen(colours.muted_text(pal))
            painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             detail)
        return y + headline_metrics.height() + 20

    def _paint_bars(self, painter: QPainter, area: QRectF) -> None:
        pal = self.palette()
        metrics = self.fontMetrics()
        row_height = metrics.height() + 6 + _BAR_HEIGHT
        spare = (area.height() - ROWS * row_height) / ROWS
        gap = max(float(_ROW_GAP), min(float(_MAX_ROW_GAP), spare))
        percent_width = metrics.horizontalAdvance("100.0%") + 8
        bold = QFont(self.font())
        bold.setBold(True)
        confident = self.is_confident()
        y = area.top()
        for i, label in enumerate(self._labels):
            row_rect = QRectF(area.left() - 4, y - 3, area.width() + 8, row_height + 6)
            self._row_rects.append(row_rect)
            if i == self._selected:
                painter.setPen(colours.accent(pal))
                painter.drawRoundedRect(row_rect, 6, 6)
            text_rect = QRectF(area.left(), y, area.width() - percent_width, metrics.height())
            painter.setFont(bold if i == 0 else self.font())
            painter.setPen(pal.color(QPalette.ColorRole.Text))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             QFontMetrics(painter.font()).elidedText(
                                 label, Qt.TextElideMode.ElideRight, int(text_rect.width())))
            painter.setFont(self.font())
            painter.setPen(pal.color(QPalette.ColorRole.Text) if i == 0
                           else colours.muted_text(pal))
            painter.drawText(QRectF(area.right() - percent_width, y, percent_width,
                                    metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             format_percent(self._shown[i]))
            bar_top = y + metrics.height() + 6
            track_rect = QRectF(area.left(), bar_top, area.width(), _BAR_HEIGHT)
            track_path = QPainterPath()
            track_path.addRoundedRect(track_rect, _BAR_HEIGHT / 2, _BAR_HEIGHT / 2)
            painter.fillPath(track_path, colours.track(pal))
            width = track_rect.width() * min(1.0, max(0.0, self._shown[i]))
            if width >= 1.0:
                fill = QRectF(track_rect)
                fill.setWidth(max(float(_BAR_HEIGHT), width))
                fill_path = QPainterPath()
                fill_path.addRoundedRect(fill, _BAR_HEIGHT / 2, _BAR_HEIGHT / 2)
                painter.fillPath(fill_path, colours.accent(pal) if i == 0 and confident
                                 else colours.soft_accent(pal))
            y += row_height + gap

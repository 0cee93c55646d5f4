"""The Top-5 card's "this model cannot be had" state: what happened, and what to do next.

A model that cannot be downloaded (offline, a damaged download, servers that do not answer)
shows one short headline with its advice, then the ways on: Retry, a menu of the models already
on this machine, and "Import a model…". The full error (every URL tried and why it failed) sits
behind a Details toggle for bug reports.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.engine import DownloadProblem
from resnet_desktop.gui.widgets import palette as colours

CARD_MARGIN = 16
"""The Top-5 card's inner margin (``top5_chart._MARGIN``)."""


class ModelProblemView(QWidget):
    """Headline, advice, Retry / "Use a model on this machine" / "Import a model…", Details."""

    retry_requested = Signal(str)
    """The model id to try again."""
    model_chosen = Signal(str)
    """A model already on this machine (catalog id or .onnx path) to use instead."""
    import_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._problem: DownloadProblem | None = None

        self.headline = QLabel(self)
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        self.headline.setAccessibleName("Problem")

        self.advice = QLabel(self)
        self.advice.setWordWrap(True)
        self.advice.setTextFormat(Qt.TextFormat.PlainText)

        self.retry_button = QPushButton("&Retry", self)
        self.retry_button.clicked.connect(self._retry)
        self.local_button = QPushButton("Use a model on this machine", self)
        self.local_menu = QMenu(self.local_button)
        self.local_button.setMenu(self.local_menu)
        self.import_button = QPushButton("Import a model…", self)
        self.import_button.clicked.connect(self.import_requested)

        self.details_toggle = QToolButton(self)
        self.details_toggle.setText("Details")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.details_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_toggle.setAutoRaise(True)
        self.details_toggle.toggled.connect(self._show_details)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Technical details")
        self.details.setMaximumHeight(140)
        self.details.hide()

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.local_button)
        buttons.addStretch(1)
        more = QHBoxLayout()
        more.addWidget(self.import_button)
        more.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.headline)
        layout.addWidget(self.advice)
        layout.addLayout(buttons)
        layout.addLayout(more)
        layout.addWidget(self.details_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details)
        layout.addStretch(1)

    def problem(self) -> DownloadProblem | None:
        return self._problem

    def show_problem(self, problem: DownloadProblem,
                     local_models: list[tuple[str, str]]) -> None:
        """Show ``problem``; ``local_models`` are (model, title) pairs ready without a
        download, for the "Use a model on this machine" menu."""
        self._problem = problem
        self.headline.setText(problem.headline)
        self.advice.setText(problem.advice)
        self.details.setPlainText(problem.detail)
        self.details_toggle.setChecked(False)
        self.local_menu.clear()
        for model, title in local_models:
            action = self.local_menu.addAction(title)
            action.triggered.connect(lambda _checked=False, m=model: self.model_chosen.emit(m))
        self.local_button.setEnabled(bool(local_models))
        self._update_colours()
        self.show()

    def place_in_card(self, card: QWidget) -> None:
        """Lay this view over ``card`` (the Top-5 chart) under its small caption line."""
        caption = QFont(card.font())
        caption.setPointSizeF(max(caption.pointSizeF(), 9.0) * 0.85)
        top = CARD_MARGIN + QFontMetrics(caption).height() + 12
        layout = QVBoxLayout(card)
        layout.setContentsMargins(CARD_MARGIN, top, CARD_MARGIN, CARD_MARGIN)
        layout.addWidget(self)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self._update_colours()

    def _update_colours(self) -> None:
        """The advice in the legible secondary colour of the current (light or dark) palette."""
        palette = QPalette(self.palette())
        palette.setColor(QPalette.ColorRole.WindowText, colours.muted_text(palette))
        self.advice.setPalette(palette)

    def _retry(self) -> None:
        if self._problem is not None:
            self.retry_requested.emit(self._problem.model_id)

    def _show_details(self, shown: bool) -> None:
        self.details_toggle.setArrowType(Qt.ArrowType.DownArrow if shown
                                         else Qt.ArrowType.RightArrow)
        self.details.setVisible(shown)

"""The model picker: the built-in model, the catalog grouped by ResNet version and depth, the
user's own models, and the execution provider.

Each catalog entry shows its download size, published top-1/top-5 accuracy and whether it is
already downloaded. While the built-in model is chosen and the catalog's default ResNet is not
downloaded, a button under the details offers it ("Download ResNet-50 v2 (102 MB, top-1
75.8 %)"). "Add model…" takes an ``.onnx`` file (with its optional sidecar manifest);
such models are remembered in the settings and listed under "My models".
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from resnet_desktop.core.engine import CatalogEntry, Engine
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.gui.settings import app_settings, read_str_list
from resnet_desktop.gui.widgets import palette as colours
from resnet_desktop.gui.widgets.formatting import format_bytes

log = logging.getLogger(__name__)

MODEL_ROLE = Qt.ItemDataRole.UserRole + 1
"""The string the engine resolves: a catalog id, or the path of a custom ``.onnx``."""
DETAILS_ROLE = Qt.ItemDataRole.UserRole + 2
HEADER_ROLE = Qt.ItemDataRole.UserRole + 3

CUSTOM_MODELS_KEY = "models/custom"
MY_MODELS = "My models"



def provider_choices(platform: str = sys.platform) -> tuple[tuple[str, str, str], ...]:
    """(title, policy, tooltip) of the "Run on" list, named for what each means on
    ``platform``: DirectML on Windows, CUDA on Linux; a Mac has no GPU policy (Auto tries
    CoreML)."""
    if platform == "darwin":
        auto = ("Auto", "auto", "CoreML (Apple Neural Engine and GPU) when it starts, "
                                "otherwise the CPU")
        return auto, ("CPU", "cpu", "Always the CPU")
    gpu = (("GPU (DirectML)", "directml", "Any DirectX 12 GPU; falls back to the CPU with "
                                          "the reason shown")
           if platform == "win32" else
           ("GPU (CUDA)", "cuda", "An NVIDIA GPU with CUDA; falls back to the CPU with the "
                                  "reason shown"))
    return (("Auto", "auto", "The GPU when one starts, otherwise the CPU"), gpu,
            ("CPU", "cpu", "Always the CPU"))


FAMILY_TITLES = {"builtin": "Built-in", "v1": "ResNet v1", "v2": "ResNet v2"}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family or "Other models")


def accuracy_text(entry: CatalogEntry) -> str:
    """``top-1 75.8 %`` (and ``· top-5 92.8 %`` when published); '' when nothing is."""
    parts = [f"top-{k} {value:.1f} %" for k, value in ((1, entry.top1), (5, entry.top5))
             if value is not None]
    return " · ".join(parts)


def entry_details(entry: CatalogEntry, downloaded: bool) -> str:
    """``102.4 MB · top-1 75.8 % · ✓ downloaded`` for the list; the tooltip spells it out."""
    parts = [format_bytes(entry.bytes)]
    if entry.top1 is not None:
        parts.append(f"top-1 {entry.top1:.1f} %")
    if entry.builtin:
        parts.append("✓ built in")
    else:
        parts.append("✓ downloaded" if downloaded else "not downloaded")
    return "  ·  ".join(parts)


def entry_tooltip(entry: CatalogEntry, downloaded: bool) -> str:
    accuracy = (f"ImageNet {accuracy_text(entry)}" if entry.top1 is not None
                else "accuracy not published")
    if entry.builtin:
        state = "built in: works offline, nothing to download"
    else:
        state = "downloaded" if downloaded else f"not downloaded yet ({format_bytes(entry.bytes)})"
    return f"{entry.name} ({entry.id})\n{accuracy}\n{state}"


def download_offer(entry: CatalogEntry) -> str:
    """``Download ResNet-50 v2 (102 MB, top-1 75.8 %)``: the button beside the built-in model."""
    size = f"{entry.bytes / 1e6:.0f} MB"
    accuracy = f", top-1 {entry.top1:.1f} %" if entry.top1 is not None else ""
    return f"Download {entry.name} ({size}{accuracy})"


class _ModelDelegate(QStyledItemDelegate):
    """Name on the left, size/accuracy/downloaded on the right; group titles in small caps."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if index.data(HEADER_ROLE):
            painter.save()
            font = QFont(option.font)
            font.setBold(True)
            font.setPointSizeF(max(font.pointSizeF(), 9.0) * 0.9)
            painter.setFont(font)
            # Headers are disabled rows; their title takes the active colours so it stays
            # readable (the disabled group's grey, muted again, is nearly invisible).
            active = QPalette.ColorGroup.Active
            painter.setPen(colours.mix(option.palette.color(active, QPalette.ColorRole.Text),
                                       option.palette.color(active, QPalette.ColorRole.Base),
                                       0.25))
            painter.drawText(option.rect.adjusted(8, 0, -8, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                             str(index.data(Qt.ItemDataRole.DisplayRole)).upper())
            painter.restore()
            return
        details = str(index.data(DETAILS_ROLE) or "")
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        metrics = option.fontMetrics
        details_width = metrics.horizontalAdvance(details) + 24 if details else 0
        painter.save()
        painter.setFont(option.font)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText) if selected
                       else option.palette.color(QPalette.ColorRole.Text))
        name_rect = option.rect.adjusted(14, 0, -details_width - 8, 0)
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_rect.width()))
        if details:
            painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText) if selected
                           else colours.muted_text(option.palette))
            painter.drawText(option.rect.adjusted(0, 0, -10, 0),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, details)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        details = index.data(DETAILS_ROLE) or ""
        width = size.width() + 24 + (option.fontMetrics.horizontalAdvance(details) + 32
                                     if details else 0)
        height = max(size.height(), option.fontMetrics.height() + 10)
        if index.data(HEADER_ROLE):
            height += 6
        return QSize(width, height)


class ModelPicker(QWidget):
    """A model combo box, "Add model…" and the provider choice."""

    add_model_requested = Signal()
    """"Add model…" was pressed: the window opens the import form (model, labels, settings)."""
    model_selected = Signal(str, str)
    """(model, provider policy) chosen by the user; model is a catalog id or an .onnx path."""
    message = Signal(str, bool)
    """(text, is_error) for the status bar, e.g. why a custom model was refused."""
    selection_changed = Signal(str, str)
    """(model, provider policy) whenever the shown choice changes, by the user or in code."""

    def __init__(self, engine: Engine, parent: QWidget | None = None, *,
                 remember: bool = True) -> None:
        super().__init__(parent)
        self._engine = engine
        self._remember = remember
        self._custom: list[str] = []
        self._model = QStandardItemModel(self)

        self.combo = QComboBox(self)
        self.combo.setModel(self._model)
        self.combo.setItemDelegate(_ModelDelegate(self.combo))
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.combo.setMaxVisibleItems(20)
        # A list that drops down under the box (Fusion would open it over the box, shifted so
        # the current row sits on the box, which can take it to the top of the screen).
        self.combo.setStyleSheet("QComboBox { combobox-popup: 0; }")
        self.combo.setAccessibleName("Model")
        self.combo.activated.connect(self._on_activated)
        self.combo.currentIndexChanged.connect(self._update_details)

        self.add_button = QPushButton("Add model…", self)
        self.add_button.setToolTip("Use your own .onnx classifier (with its .json manifest)")
        self.add_button.clicked.connect(self.add_model_requested)

        self.provider = QComboBox(self)
        self.provider.setAccessibleName("Execution provider")
        for title, policy, tip in provider_choices():
            self.provider.addItem(title, policy)
            self.provider.setItemData(self.provider.count() - 1, tip,
                                      Qt.ItemDataRole.ToolTipRole)
        self.provider.activated.connect(self._on_provider_activated)
        self.provider.currentIndexChanged.connect(self._emit_selection)

        self.details = QLabel(self)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setWordWrap(True)
        self.details.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.download_offer = QPushButton(self)
        self.download_offer.setAccessibleName("Download the catalog's default ResNet")
        self.download_offer.clicked.connect(self._take_offer)
        self.download_offer.hide()

        model_label = QLabel("&Model", self)
        model_label.setBuddy(self.combo)
        provider_label = QLabel("&Run on", self)
        provider_label.setBuddy(self.provider)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(8)
        layout.setVerticalSpacing(6)
        layout.addWidget(model_label, 0, 0)
        layout.addWidget(self.combo, 0, 1)
        layout.addWidget(self.add_button, 0, 2)
        layout.addWidget(provider_label, 1, 0)
        layout.addWidget(self.provider, 1, 1, 1, 2, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details, 2, 0, 1, 3)
        layout.addWidget(self.download_offer, 3, 0, 1, 3, Qt.AlignmentFlag.AlignLeft)
        layout.setColumnStretch(1, 1)

        if remember:
            self._custom = [p for p in read_str_list(app_settings(), CUSTOM_MODELS_KEY)]
        self._rebuild()

    # -- reading -------------------------------------------------------------------------------

    def current_model(self) -> str:
        """The selected catalog id or custom model path ("" when nothing is selected)."""
        return str(self.combo.currentData(MODEL_ROLE) or "")

    def current_provider(self) -> str:
        return str(self.provider.currentData())

    def custom_models(self) -> list[str]:
        return list(self._custom)

    def models(self) -> list[str]:
        """Every selectable model string, in list order."""
        return [self._model.item(row).data(MODEL_ROLE) for row in range(self._model.rowCount())
                if not self._model.item(row).data(HEADER_ROLE)]

    # -- changing --------------------------------------------------------------------------------

    def select_model(self, model: str) -> bool:
        """Select ``model`` without emitting :attr:`model_selected`; a path is added if new."""
        row = self._row_of(model)
        if row < 0 and not self._engine.catalog.get(model):
            if not self.add_custom_model(Path(model), select=False):
                return False
            row = self._row_of(str(Path(model).expanduser().resolve()))
        if row < 0:
            return False
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(row)
        self.combo.blockSignals(False)
        self._update_details()
        return True

    def select_provider(self, policy: str) -> None:
        """Select the provider choice for ``policy`` (a GPU policy of another OS means this
        OS's GPU choice, or Auto where there is none)."""
        index = self.provider.findData(policy)
        if index < 0 and policy in ("cuda", "directml"):
            index = max(0, self.provider.findData(
                "directml" if policy == "cuda" else "cuda"))
        if index >= 0:
            self.provider.setCurrentIndex(index)

    def add_custom_model(self, path: Path, *, select: bool = True) -> bool:
        """Check an ``.onnx`` file and its manifest, list it under "My models" and remember it."""
        try:
            ref = self._engine.resolve(str(path))
        except ResNetDesktopError as exc:
            self.message.emit(str(exc), True)
            return False
        key = str(ref.path)
        if key not in self._custom:
            self._custom.append(key)
            self._save_custom()
            self._rebuild()
        if select:
            self.select_model(key)
            self.model_selected.emit(self.current_model(), self.current_provider())
        return True

    def is_custom(self, model: str) -> bool:
        return model in self._custom

    def remove_custom_model(self, model: str) -> None:
        """Take ``model`` off "My models" (the file stays); if it was selected, the default
        model is chosen instead, as though the user picked it."""
        if model not in self._custom:
            return
        was_selected = model == self.current_model()
        self._custom.remove(model)
        self._save_custom()
        self._rebuild()
        if was_selected:
            self.model_selected.emit(self.current_model(), self.current_provider())
            self._emit_selection()

    def refresh(self) -> None:
        """Re-read which models are downloaded (after a download finished or was cancelled)."""
        self._rebuild()

    # -- internals -------------------------------------------------------------------------------

    def _save_custom(self) -> None:
        if self._remember:
            app_settings().setValue(CUSTOM_MODELS_KEY, self._custom)

    def _row_of(self, model: str) -> int:
        for row in range(self._model.rowCount()):
            if self._model.item(row).data(MODEL_ROLE) == model:
                return row
        return -1

    def _header(self, title: str) -> QStandardItem:
        item = QStandardItem(title)
        item.setData(True, HEADER_ROLE)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        return item

    def _rebuild(self) -> None:
        selected = self.current_model()
        self.combo.blockSignals(True)
        self._model.clear()
        groups: dict[str, list[CatalogEntry]] = {}
        for entry in self._engine.catalog:
            groups.setdefault(entry.family, []).append(entry)
        for family in sorted(groups, key=lambda f: (f != "builtin", f not in ("v1", "v2"), f)):
            self._model.appendRow(self._header(family_title(family)))
            for entry in sorted(groups[family], key=lambda e: (e.depth or 0, e.opset or 0, e.id)):
                downloaded = self._is_cached(entry.id)
                item = QStandardItem(entry.name if entry.name else entry.id)
                item.setData(entry.id, MODEL_ROLE)
                item.setData(entry_details(entry, downloaded), DETAILS_ROLE)
                item.setToolTip(entry_tooltip(entry, downloaded))
                self._model.appendRow(item)
        if self._custom:
            self._model.appendRow(self._header(MY_MODELS))
            for path in self._custom:
                item = QStandardItem(self._custom_title(path))
                item.setData(path, MODEL_ROLE)
                item.setData("custom", DETAILS_ROLE)
                item.setToolTip(path)
                if not Path(path).is_file():
                    item.setData("file missing", DETAILS_ROLE)
                self._model.appendRow(item)
        row = self._row_of(selected) if selected else -1
        if row < 0:
            row = self._row_of(self._engine.default_model)
        if row < 0:
            row = next((r for r in range(self._model.rowCount())
                        if not self._model.item(r).data(HEADER_ROLE)), -1)
        self.combo.setCurrentIndex(row)
        self.combo.blockSignals(False)
        self._fit_popup()
        self._update_details()

    def _fit_popup(self) -> None:
        """Make the drop-down list wide enough for names and details side by side."""
        view = self.combo.view()
        option = QStyleOptionViewItem()
        option.initFrom(view)
        delegate = self.combo.itemDelegate()
        widest = max((delegate.sizeHint(option, self._model.index(row, 0)).width()
                      for row in range(self._model.rowCount())), default=0)
        scrollbar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        view.setMinimumWidth(widest + scrollbar + 8)

    def _custom_title(self, path: str) -> str:
        try:
            return self._engine.resolve(path).name
        except ResNetDesktopError:
            return Path(path).name

    def _is_cached(self, model_id: str) -> bool:
        try:
            return bool(self._engine.cache.is_cached(model_id))
        except (OSError, ResNetDesktopError):
            return False

    def _update_details(self) -> None:
        self._emit_selection()
        model = self.current_model()
        entry = self._engine.catalog.get(model) if model else None
        self._update_offer(entry)
        if entry is not None:
            if entry.builtin:
                state = "built in, works offline"
            elif self._is_cached(entry.id):
                state = "downloaded"
            else:
                state = f"{format_bytes(entry.bytes)} to download"
            self.details.setText("  ·  ".join(p for p in (entry.id, accuracy_text(entry), state)
                                              if p))
        elif model:
            self.details.setText(self._custom_details(model))
            self.details.setToolTip(model)
            return
        else:
            self.details.setText("")
        self.details.setToolTip(self.details.text())

    def _offered(self) -> CatalogEntry | None:
        """The catalog's default ResNet while it is not downloaded (else None)."""
        entry = self._engine.catalog.get(self._engine.catalog.default_id)
        if entry is None or entry.builtin or self._is_cached(entry.id):
            return None
        return entry

    def _update_offer(self, current: CatalogEntry | None) -> None:
        offered = self._offered() if current is not None and current.builtin else None
        if offered is not None:
            self.download_offer.setText(download_offer(offered))
            self.download_offer.setToolTip(entry_tooltip(offered, False))
        self.download_offer.setVisible(offered is not None)

    def _take_offer(self) -> None:
        """Choose the offered ResNet, as if picked in the list (it downloads, with Cancel)."""
        offered = self._offered()
        if offered is not None and self.select_model(offered.id):
            self.model_selected.emit(self.current_model(), self.current_provider())

    def _custom_details(self, model: str) -> str:
        """``Custom model · flowers.onnx · Apache-2.0`` (the full path is in the tooltip)."""
        parts = ["Custom model", Path(model).name]
        try:
            licence = self._engine.resolve(model).manifest.license
        except ResNetDesktopError:
            parts.append("file missing or unreadable")
        else:
            if licence:
                parts.append(licence)
        return "  ·  ".join(parts)

    def _emit_selection(self, *_args) -> None:
        if self.current_model():
            self.selection_changed.emit(self.current_model(), self.current_provider())

    def _on_activated(self, _row: int) -> None:
        self._update_details()
        if self.current_model():
            self.model_selected.emit(self.current_model(), self.current_provider())

    def _on_provider_activated(self, _row: int) -> None:
        if self.current_model():
            self.model_selected.emit(self.current_model(), self.current_provider())

""""Where it looked": the class activation map over the Classify tab's photo.

:class:`WhereItLookedBar` is the control (a toggle, an opacity slider, a one-line status);
:class:`WhereItLooked` keeps the state and wires the parts: while the toggle is on, the
inference service asks for maps with every classification (from the same run, see
``core.inference.cam``); a result's map of the top-1 class, or of the class whose bar was
clicked, goes to the image view, drawn over the centre crop the model saw. Turning the toggle
on re-classifies the current image once if its result came without a map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from resnet_desktop.gui.classify.image_pane import ImagePane, ImageSource
from resnet_desktop.gui.classify.top5_chart import Top5Chart
from resnet_desktop.gui.workers.inference import InferenceService

if TYPE_CHECKING:  # their modules import numpy, which the first paint does without
    from resnet_desktop.core.engine import Classification

DEFAULT_OPACITY = 0.5
MAP_SIDE = 224
"""The coloured map's side in pixels; the view scales it smoothly to the crop on screen."""


def map_image(result: Classification, index: int) -> QImage:
    """Class ``index``'s map of ``result`` as a coloured square image (``result.cam`` is set)."""
    from PIL import Image

    from resnet_desktop.core.imaging.heatmap import colourise
    from resnet_desktop.gui.widgets.image_convert import pil_to_qimage

    assert result.cam is not None
    colours = colourise(result.cam.for_class(index), MAP_SIDE, MAP_SIDE)
    return pil_to_qimage(Image.fromarray(colours))


class WhereItLookedBar(QWidget):
    """The toggle, the opacity slider and what is shown."""

    toggled = Signal(bool)
    opacity_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QCheckBox("&Where it looked", self)
        self.toggle.setToolTip("Colour the photo by how much each part made the model choose "
                               "the class (class activation map); click a bar to see its class")
        self.toggle.toggled.connect(self.toggled)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity.setToolTip("Opacity of the map")
        self.opacity.setAccessibleName("Map opacity")
        self.opacity.setMaximumWidth(140)
        self.opacity.valueChanged.connect(lambda value: self.opacity_changed.emit(value / 100))
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.opacity)
        layout.addWidget(self.status, 1)
        self._update()
        self.toggle.toggled.connect(self._update)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _update(self, *_args) -> None:
        self.opacity.setEnabled(self.toggle.isChecked())


class WhereItLooked(QObject):
    """The map's state: on or off, the opacity, the result and the class shown."""

    def __init__(self, bar: WhereItLookedBar, pane: ImagePane, chart: Top5Chart,
                 service: InferenceService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bar, self._pane, self._chart, self._service = bar, pane, chart, service
        self._result: Classification | None = None
        self._row = 0
        bar.toggled.connect(self._on_toggled)
        bar.opacity_changed.connect(pane.view.set_overlay_opacity)
        pane.image_loading.connect(self._on_image_loading)
        chart.bar_clicked.connect(self.show_row)
        service.result_ready.connect(self._on_result_ready)
        pane.view.set_overlay_opacity(bar.opacity.value() / 100)

    @property
    def enabled(self) -> bool:
        return self._bar.toggle.isChecked()

    def set_enabled(self, on: bool) -> None:
        self._bar.toggle.setChecked(on)

    def shown_class(self) -> str | None:
        """The label whose map is on the photo, if one is."""
        if not self.enabled or self._result is None or self._result.cam is None:
            return None
        return self._result.top[self._row].label

    def show_row(self, row: int) -> None:
        """Show the map of the chart's bar ``row`` (0 = the top-1)."""
        if self._result is None or not 0 <= row < len(self._result.top):
            return
        self._row = row
        self._chart.set_selected_row(row if self.enabled else -1)
        self._update()

    def _on_toggled(self, on: bool) -> None:
        self._service.set_with_cam(on)
        self._chart.set_selected_row(self._row if on and self._result is not None else -1)
        source = self._pane.current_source()
        if on and self._result is not None and self._result.cam is None \
                and self._pane.has_image() and source is not None:
            self._reclassify(source)
        self._update()

    def _reclassify(self, source: ImageSource) -> None:
        self._bar.set_status("Computing…")
        if source.path is not None:
            self._service.classify_path(source.path)
        elif source.image is not None:
            self._service.classify_image(source.image)

    def _on_image_loading(self, _source: ImageSource) -> None:
        self._result = None
        self._row = 0
        self._chart.set_selected_row(-1)
        self._update()

    def _on_result_ready(self, _request_id: int, result: Classification) -> None:
        self._result = result if result.ok else None
        self._row = 0
        self._chart.set_selected_row(0 if self.enabled and self._result is not None else -1)
        self._update()

    def _update(self) -> None:
        view, result = self._pane.view, self._result
        if not self.enabled or result is None:
            view.set_overlay(None, None)
            self._bar.set_status("")
            return
        if result.cam is None:
            from resnet_desktop.core.inference.cam import NOT_AVAILABLE

            view.set_overlay(None, None)
            self._bar.set_status(NOT_AVAILABLE.capitalize() if not
                                 self._service.has_pending_classification() else "Computing…")
            return
        prediction = result.top[self._row]
        view.set_overlay(map_image(result, prediction.index), result.cam.crop)
        self._bar.set_status(f"Showing {prediction.label}")

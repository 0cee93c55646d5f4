""""Where it looked" in the window: the map over the photo's crop, a bar click, the toggle."""

from __future__ import annotations

from pathlib import Path

import modelgen
import numpy as np
import pytest
from composites import fill, side_by_side
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.workers.inference import InferenceService
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

TIMEOUT_MS = 20_000


@pytest.fixture
def window(qtbot):
    win = MainWindow(InferenceService(ModelService()), remember=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def pair(tmp_path, photos) -> Path:
    """A cat on the left, an espresso on the right."""
    path = tmp_path / "pair.png"
    side_by_side(fill(photos["chelsea"], 300, 400), fill(photos["coffee"], 300, 400)).save(path)
    return path


def _load(qtbot, window: MainWindow, model: Path) -> None:
    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS):
        assert window.select_model(str(model), "cpu")


def _pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height)
    return data.reshape(height, image.bytesPerLine())[:, :width * 4].reshape(height, width, 4)


def test_map_covers_the_crop_and_follows_the_clicked_bar(qtbot, window, shared_model, pair):
    _load(qtbot, window, shared_model)
    window.where_it_looked.set_enabled(True)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT_MS) as shown:
        window.show_image_path(pair)
    result = shown.args[0]
    assert result.cam is not None
    qtbot.waitUntil(lambda: window.pane.view.overlay() is not None, timeout=TIMEOUT_MS)
    assert window.where_it_looked.shown_class() == result.top[0].label
    assert window.chart.selected_row() == 0
    assert window.cam_bar.status.text() == f"Showing {result.top[0].label}"

    # Drawn over the centre crop only: outside it the view is the photo as without the map.
    view = window.pane.view
    with_map = _pixels(view).astype(int)
    window.cam_bar.opacity.setValue(0)
    without = _pixels(view).astype(int)
    rect = view.image_rect()
    crop = result.cam.crop
    left = int(rect.left() + crop.left * rect.width())
    right = int(rect.left() + crop.right * rect.width())
    top, bottom = int(rect.top()), int(rect.bottom())
    assert np.abs(with_map[top + 2:bottom - 2, left + 3:right - 3] - without[
        top + 2:bottom - 2, left + 3:right - 3]).mean() > 10
    assert np.abs(with_map[top:bottom, :left - 2] - without[top:bottom, :left - 2]).max() == 0
    assert np.abs(with_map[top:bottom, right + 2:] - without[top:bottom, right + 2:]).max() == 0
    window.cam_bar.opacity.setValue(50)

    espresso = window.chart.labels().index("espresso")
    qtbot.mouseClick(window.chart, Qt.MouseButton.LeftButton,
                     pos=window.chart.row_rect(espresso).center().toPoint())
    assert window.where_it_looked.shown_class() == "espresso"
    assert window.chart.selected_row() == espresso
    window.where_it_looked.set_enabled(False)
    assert window.pane.view.overlay() is None and window.chart.selected_row() == -1


def test_turning_it_on_asks_for_the_map_of_the_image_on_screen(qtbot, window, shared_model,
                                                               pair):
    _load(qtbot, window, shared_model)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT_MS) as plain:
        window.show_image_path(pair)
    assert plain.args[0].cam is None and window.pane.view.overlay() is None
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT_MS) as again:
        window.where_it_looked.set_enabled(True)
    assert again.args[0].cam is not None
    assert [p.label for p in again.args[0].top] == [p.label for p in plain.args[0].top]
    assert window.pane.view.overlay() is not None


def test_a_model_without_maps_says_not_available(qtbot, window, tmp_path, pair):
    _load(qtbot, window, modelgen.colour_model(tmp_path / "models"))
    window.where_it_looked.set_enabled(True)
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT_MS):
        window.show_image_path(pair)
    assert window.pane.view.overlay() is None
    assert window.cam_bar.status.text() == "Not available for this model"

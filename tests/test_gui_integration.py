"""The main window composes the other panels and keeps them in step with the model picker."""

from __future__ import annotations

import modelgen
import pytest
from gui_helpers import COLOURS, solid
from PySide6.QtWidgets import QScrollArea

from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.models.import_dialog import ModelImportDialog

pytestmark = pytest.mark.gui


def _tab_titles(window: MainWindow) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def test_every_panel_is_a_tab(window):
    titles = _tab_titles(window)
    assert titles[0] == "Classify"
    assert titles[1:] == ["Batch", "Camera", "Model Info"]
    panel = window.camera_panel  # built on first use (Qt Multimedia loads then)
    camera_tab = window.tabs.widget(titles.index("Camera"))
    assert isinstance(camera_tab, QScrollArea) and camera_tab.widget() is panel


def test_a_loaded_model_reaches_the_info_panel(qtbot, window, tmp_path):
    model = modelgen.colour_model(tmp_path / "models", COLOURS)
    with qtbot.waitSignal(window.info_panel.facts_ready, timeout=20_000) as blocker:
        assert window.select_model(str(model), "cpu")
    facts = blocker.args[0]
    assert facts.facts.params == 3 * 6  # a 3x6 weight matrix: (r, g, b) to six colours
    assert facts.facts.sha256


def test_a_camera_snapshot_sent_to_the_main_pane_is_classified(qtbot, window, tmp_path):
    model = modelgen.colour_model(tmp_path / "models", COLOURS)
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        window.select_model(str(model), "cpu")
    blue = (0, 0, 255)
    snapshot = solid(tmp_path / "snapshot.png", blue)
    window.tabs.setCurrentIndex(_tab_titles(window).index("Camera"))
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        window.camera_panel.snapshot_sent.emit(str(snapshot))
    assert window.tabs.currentIndex() == 0
    assert window.chart.labels()[0] == modelgen.colour_ranking(blue, COLOURS)[0]


def test_an_imported_model_joins_my_models_and_loads(qtbot, window, tmp_path):
    model = modelgen.colour_model(tmp_path / "models", COLOURS)
    dialog = window.import_model()
    assert isinstance(dialog, ModelImportDialog) and dialog.isVisible()
    with qtbot.waitSignal(window.model_changed, timeout=10_000) as blocker:
        dialog.model_imported.emit(str(model))
    assert blocker.args[0] == str(model.resolve())
    dialog.close()


def test_the_pickers_add_button_opens_the_import_form(qtbot, window):
    window.picker.add_button.click()
    dialogs = window.findChildren(ModelImportDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].close()


def test_batch_double_click_opens_the_image_in_the_main_pane(qtbot, window, tmp_path):
    model = modelgen.colour_model(tmp_path / "models", COLOURS)
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        window.select_model(str(model), "cpu")
    window.tabs.setCurrentIndex(_tab_titles(window).index("Batch"))
    assert window.tabs.currentWidget().widget() is window.batch_panel
    picture = solid(tmp_path / "pick.png", (255, 0, 0))
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        window.batch_panel.image_activated.emit(str(picture))
    assert window.tabs.currentIndex() == 0
    assert window.pane.current_source() is not None


def test_models_model_info_shows_the_info_tab(window):
    """The real menu action: the tab page is the scroll area around the panel."""
    models_menu = next(action.menu() for action in window.menuBar().actions()
                       if action.text() == "&Models")
    info = next(action for action in models_menu.actions() if action.text() == "Model &Info")
    assert window.tabs.currentIndex() == 0
    info.trigger()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Model Info"
    assert window.tabs.currentWidget().widget() is window.info_panel

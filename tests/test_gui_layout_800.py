"""Every tab fits an 800×600 window: nothing scrolls sideways and no control is out of view."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QScrollArea,
    QWidget,
)

from resnet_desktop.gui.main_window import MainWindow

pytestmark = pytest.mark.gui

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox)


@pytest.fixture
def window(qtbot):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def visible_controls(page: QWidget) -> list[QWidget]:
    return [w for w in page.findChildren(QWidget)
            if isinstance(w, CONTROLS) and w.isVisibleTo(page) and w.window() is page.window()
            and not isinstance(w.parentWidget(), QScrollArea)]


@pytest.mark.parametrize("tab", ["Classify", "Batch", "Camera", "Model Info"])
def test_every_control_of_every_tab_is_in_view_at_800_by_600(qtbot, window, tab):
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == tab)
    window.tabs.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.tabs.currentWidget().isVisible())
    assert window.size().width() == 800 and window.size().height() == 600
    page = window.tabs.currentWidget()
    if isinstance(page, QScrollArea):
        inner = page.widget()
        # The scroll area lays its panel out after the tab is shown: wait until it has.
        qtbot.waitUntil(lambda: inner.size() == inner.minimumSizeHint().expandedTo(
            page.viewport().size()))
        assert not page.horizontalScrollBar().isVisible(), f"{tab} scrolls sideways"
        assert not page.verticalScrollBar().isVisible(), f"{tab} scrolls down"
    area = page.rect()
    controls = visible_controls(page)
    assert controls
    for control in controls:
        rect = control.rect().translated(control.mapTo(page, control.rect().topLeft()))
        assert area.contains(rect), f"{tab}: {control.__class__.__name__} " \
                                    f"{control.accessibleName() or control.objectName()} " \
                                    f"at {rect} is outside {area}"


def test_the_inference_time_shows_only_on_the_classify_tab(qtbot, window):
    assert window.timing_label.isVisible()
    window.tabs.setCurrentIndex(window.batch_tab)
    assert not window.timing_label.isVisible()
    window.tabs.setCurrentWidget(window.classify_view)
    assert window.timing_label.isVisible()

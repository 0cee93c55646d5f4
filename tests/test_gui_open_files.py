"""Images handed to the app by a file manager: paths on the command line (Linux's ``%F``,
Windows' "Open with") and macOS's QFileOpenEvent open in the Classify tab."""

from __future__ import annotations

from pathlib import Path

import modelgen
import pytest
from gui_helpers import COLOURS, CountingEngine, solid
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from resnet_desktop.gui import app
from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.workers.inference import InferenceService
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui


class FirstResult(QObject):
    """Watches the app for the main window being shown, then records the first result it
    shows (the path, whether the Classify tab is current, the strip's files) and closes it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Path | None, bool, list[Path | None]]] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(watched, MainWindow) \
                and not watched.property("watched"):
            watched.setProperty("watched", True)
            watched.result_shown.connect(lambda result, w=watched: self._record(w, result))
        return False

    def _record(self, window: MainWindow, result) -> None:
        if not self.seen:
            self.seen.append((result.path, window.tabs.currentWidget() is window.classify_view,
                              [s.path for s in window.pane.sources()]))
            window.close()


def test_image_paths_on_the_command_line_open_with_the_first_shown(qapp, tmp_path: Path):
    red = solid(tmp_path / "red.png", (255, 0, 0))
    green = solid(tmp_path / "green.png", (0, 255, 0))
    watcher = FirstResult()
    qapp.installEventFilter(watcher)
    safety_net = QTimer()  # ends the event loop if no result ever shows; stopped below
    safety_net.setSingleShot(True)
    safety_net.timeout.connect(qapp.quit)
    safety_net.start(20_000)
    model = modelgen.colour_model(tmp_path / "m", COLOURS)
    try:
        code = app.run(["--model", str(model), "--provider", "cpu",
                        str(red), "-platform", "offscreen", str(green)])
    finally:
        safety_net.stop()
        qapp.removeEventFilter(watcher)
    assert code == 0
    assert watcher.seen == [(red, True, [red, green])]


@pytest.fixture
def colours_window(qtbot, tmp_path: Path) -> MainWindow:
    window = MainWindow(InferenceService(ModelService(CountingEngine())))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        assert window.select_model(str(modelgen.colour_model(tmp_path / "models", COLOURS)))
    yield window
    window.close()


def test_a_file_open_event_opens_the_file_in_the_classify_tab(qtbot, colours_window,
                                                              tmp_path: Path) -> None:
    window = colours_window
    green = solid(tmp_path / "green.png", (0, 255, 0))
    window.tabs.setCurrentIndex(window.tabs.count() - 1)
    forwarder = app.FileOpenForwarder(window)
    QApplication.instance().installEventFilter(forwarder)
    try:
        with qtbot.waitSignal(window.result_shown, timeout=10_000) as shown:
            QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(green)))
    finally:
        QApplication.instance().removeEventFilter(forwarder)
    assert shown.args[0].path == green
    assert window.tabs.currentWidget() is window.classify_view
    assert window.chart.labels()[0] == modelgen.colour_ranking((0, 255, 0), COLOURS)[0]


@pytest.mark.parametrize(("argv", "ours", "qt"), [
    (["a.jpg", "-platform", "offscreen", "b.jpg"], ["a.jpg", "b.jpg"], ["-platform", "offscreen"]),
    (["--model", "m", "-style", "fusion", "-reverse"], ["--model", "m", "-reverse"],
     ["-style", "fusion"]),
    (["-platform"], [], ["-platform", ""]),
])
def test_qt_options_with_values_are_not_taken_for_images(argv, ours, qt) -> None:
    assert app.split_qt_options(argv) == (ours, qt)

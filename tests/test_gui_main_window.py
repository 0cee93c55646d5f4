"""The main window end to end: real drops, pastes, ONNX Runtime sessions on generated models."""

from __future__ import annotations

import time
from pathlib import Path

import modelgen
import onnxruntime
import PySide6
import pytest
from gui_helpers import (
    COLOURS,
    MAX_BLOCKED_S,
    CountingEngine,
    GuiProbe,
    drag_enter,
    drop,
    solid,
)
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl, qVersion
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QLabel

from resnet_desktop.core.engine import ProviderStatus
from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.workers.inference import InferenceService
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

GREEK = ("alpha", "beta", "gamma", "delta", "epsilon")
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
RED_TOP5 = modelgen.colour_ranking(RED, COLOURS)[:5]
GREEN_TOP5 = modelgen.colour_ranking(GREEN, COLOURS)[:5]
BLUE_TOP5 = modelgen.colour_ranking(BLUE, COLOURS)[:5]
RED_TOP5_GREEK = modelgen.colour_ranking(RED, GREEK)[:5]


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    return {"red": solid(tmp_path / "red.png", RED),
            "green": solid(tmp_path / "green.png", GREEN),
            "blue": solid(tmp_path / "blue.png", BLUE)}


@pytest.fixture
def window(qtbot, tmp_path: Path):
    win = MainWindow(InferenceService(ModelService(CountingEngine())))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def colours_window(qtbot, window: MainWindow, tmp_path: Path) -> MainWindow:
    """A window with the colour model loaded."""
    model = modelgen.colour_model(tmp_path / "models", COLOURS, license="CC0-1.0")
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        assert window.select_model(str(model))
    return window


def test_dropping_a_file_shows_five_bars_with_the_right_labels(qtbot, colours_window, images):
    window = colours_window
    with qtbot.waitSignal(window.result_shown, timeout=10_000) as shown:
        drop(window.pane, [images["red"]])
    assert shown.args[0].path == images["red"]
    assert window.chart.labels() == RED_TOP5
    assert window.chart.headline() == RED_TOP5[0]
    assert sum(window.chart.probabilities()) == pytest.approx(1.0, abs=1e-3)
    assert window.pane.has_image() and window.pane.message() == ""
    assert window.timing_label.text().endswith("ms")
    assert window.provider_label.text() == "CPU"
    qtbot.waitUntil(lambda: not window.chart.is_animating(), timeout=5000)


def test_dropping_on_the_chart_side_of_the_window_works_too(qtbot, colours_window, images):
    with qtbot.waitSignal(colours_window.result_shown, timeout=10_000):
        drop(colours_window, [images["green"]])
    assert colours_window.chart.labels() == GREEN_TOP5


def test_several_files_form_a_strip_stepped_with_the_arrow_keys(qtbot, colours_window, images):
    window = colours_window
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        drop(window.pane, [images["red"], images["green"]])
    assert window.chart.labels()[0] == RED_TOP5[0]
    assert window.pane.strip.isVisible() and window.pane.strip.count() == 2
    with qtbot.waitSignal(window.result_shown, timeout=10_000) as shown:
        qtbot.keyClick(window.pane, Qt.Key.Key_Right)
    assert shown.args[0].path == images["green"]
    assert window.chart.labels()[0] == GREEN_TOP5[0]
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        qtbot.keyClick(window.pane, Qt.Key.Key_Left)
    assert window.chart.labels()[0] == RED_TOP5[0]


def test_pasting_an_image_classifies_it(qtbot, colours_window):
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor(*BLUE))
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(colours_window.result_shown, timeout=10_000) as shown:
        colours_window.paste_action.trigger()
    assert shown.args[0].path is None
    assert colours_window.chart.labels()[0] == BLUE_TOP5[0]
    assert colours_window.pane.caption.text() == "Pasted image"


def test_pasting_copied_file_urls_opens_the_files(qtbot, colours_window, images):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(images["green"]))])
    QGuiApplication.clipboard().setMimeData(mime)
    with qtbot.waitSignal(colours_window.result_shown, timeout=10_000) as shown:
        qtbot.keyClick(colours_window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert shown.args[0].path == images["green"]
    assert colours_window.chart.labels() == GREEN_TOP5


def test_an_empty_clipboard_says_so_in_the_pane(qtbot, colours_window):
    mime = QMimeData()
    mime.setText("just words")
    QGuiApplication.clipboard().setMimeData(mime)
    colours_window.paste()
    assert "holds no image" in colours_window.pane.message()


def test_a_file_that_is_not_an_image_gets_its_message_in_the_pane(qtbot, colours_window,
                                                                   images, tmp_path):
    window = colours_window
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        drop(window.pane, [images["red"]])
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\neggs\n")
    with qtbot.waitSignal(window.pane.image_failed, timeout=10_000):
        drop(window.pane, [notes])
    message = window.pane.message()
    assert "notes.txt" in message and "not a supported image" in message
    assert not window.pane.has_image()
    assert window.chart.labels() == []  # the previous image's bars are gone
    assert not QApplication.activeModalWidget()


def test_switching_models_reclassifies_the_current_image(qtbot, colours_window, images,
                                                         tmp_path):
    window = colours_window
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        drop(window.pane, [images["red"]])
    assert window.chart.labels() == RED_TOP5
    greek = modelgen.colour_model(tmp_path / "greek", GREEK, name="greek", license="CC0-1.0")
    changes = []
    window.model_changed.connect(lambda model, provider: changes.append((model, provider)))
    with qtbot.waitSignal(window.result_shown, timeout=10_000) as shown:
        assert window.picker.add_custom_model(greek)  # as "Add model…" does
    assert shown.args[0].model == "greek"
    assert window.chart.labels() == RED_TOP5_GREEK
    assert changes == [(str(greek.resolve()), "auto")]
    assert window.current_model() == str(greek.resolve())
    assert window.loaded_model().name == "Greek"
    about = window.about_text()
    assert "CC0-1.0" in about and "Greek" in about
    assert f"Qt {qVersion()}" in about and f"ONNX Runtime {onnxruntime.__version__}" in about
    assert f"PySide6 {PySide6.__version__}" in about


def test_a_broken_model_is_a_message_and_the_previous_model_stays(qtbot, colours_window,
                                                                  images, tmp_path):
    window = colours_window
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a model")
    with qtbot.waitSignal(window.service.load_failed, timeout=10_000) as failed:
        window.select_model(str(broken))
    assert "broken.onnx" in failed.args[1]
    assert "broken.onnx" in window.statusBar().currentMessage()
    assert window.current_model().endswith("colours.onnx")  # the picker went back
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        drop(window.pane, [images["red"]])
    assert window.chart.labels() == RED_TOP5


def test_newest_image_wins_and_no_stale_result_is_shown(qtbot, window, tmp_path):
    """Ten images dropped faster than inference: only the last one's result reaches the chart."""
    model = modelgen.slow_model(tmp_path / "slow")
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        window.select_model(str(model))
    paths = [solid(tmp_path / f"img{i}.png", (25 * i, 100, 200 - 20 * i)) for i in range(10)]
    shown: list[Path] = []
    window.result_shown.connect(lambda result: shown.append(result.path))
    before = window.models.engine.classified
    for path in paths:
        drop(window.pane, [path])
        qtbot.wait(5)
    qtbot.waitUntil(lambda: paths[-1] in shown, timeout=20_000)
    classified = window.models.engine.classified - before
    assert window.chart.result().path == paths[-1]
    sentinel = solid(tmp_path / "sentinel.png", (1, 2, 3))
    with qtbot.waitSignal(window.result_shown, timeout=20_000):  # requests run in order:
        drop(window.pane, [sentinel])  # nothing stale can arrive after the sentinel's answer
    assert shown == [paths[-1], sentinel]
    assert classified < len(paths)


def test_the_window_stays_responsive_during_slow_inference(qtbot, window, tmp_path):
    """A 10 ms timer on the GUI thread is never held more than MAX_BLOCKED_S by 20 images."""
    model = modelgen.slow_model(tmp_path / "slow", size=640)
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        window.select_model(str(model))
    image = solid(tmp_path / "photo.png", (200, 120, 40), (800, 600))
    done: list[float] = []

    def next_one() -> None:
        if len(done) < 20:
            window.service.classify_path(image)

    window.service.result_ready.connect(lambda _id, result: (done.append(result.ms),
                                                             next_one()))
    started = time.perf_counter()
    with GuiProbe() as probe:
        next_one()
        qtbot.waitUntil(lambda: len(done) >= 20, timeout=120_000)
    elapsed = time.perf_counter() - started
    assert len(done) == 20
    assert elapsed > 1.0, "the model is too fast for this check to mean anything"
    print(f"20 inferences in {elapsed:.1f} s (mean {sum(done) / len(done):.0f} ms); "
          f"{probe.summary()}")
    assert max(probe.blocked) < MAX_BLOCKED_S, probe.summary()


def test_closing_during_inference_is_quick(qtbot, window, tmp_path):
    model = modelgen.slow_model(tmp_path / "slow", size=640)
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        window.select_model(str(model))
    image = solid(tmp_path / "photo.png", (10, 20, 30), (800, 600))
    window.service.classify_path(image)
    qtbot.waitUntil(lambda: window.models.engine.classified == 1, timeout=5000)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1.0
    assert window.service.shutdown(0)


def test_a_gpu_that_cannot_start_is_shown_with_the_reason(qtbot, window, tmp_path):
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA: no fall-back to show")
    with qtbot.waitSignal(window.model_changed, timeout=10_000) as changed:
        model = modelgen.colour_model(tmp_path / "m", COLOURS, license="CC0-1.0")
        window.select_model(str(model), "cuda")
    assert changed.args[1] == "cuda"
    assert window.provider_label.text() == "CPU (GPU unavailable)"
    assert "CUDAExecutionProvider" in window.provider_label.toolTip()
    assert "runs on the CPU: CUDAExecutionProvider" in window.statusBar().currentMessage()
    assert window.current_provider() == "cuda"


def test_add_tab_show_image_path_and_current_model(qtbot, colours_window, images):
    window = colours_window
    index = window.add_tab(QLabel("extra"), "Extra")
    assert index == window.tabs.count() - 1 and window.tabs.tabText(index) == "Extra"
    window.tabs.setCurrentIndex(index)
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        window.show_image_path(images["green"])
    assert window.tabs.currentIndex() == 0
    assert window.chart.labels()[0] == GREEN_TOP5[0]
    assert window.current_model().endswith("colours.onnx")
    assert window.current_provider() == "auto"


def test_settings_are_kept_between_runs(qtbot, tmp_path, images):
    model = modelgen.colour_model(tmp_path / "models", COLOURS, license="CC0-1.0")
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    with qtbot.waitSignal(first.model_changed, timeout=10_000):
        first.select_model(str(model), "cpu")
    with qtbot.waitSignal(first.result_shown, timeout=10_000):
        first.show_image_path(images["red"])
    first.resize(760, 560)  # within the offscreen screen (800x600)
    first.close()

    settings = app_settings()
    assert settings.value("model/last") == str(model.resolve())
    assert settings.value("model/provider") == "cpu"

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.current_model() == str(model.resolve())
    assert second.current_provider() == "cpu"
    assert str(model.resolve()) in second.picker.custom_models()
    assert second.recent_images() == [str(images["red"].resolve())]
    assert (second.width(), second.height()) == (760, 560)
    second.recent_menu.aboutToShow.emit()
    actions = [a.text() for a in second.recent_menu.actions()]
    assert actions[0] == "red.png"
    with qtbot.waitSignal(second.model_changed, timeout=10_000):
        second.start()  # the model is on disk: it loads without asking
    second.close()


def test_unexpected_errors_become_a_status_message(qtbot, window):
    from resnet_desktop.gui import error_hook

    uninstall = error_hook.install(window.errors)
    try:
        try:
            raise ValueError("boom")
        except ValueError as exc:
            import sys

            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        uninstall()
    qtbot.waitUntil(lambda: "boom" in window.statusBar().currentMessage(), timeout=2000)
    assert "Unexpected error" in window.statusBar().currentMessage()


def test_shortcuts_and_full_screen(qtbot, window):
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    assert window.paste_action.shortcut().toString() == "Ctrl+V"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    assert window.fullscreen_action.shortcut().toString() == "F11"
    window.toggle_full_screen()
    assert window.isFullScreen() and window.fullscreen_action.isChecked()
    window.toggle_full_screen()
    assert not window.isFullScreen()


def test_drag_enter_refuses_plain_text(qtbot, window):
    mime = QMimeData()
    mime.setText("hello")
    assert not drag_enter(window.pane, QPoint(5, 5), mime).isAccepted()


def test_the_other_tabs_start_on_the_pickers_model_before_it_loads(qtbot, window):
    """A batch started before the picker's model has loaded uses that model, not the
    catalog's first entry."""
    chosen = window.current_model()
    assert chosen
    assert window.batch_panel.current_model() == chosen


def test_a_custom_model_comes_off_the_list_from_the_models_menu(qtbot, colours_window,
                                                                 tmp_path):
    window = colours_window
    greek = modelgen.colour_model(tmp_path / "greek", GREEK, name="greek", license="CC0-1.0")
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        assert window.picker.add_custom_model(greek)
    assert window.remove_model_action.isEnabled()
    with qtbot.waitSignal(window.model_changed, timeout=20_000) as changed:
        window.remove_model_action.trigger()
    assert str(greek.resolve()) not in window.picker.models()
    assert changed.args[0] == window.service.engine.default_model == window.current_model()
    assert not window.remove_model_action.isEnabled()
    assert greek.is_file(), "only the list entry goes, never the user's file"


class _PretendCudaEngine(CountingEngine):
    """Real CPU sessions that the app believes run on CUDA: to the app they look exactly like a
    CUDA session that ONNX Runtime moved to the CPU after a failed run."""

    def load(self, *args, **kwargs):
        classifier = super().load(*args, **kwargs)
        classifier.provider = ProviderStatus("cuda", "cuda")
        return classifier


def test_a_gpu_that_fails_during_a_run_is_shown_as_the_cpu(qtbot, tmp_path, images):
    window = MainWindow(InferenceService(ModelService(_PretendCudaEngine())))
    qtbot.addWidget(window)
    window.show()
    model = modelgen.colour_model(tmp_path / "models", COLOURS)
    with qtbot.waitSignal(window.model_changed, timeout=10_000):
        assert window.select_model(str(model))
    assert window.loaded_model().provider.active == "cuda"
    assert not window.provider_label.text().startswith("CPU")
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        drop(window.pane, [images["red"]])
    status = window.loaded_model().provider
    assert (status.active, status.requested) == ("cpu", "cuda")
    assert "moved the session to the CPU" in status.fallback_reason
    assert window.provider_label.text() == "CPU (GPU unavailable)"
    assert window.provider_label.toolTip() == status.fallback_reason
    window.close()

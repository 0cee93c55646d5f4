"""Choosing a model that is not cached downloads it, with progress and Cancel, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import modelgen
import pytest
from gui_helpers import COLOURS
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import TaskRunner

pytestmark = pytest.mark.gui

MODEL_ID = "colours-v1-18"


def model_bytes(padding: int) -> bytes:
    """A valid colour classifier, padded with a doc string so the download takes a while."""
    model = modelgen.colour_classifier(None, classes=COLOURS)
    model.doc_string = "x" * padding
    return model.SerializeToString()


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_server):
    """A catalog whose two models come from the loopback server; returns (route, body)."""
    def make(padding: int = 400_000, delay: float = 0.0, chunk_size: int = 16 * 1024):
        body = model_bytes(padding)
        route = http_server.add("/colours.onnx", body, delay=delay, chunk_size=chunk_size)
        folder = tmp_path / "catalog"
        folder.mkdir(exist_ok=True)
        modelgen.write_labels(folder / "labels.txt", COLOURS)
        entry = {"id": MODEL_ID, "name": "Colours 18 v1", "family": "v1", "depth": 18,
                 "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                 "top1": 61.5, "top5": 88.25, "license": "CC0-1.0",
                 "urls": [http_server.url("/colours.onnx")], "labels": "labels.txt"}
        other = dict(entry, id="colours-v2-50", name="Colours 50 v2", family="v2", depth=50,
                     urls=[http_server.url("/missing.onnx")])
        path = folder / "models.json"
        path.write_text(json.dumps({"schema": 1, "default": MODEL_ID,
                                    "models": [other, entry]}))
        monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(path))
        return route, body
    return make


@pytest.fixture
def new_window(qtbot):
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def test_a_model_that_is_not_cached_downloads_with_progress(qtbot, catalog, new_window,
                                                            tmp_path):
    _route, body = catalog(delay=0.05, chunk_size=32 * 1024)
    window = new_window()
    window.start()
    assert "not downloaded yet" in window.chart.headline()
    assert "to download" in window.picker.details.text()
    progress: list[tuple[int, int, float]] = []
    window.models.download_progressed.connect(lambda d, t, r: progress.append((d, t, r)))
    with qtbot.waitSignal(window.service.model_loading, timeout=5000):
        window.select_model(MODEL_ID)
    assert window.download_bar.isVisible()
    qtbot.waitUntil(lambda: any(0 < d < t for d, t, _ in progress), timeout=10_000)
    text = window.download_bar.text()
    assert text.startswith("Downloading Colours 18 v1: ")
    assert " of 400.3 kB" in text and "kB/s" in text and text.endswith(" left")
    qtbot.waitUntil(lambda: window.loaded_model() is not None, timeout=20_000)
    assert not window.download_bar.isVisible()
    assert progress[-1][:2] == (len(body), len(body))
    assert "✓ downloaded" in window.picker.combo.currentData(Qt.ItemDataRole.UserRole + 2)
    assert window.service.engine.cache.is_cached(MODEL_ID)
    image = tmp_path / "red.png"
    Image.new("RGB", (40, 40), (255, 0, 0)).save(image)
    with qtbot.waitSignal(window.result_shown, timeout=10_000):
        window.show_image_path(image)
    assert window.chart.labels()[:2] == modelgen.colour_ranking((255, 0, 0), COLOURS)[:2]


def test_cancel_keeps_a_partial_that_resumes_later(qtbot, catalog, new_window, http_server):
    route, body = catalog(delay=0.15)
    window = new_window()
    cache = window.service.engine.cache
    progress: list[int] = []
    window.models.download_progressed.connect(lambda d, t, r: progress.append(d))
    window.select_model(MODEL_ID)
    qtbot.waitUntil(lambda: any(d > 0 for d in progress), timeout=10_000)
    with qtbot.waitSignal(window.service.load_cancelled, timeout=5000):
        qtbot.mouseClick(window.download_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert not window.download_bar.isVisible()
    kept = cache.partial_bytes(MODEL_ID)
    assert 0 < kept < len(body)
    assert "cancelled" in window.statusBar().currentMessage()
    assert "resumes next time" in window.statusBar().currentMessage()
    assert not cache.is_cached(MODEL_ID)

    route.delay = 0.0
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        window.select_model(MODEL_ID)
    assert cache.is_cached(MODEL_ID)
    resumed = http_server.requests_for("/colours.onnx")[-1]
    assert resumed.headers.get("range") == f"bytes={kept}-"


def test_closing_during_a_slow_download_is_quick_and_keeps_the_partial(qtbot, catalog,
                                                                       new_window):
    catalog(delay=0.5)
    window = new_window()
    progress: list[int] = []
    window.models.download_progressed.connect(lambda d, t, r: progress.append(d))
    window.select_model(MODEL_ID)
    qtbot.waitUntil(lambda: any(d > 0 for d in progress), timeout=10_000)
    started = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"closing took {elapsed:.2f} s"
    assert window.service.shutdown(0)  # the worker thread has finished
    assert window.service.engine.cache.partial_bytes(MODEL_ID) > 0


def test_offline_mode_is_a_message_not_a_crash(qtbot, catalog, new_window, monkeypatch):
    catalog()
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    window = new_window()
    with qtbot.waitSignal(window.service.load_failed, timeout=5000):
        window.select_model(MODEL_ID)
    assert "offline" in window.statusBar().currentMessage()
    assert "offline" in window.controller.shown_problem().headline
    assert not window.download_bar.isVisible()


def test_a_failed_download_names_the_source(qtbot, catalog, new_window):
    catalog()
    window = new_window()
    with qtbot.waitSignal(window.service.load_failed, timeout=20_000) as failed:
        window.select_model("colours-v2-50")
    assert "missing.onnx" in failed.args[1] and "404" in failed.args[1]
    assert window.statusBar().currentMessage() == ("Colours 50 v2 was not downloaded: its "
                                                   "download sources are not working.")
    assert "404" in window.controller.problem.details.toPlainText()


@pytest.mark.parametrize("tab", ["Batch", "Camera", "Validate"])
def test_every_tabs_download_shows_in_the_status_bar_with_cancel(qtbot, catalog, new_window,
                                                                tmp_path, tab):
    """The Batch tab, the camera and the validate dialog download through the one model
    service: the status-bar bar shows it, and its Cancel stops it."""
    catalog(delay=0.15)
    window = new_window()
    window.picker.select_model(MODEL_ID)
    assert window.models.current_model() == MODEL_ID
    progress: list[int] = []
    window.models.download_progressed.connect(lambda d, t, r: progress.append(d))
    photo = Image.new("RGB", (40, 40), (255, 0, 0))
    if tab == "Batch":
        photo.save(tmp_path / "red.png")
        window.batch_panel.set_folder(tmp_path)
        window.batch_panel.start()
        stopped = window.batch_panel.batch_stopped
    elif tab == "Camera":
        classifier = window.camera_panel.classifier()
        classifier.classify_snapshot(image=QImage(photo.tobytes(), 40, 40, 120,
                                                  QImage.Format.Format_RGB888).copy())
        stopped = window.models.download_ended
    else:
        dialog = window.validate_model()
        dialog.set_folder(tmp_path)
        dialog.start()
        stopped = dialog.validation_cancelled
    qtbot.waitUntil(lambda: any(d > 0 for d in progress), timeout=10_000)
    assert window.download_bar.isVisible()
    assert window.download_bar.text().startswith("Downloading Colours 18 v1")
    with qtbot.waitSignal(stopped, timeout=10_000):
        qtbot.mouseClick(window.download_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert not window.download_bar.isVisible()
    assert "Download of Colours 18 v1 cancelled" in window.statusBar().currentMessage()
    assert window.models.engine.cache.partial_bytes(MODEL_ID) > 0


def test_two_tabs_asking_for_the_same_model_download_it_once(qtbot, catalog, http_server):
    """The model service downloads a model once however many tabs ask at the same time."""
    catalog(delay=0.02)
    models = ModelService()
    runner = TaskRunner(threads=2)
    started: list[str] = []
    models.download_started.connect(lambda name, _total, _done: started.append(name))
    loaded: list[object] = []
    runner.job_returned.connect(lambda _job, classifier: loaded.append(classifier))
    for _ in range(2):
        runner.submit(lambda _report, cancel: models.load(MODEL_ID, "cpu", cancel))
    qtbot.waitUntil(lambda: len(loaded) == 2, timeout=20_000)
    assert started == ["Colours 18 v1"]
    assert len(http_server.requests_for("/colours.onnx")) == 1
    assert loaded[0].model_path == loaded[1].model_path
    assert runner.shutdown()

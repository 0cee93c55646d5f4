"""A ResNet that cannot be downloaded: the Top-5 card says why in one line and offers Retry,
the models already on this machine and Import; the technical text hides behind Details."""

from __future__ import annotations

import hashlib
import json

import modelgen
import pytest

from resnet_desktop.core.engine import ProblemKind
from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.resources import resource_path

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    with qtbot.waitSignal(win.model_changed, timeout=20_000):
        win.start()
    assert win.loaded_model().id == "efficientnet-lite0"
    yield win
    win.close()


def choose(qtbot, window: MainWindow, model: str) -> None:
    with qtbot.waitSignal(window.service.load_failed, timeout=20_000):
        assert window.select_model(model)


def test_offline_resnet_shows_a_short_state_with_ways_on(qtbot, window, monkeypatch):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    choose(qtbot, window, "resnet50-v2-7")
    controller = window.controller
    problem = controller.shown_problem()
    assert problem is not None and problem.kind is ProblemKind.OFFLINE
    view = controller.problem
    assert view.headline.text() == "Can't download ResNet-50 v2: you appear to be offline"
    assert window.statusBar().currentMessage() == ("ResNet-50 v2 was not downloaded: you appear "
                                                   "to be offline.")
    assert not view.details.isVisible()
    view.details_toggle.click()
    assert view.details.isVisible() and "RESNET_DESKTOP_OFFLINE" in view.details.toPlainText()
    # Everything the card offers is inside the card.
    for widget in (view.retry_button, view.local_button, view.import_button, view.details):
        corner = widget.mapTo(window.chart, widget.rect().bottomRight())
        assert window.chart.rect().contains(corner), widget
    assert [a.text() for a in view.local_menu.actions()] == ["EfficientNet-Lite0"]
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        view.local_menu.actions()[0].trigger()
    assert controller.shown_problem() is None and not view.isVisible()
    assert window.picker.current_model() == "efficientnet-lite0"


def test_import_opens_the_import_form(qtbot, window, monkeypatch):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    choose(qtbot, window, "resnet50-v2-7")
    opened = []
    window.picker.add_model_requested.connect(lambda: opened.append(True))
    window.controller.problem.import_button.click()
    assert opened == [True]


@pytest.fixture
def mirror_catalog(http_server, tmp_path, monkeypatch):
    """The shipped catalog plus "Colours", whose one source serves a damaged file at first."""
    good = modelgen.colour_classifier(None, classes=("red", "green", "blue")).SerializeToString()
    route = http_server.add("/colours.onnx", b"\x00" * len(good))
    folder = tmp_path / "catalog"
    folder.mkdir()
    modelgen.write_labels(folder / "labels.txt", ("red", "green", "blue"))
    catalog = json.loads(resource_path("models.json").read_text(encoding="utf-8"))
    for entry in catalog["models"]:
        if "file" in entry:  # the built-in model stays where it ships
            entry["file"] = str(resource_path(entry["file"]))
    catalog["models"].append({
        "id": "colours", "name": "Colours", "family": "v1", "depth": 18, "bytes": len(good),
        "sha256": hashlib.sha256(good).hexdigest(), "license": "CC0-1.0",
        "urls": [http_server.url("/colours.onnx")], "labels": "labels.txt",
        "input_size": 32, "resize": 32})
    (folder / "models.json").write_text(json.dumps(catalog))
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(folder / "models.json"))
    return route, good


def test_damaged_download_then_retry_once_the_source_is_fixed(qtbot, mirror_catalog):
    route, good = mirror_catalog
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    window.show()
    choose(qtbot, window, "colours")
    problem = window.controller.shown_problem()
    assert problem.kind is ProblemKind.DAMAGED
    assert problem.headline == "Can't download Colours: the files received were damaged"
    assert window.controller.problem.details.toPlainText().startswith("could not download")
    route.body = good
    with qtbot.waitSignal(window.model_changed, timeout=20_000):
        window.controller.problem.retry_button.click()
    assert window.loaded_model().id == "colours"
    assert window.controller.shown_problem() is None
    window.close()


def test_an_image_opened_after_the_failure_keeps_the_short_status_line(qtbot, monkeypatch,
                                                                     photos):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    window.show()
    choose(qtbot, window, "resnet50-v2-7")  # nothing loaded before: no model at all
    with qtbot.waitSignal(window.pane.image_changed, timeout=20_000):
        window.open_images([photos["chelsea"]])
    assert window.statusBar().currentMessage() == ("ResNet-50 v2 was not downloaded: you appear "
                                                   "to be offline.")
    assert window.controller.shown_problem() is not None
    window.close()

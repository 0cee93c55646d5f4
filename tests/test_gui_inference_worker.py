"""The inference service: one worker thread, numbered requests, coalescing, no stale answers."""

from __future__ import annotations

from pathlib import Path

import modelgen
import pytest
from gui_helpers import CountingEngine
from PIL import Image
from PySide6.QtGui import QColor, QImage

from resnet_desktop.core.inference.results import Classification
from resnet_desktop.gui.workers.inference import InferenceService, LoadedModel
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

RED = (255, 0, 0)


@pytest.fixture
def service(qtbot):
    svc = InferenceService(ModelService(CountingEngine()))
    yield svc
    assert svc.shutdown(5000)


@pytest.fixture
def red_png(tmp_path: Path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (50, 30), RED).save(path)
    return path


def test_load_then_classify_a_file(qtbot, service, tmp_path, red_png):
    model = modelgen.colour_model(tmp_path)
    with qtbot.waitSignal(service.model_loaded, timeout=10_000) as loaded:
        load_id = service.load_model(str(model), "cpu")
    request_id, info = loaded.args
    assert request_id == load_id
    assert isinstance(info, LoadedModel)
    assert info.id == "colours" and info.name == "Colours" and info.num_classes == 3
    assert info.provider.active == "cpu" and info.provider.fallback_reason is None
    assert service.loaded_model() is info
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        classify_id = service.classify_path(red_png)
    assert ready.args[0] == classify_id > load_id
    result: Classification = ready.args[1]
    assert result.ok and result.path == red_png and result.model == "colours"
    assert [p.label for p in result.top] == modelgen.colour_ranking(RED)
    assert result.provider == "cpu" and result.ms > 0


def test_images_without_a_file(qtbot, service, tmp_path):
    with qtbot.waitSignal(service.model_loaded, timeout=10_000):
        service.load_model(str(modelgen.colour_model(tmp_path)))
    image = QImage(30, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 255, 0))
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        service.classify_image(image)
    assert ready.args[1].top[0].label == "green" and ready.args[1].path is None
    image.fill(QColor(0, 0, 255))
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        service.classify_image(image)
    assert ready.args[1].top[0].label == "blue"
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        service.classify_image(QImage())
    assert not ready.args[1].ok and "empty" in ready.args[1].error


def test_a_bad_file_is_a_result_with_an_error(qtbot, service, tmp_path):
    with qtbot.waitSignal(service.model_loaded, timeout=10_000):
        service.load_model(str(modelgen.colour_model(tmp_path)))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        service.classify_path(notes)
    assert not ready.args[1].ok and "notes.txt" in ready.args[1].error


def test_an_image_sent_before_the_model_waits_for_it(qtbot, service, tmp_path, red_png):
    classify_id = service.classify_path(red_png)
    assert service.has_pending_classification()
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as ready:
        service.load_model(str(modelgen.colour_model(tmp_path)))
    assert ready.args[0] == classify_id
    assert not service.has_pending_classification()


def test_newest_request_wins_and_stale_results_are_dropped(qtbot, service, tmp_path):
    model = modelgen.slow_model(tmp_path / "slow")
    with qtbot.waitSignal(service.model_loaded, timeout=20_000):
        service.load_model(str(model))
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (64, 64), (20 * i, 0, 0)).save(paths[-1])
    answers: list[int] = []
    service.result_ready.connect(lambda request_id, _result: answers.append(request_id))
    ids = [service.classify_path(p) for p in paths]
    qtbot.waitUntil(lambda: ids[-1] in answers, timeout=20_000)
    classified = service.engine.classified
    with qtbot.waitSignal(service.result_ready, timeout=20_000):  # a sentinel: requests run in
        sentinel = service.classify_path(paths[0])  # order, so nothing else can come after it
    assert answers == [ids[-1], sentinel]
    assert classified <= 2  # the first one may already have started


def test_a_newer_model_request_supersedes_an_older_one(qtbot, service, tmp_path):
    first = modelgen.colour_model(tmp_path / "a", name="first")
    second = modelgen.colour_model(tmp_path / "b", name="second")
    loaded: list[str] = []
    service.model_loaded.connect(lambda _id, info: loaded.append(info.id))
    service.load_model(str(first))
    with qtbot.waitSignal(service.model_loaded, timeout=10_000):
        service.load_model(str(second))
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(red)
    with qtbot.waitSignal(service.result_ready, timeout=10_000) as sentinel:
        service.classify_path(red)  # runs after anything still on its way
    assert loaded == ["second"]
    assert sentinel.args[1].model == "second"


def test_a_load_failure_is_a_message(qtbot, service, tmp_path):
    with qtbot.waitSignal(service.load_failed, timeout=10_000) as failed:
        service.load_model(str(tmp_path / "absent.onnx"))
    assert "absent.onnx" in failed.args[1] and "not found" in failed.args[1]
    with qtbot.waitSignal(service.load_failed, timeout=10_000) as failed:
        service.load_model("resnet9000")
    assert "unknown model" in failed.args[1]


def test_forget_image_drops_the_answer_still_coming(qtbot, service, tmp_path, red_png):
    with qtbot.waitSignal(service.model_loaded, timeout=10_000):
        service.load_model(str(modelgen.colour_model(tmp_path)))
    answers: list[int] = []
    service.result_ready.connect(lambda request_id, _result: answers.append(request_id))
    service.classify_path(red_png)
    service.forget_image()
    assert not service.has_pending_classification()
    with qtbot.waitSignal(service.result_ready, timeout=10_000):
        last = service.classify_path(red_png)
    assert answers == [last]


def test_shutdown_is_prompt_and_idempotent(qtbot, tmp_path):
    service = InferenceService()
    with qtbot.waitSignal(service.model_loaded, timeout=10_000):
        service.load_model(str(modelgen.colour_model(tmp_path)))
    assert service.shutdown(1000)
    assert service.shutdown(1000)


def test_an_image_queued_when_another_model_is_chosen_gets_the_new_models_answer(
        qtbot, service, tmp_path, red_png):
    slow = modelgen.slow_model(tmp_path / "slow")
    with qtbot.waitSignal(service.model_loaded, timeout=20_000):
        service.load_model(str(slow))
    service.classify_path(red_png)
    qtbot.waitUntil(lambda: service.engine.classified == 1, timeout=10_000)  # it is running
    queued = service.classify_path(red_png)
    second = modelgen.colour_model(tmp_path / "new", name="second")
    with qtbot.waitSignal(service.result_ready, timeout=20_000) as ready:
        service.load_model(str(second))
    assert ready.args[0] == queued
    assert ready.args[1].model == "second"

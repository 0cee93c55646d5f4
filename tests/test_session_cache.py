"""The session cache under concurrent callers: each session is opened once."""

from __future__ import annotations

import logging
import threading

import pytest
from modelgen import colour_model

from resnet_desktop.core.foundation.errors import ModelError
from resnet_desktop.core.inference import classifier, session_cache
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.inference.providers import ProviderStatus
from resnet_desktop.core.inference.session_cache import ClassifierCache
from resnet_desktop.core.models.manifest import load_manifest_for


class _Signal(logging.Handler):
    """Sets ``event`` when the cache says a caller is waiting for another's session."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__(logging.INFO)
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for the session" in record.getMessage():
            self.event.set()


@pytest.fixture
def opened(monkeypatch):
    """Real sessions, counted; the first one to open is held until ``release`` is set."""
    calls: list[Classifier] = []
    entered, release, second = threading.Event(), threading.Event(), threading.Event()

    class Counting(Classifier):
        def __init__(self, *args, **kwargs) -> None:
            calls.append(self)
            if len(calls) == 1:
                entered.set()
                release.wait(60)
            else:
                second.set()
            super().__init__(*args, **kwargs)

    # The cache imports the class when it opens a session (not at import: see its module).
    monkeypatch.setattr(classifier, "Classifier", Counting)
    return calls, entered, release, second


def test_two_threads_asking_for_one_model_open_one_session(tmp_path, opened, caplog):
    calls, entered, release, second = opened
    caplog.set_level(logging.INFO, logger=session_cache.__name__)
    path = colour_model(tmp_path / "m")
    manifest = load_manifest_for(path)
    cache = ClassifierCache(2)
    waiting = _Signal(second)  # the fixed cache logs that it waits; the old one opened again
    logging.getLogger(session_cache.__name__).addHandler(waiting)
    results: dict[str, Classifier] = {}

    def ask(name: str) -> None:
        results[name] = cache.get(path, manifest, "cpu")

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert entered.wait(60)
    other = threading.Thread(target=ask, args=("second",))
    other.start()
    try:
        assert second.wait(60), "neither a second session nor a waiting caller"
    finally:
        release.set()
        first.join()
        other.join()
        logging.getLogger(session_cache.__name__).removeHandler(waiting)
    assert len(calls) == 1
    assert results["first"] is results["second"]


def test_a_session_that_failed_to_open_is_not_remembered(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    manifest = load_manifest_for(colour_model(tmp_path / "m"))
    cache = ClassifierCache(2)
    for _ in range(2):
        with pytest.raises(ModelError):
            cache.get(path, manifest, "cpu")


def test_a_session_on_a_gpu_serves_batches_and_single_images_alike(tmp_path):
    path = colour_model(tmp_path / "m")
    manifest = load_manifest_for(path)
    cache = ClassifierCache(2)
    interactive = cache.get(path, manifest, "auto")
    interactive.provider = ProviderStatus("auto", "cuda")  # as a session that started on CUDA
    assert cache.get(path, manifest, "auto", throughput=True) is interactive

    cache = ClassifierCache(2)
    batches = cache.get(path, manifest, "auto", throughput=True)
    batches.provider = ProviderStatus("auto", "directml")
    assert cache.get(path, manifest, "auto") is batches


def test_a_cpu_session_keeps_one_per_layout(tmp_path):
    path = colour_model(tmp_path / "m")
    manifest = load_manifest_for(path)
    cache = ClassifierCache(2)
    interactive = cache.get(path, manifest, "cpu")
    batches = cache.get(path, manifest, "cpu", throughput=True)
    assert batches is not interactive
    assert cache.get(path, manifest, "cpu") is interactive

"""How many threads decode beside a model that runs on the consuming thread: measured."""

from __future__ import annotations

import os
import threading

import numpy as np
from modelgen import colour_model
from sample_images import numbered_folder

from resnet_desktop.core.batch.decode_pool import DecodeGate, decoders_for, initial_decoders
from resnet_desktop.core.batch.pipeline import ClassifyPipeline
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for


def test_a_gpu_starts_with_every_core_decoding_and_a_cpu_session_with_a_few():
    assert initial_decoders(on_cpu=False, cores=16) == 16
    assert initial_decoders(on_cpu=True, cores=16) == 4
    assert initial_decoders(on_cpu=True, cores=2) == 2


def test_decoders_grow_to_what_keeps_the_model_busy_and_never_shrink():
    # A model 10x cheaper than decoding wants 10 decoders; a 16-core machine has them.
    assert decoders_for(0.030, 0.003, cores=16, current=4) == 10
    assert decoders_for(0.030, 0.001, cores=16, current=4) == 16
    # A model as costly as decoding (ResNet-50 on the CPU) keeps the few it started with.
    assert decoders_for(0.030, 0.040, cores=16, current=4) == 4
    assert decoders_for(0.030, 0.0, cores=8, current=4) == 8


def test_the_gate_admits_more_decoders_once_measured():
    gate = DecodeGate(1, cores=2)
    with gate.decoding():  # one image decoded: what the measurement compares with
        pass
    first_inside, second_inside, release = (threading.Event() for _ in range(3))

    def decode(inside: threading.Event) -> None:
        with gate.decoding():
            inside.set()
            release.wait(10)

    threads = [threading.Thread(target=decode, args=(event,))
               for event in (first_inside, second_inside)]
    threads[0].start()
    assert first_inside.wait(10)
    threads[1].start()
    assert not second_inside.is_set()  # the limit is 1 while the first holds it
    gate.observe(images=8, infer_seconds=0.0)  # a free model: every core decodes
    assert second_inside.wait(10)
    assert gate.limit == 2
    release.set()
    for thread in threads:
        thread.join()


class _ThreadClock:
    """A clock each thread reads on its own, advancing a fixed step at every reading: what a
    thread measures between two readings is exactly its step, however loaded the machine is.

    Decoding runs on the pipeline's workers and inference on the consumer, so decoding
    measures ``decode_step`` per image and a chunk's inference ``infer_step``.
    """

    def __init__(self, decode_step: float, infer_step: float) -> None:
        self._steps = (decode_step, infer_step)
        self._consumer = threading.get_ident()
        self._local = threading.local()

    def __call__(self) -> float:
        step = self._steps[threading.get_ident() == self._consumer]
        self._local.now = getattr(self._local, "now", 0.0) + step
        return self._local.now


def test_a_cheap_model_on_a_cpu_session_gets_every_core_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu")  # one image at a time
    folder = numbered_folder(tmp_path, 20)
    # 30 ms to decode an image, 8 ms for a chunk of 8: the model is 30 times cheaper.
    pipeline = ClassifyPipeline(classifier, batch_size=8, clock=_ThreadClock(0.030, 0.008))
    assert (pipeline.workers, pipeline.gate.limit) == (12, 4)

    outcomes = [outcome for chunk in pipeline.chunks(iter(sorted(folder.iterdir())),
                                                     lambda path: path)
                for _, outcome in chunk]

    assert len(outcomes) == 20 and all(o is not None and not isinstance(o, str)
                                       for o in outcomes)
    assert pipeline.gate.limit == 12


def test_a_model_as_costly_as_decoding_keeps_the_few_decoders(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu")
    folder = numbered_folder(tmp_path, 20)
    # 30 ms to decode an image, 320 ms for a chunk of 8: inference is the bound.
    pipeline = ClassifyPipeline(classifier, batch_size=8, clock=_ThreadClock(0.030, 0.320))

    for _ in pipeline.chunks(iter(sorted(folder.iterdir())), lambda path: path):
        pass

    assert pipeline.gate.limit == 4


def test_the_batched_path_reuses_one_input_tensor_from_chunk_to_chunk(tmp_path):
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu")  # one image at a time
    folder = numbered_folder(tmp_path, 20)
    pipeline = ClassifyPipeline(classifier, batch_size=8)
    inputs: list[np.ndarray] = []
    real_run = classifier.run

    def recording_run(batch):
        inputs.append(batch)
        return real_run(batch)

    classifier.run = recording_run
    outcomes = [outcome for chunk in pipeline.chunks(iter(sorted(folder.iterdir())),
                                                     lambda path: path)
                for _, outcome in chunk]

    assert len(outcomes) == 20 and not any(isinstance(o, str) for o in outcomes)
    assert [len(batch) for batch in inputs] == [8, 8, 4]
    assert all(np.shares_memory(batch, inputs[0]) for batch in inputs)

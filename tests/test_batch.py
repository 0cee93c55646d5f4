"""The folder batch pipeline on real ONNX Runtime sessions: order, errors, batching, resume."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import modelgen
import numpy as np
import pytest
from modelgen import colour_model
from sample_images import bad_folder, noisy_jpeg, numbered_folder, solid

from resnet_desktop.core.batch.results_store import ResultsStore, open_results_store
from resnet_desktop.core.batch.run import (
    BatchOptions,
    BatchRun,
    count_images,
    discover_images,
    model_fingerprint,
    normalise_extensions,
)
from resnet_desktop.core.foundation.cancel import CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import Cancelled, ResNetDesktopError
from resnet_desktop.core.imaging.decode import load_image
from resnet_desktop.core.imaging.preprocess import preprocess
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for


def load(path: Path, throughput: bool = False) -> Classifier:
    return Classifier(path, load_manifest_for(path), "cpu", path.stem, throughput=throughput)


@pytest.fixture(params=[False, True], ids=["batched", "lanes"])
def colours(tmp_path, request) -> Classifier:
    """Both pipelines: batches on the calling thread, and workers that classify (a CPU
    throughput session); two lanes even on a one-core machine."""
    classifier = load(colour_model(tmp_path / "model"), throughput=request.param)
    if request.param:
        classifier.lanes = 2
    return classifier


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "store.sqlite3") as opened:
        yield opened


def run_all(classifier, folder, store=None, key="k", **options):
    run = BatchRun(classifier, folder, BatchOptions(**options), store=store, model_key=key)
    return list(run), run.progress


def test_bad_inputs_become_error_records_and_the_rest_is_classified(tmp_path, colours):
    folder, expected = bad_folder(tmp_path)
    records, progress = run_all(colours, folder, recursive=True, top_k=2)
    assert [r.path for r in records] == list(discover_order(expected))
    by_path = {r.path: r for r in records}
    assert set(by_path) == set(expected)
    for rel, label in expected.items():
        record = by_path[rel]
        assert record.file == folder / rel
        assert record.model == "colours"
        if label is None:
            assert record.error and not record.top, rel
            assert Path(rel).name in record.error
        else:
            assert record.error is None, record.error
            assert record.label == label, rel
            assert len(record.top) == 2
            assert record.probability == record.top[0].probability > 0.9
    assert "too many" not in by_path["bomb.png"].error
    assert "limit" in by_path["bomb.png"].error
    assert "truncated" in by_path["truncated.jpg"].error
    assert "text file" in by_path["notes.jpg"].error
    assert "empty" in by_path["empty.jpg"].error
    assert progress.total == progress.done == len(expected)
    assert progress.failed == 4
    assert progress.classified == len(expected) - 4
    assert progress.cached == 0


def discover_order(expected: dict) -> list[str]:
    """The documented order: each folder's files by name, then its subfolders by name."""
    def key(rel: str):
        parts = rel.split("/")
        return [(1, p) for p in parts[:-1]] + [(0, parts[-1])]
    return sorted(expected, key=key)


def test_discovery_order_filters_and_hidden_entries(tmp_path):
    folder = tmp_path / "d"
    for rel in ("b.jpg", "a.JPG", "c.png", "z/x.jpg", "y/w.jpg", "y/v/u.jpeg", ".h.jpg",
                ".git/g.jpg"):
        solid(folder / rel, "red", format="PNG" if rel.endswith("png") else "JPEG")
    (folder / "n.txt").write_text("text")
    rel = [p.relative_to(folder).as_posix() for p in discover_images(folder, recursive=True)]
    assert rel == ["a.JPG", "b.jpg", "c.png", "y/w.jpg", "y/v/u.jpeg", "z/x.jpg"]
    top = [p.name for p in discover_images(folder)]
    assert top == ["a.JPG", "b.jpg", "c.png"]
    only_png = [p.name for p in discover_images(folder, recursive=True, extensions=["PNG"])]
    assert only_png == ["c.png"]
    assert count_images(folder, recursive=True, extensions=("jpg", ".jpeg")) == 5
    assert normalise_extensions(["JPG", ".png", " tif ", "", "jpg"]) == (".jpg", ".png", ".tif")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads folders whatever their permissions")
def test_an_unreadable_subfolder_is_an_error_record(tmp_path, colours):
    folder = tmp_path / "d"
    solid(folder / "a.jpg", "red")
    solid(folder / "locked" / "b.jpg", "red")
    (folder / "locked").chmod(0)
    try:
        records, _ = run_all(colours, folder, recursive=True)
    finally:
        (folder / "locked").chmod(0o755)
    assert [r.path for r in records] == ["a.jpg", "locked"]
    assert "cannot be read" in records[1].error


def test_a_missing_folder_stops_the_batch_with_a_clear_error(tmp_path, colours):
    with pytest.raises(ResNetDesktopError, match="not a folder"):
        run_all(colours, tmp_path / "nope")


@pytest.mark.parametrize(("throughput", "images", "options"), [
    (False, 8, {"batch_size": 3, "workers": 2}),  # batches of 3 on the consuming thread
    (True, 24, {}),  # four lanes running at once on one session
], ids=["batched", "lanes"])
def test_every_image_gets_its_own_answer(tmp_path, throughput, images, options):
    """A random ResNet (non-trivial outputs): batching or concurrent runs must not mix the
    images' outputs up; each matches the image classified alone."""
    model = tmp_path / "net.onnx"
    modelgen.resnet(model, depth=18, width=4, num_classes=7, input_size=64,
                    blocks=(1, 1, 1, 1))
    modelgen.write_labels(tmp_path / "net.txt", [f"class{i}" for i in range(7)])
    (tmp_path / "net.json").write_text('{"labels": "net.txt", "input_size": 64, "resize": 73}')
    classifier = load(model, throughput=throughput)
    if throughput:
        classifier.lanes = 4
    folder = tmp_path / "imgs"
    for i in range(images):
        noisy_jpeg(folder / f"{i:02d}.jpg", ("red", "green", "blue")[i % 3],
                   size=(90 + i, 70), seed=i)
    records, progress = run_all(classifier, folder, top_k=7, **options)
    assert progress.classified == images
    reference = load(model)
    for record in records:
        tensor = preprocess(load_image(record.file, draft=(73, 73)),
                            reference.preprocessing)[np.newaxis]
        single = reference.run(tensor)[0]
        got = {p.index: p.probability for p in record.top}
        assert got == pytest.approx({i: float(v) for i, v in enumerate(single)}, abs=1e-5)


def test_a_fixed_batch_model_works(tmp_path):
    classifier = load(colour_model(tmp_path / "m", batch=1))
    folder = numbered_folder(tmp_path, 5)
    records, _ = run_all(classifier, folder, batch_size=4)
    assert [r.label for r in records] == ["red", "green", "blue", "red", "green"]


def test_cancel_midway_then_resume_classifies_only_the_rest(tmp_path, colours, store):
    folder = numbered_folder(tmp_path, 30)
    cancel = CancelToken()
    run = BatchRun(colours, folder, BatchOptions(batch_size=4), store=store, model_key="k",
                   cancel=cancel)
    seen = []
    with pytest.raises(Cancelled):
        for record in run:
            seen.append(record)
            if len(seen) == 10:
                cancel.cancel()
    assert len(seen) == 10
    stored = store.count("k")
    assert 10 <= stored < 30
    records, progress = run_all(colours, folder, store=store, key="k", batch_size=4)
    assert progress.cached == stored
    assert progress.classified == 30 - stored
    assert [r.path for r in records] == [f"img_{i:03d}.jpg" for i in range(30)]
    assert all(r.cached for r in records[:10])
    assert [r.label for r in records] == [("red", "green", "blue")[i % 3] for i in range(30)]
    assert store.count("k") == 30
    _, again = run_all(colours, folder, store=store, key="k")
    assert (again.cached, again.classified) == (30, 0)


def test_changed_files_other_models_and_no_skip_classify_again(tmp_path, colours, store):
    folder = numbered_folder(tmp_path, 4)
    run_all(colours, folder, store=store, key="k")
    target = folder / "img_001.jpg"
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    _, progress = run_all(colours, folder, store=store, key="k")
    assert (progress.cached, progress.classified) == (3, 1)
    _, progress = run_all(colours, folder, store=store, key="other model")
    assert (progress.cached, progress.classified) == (0, 4)
    _, progress = run_all(colours, folder, store=store, key="k", skip_done=False)
    assert (progress.cached, progress.classified) == (0, 4)
    run_all(colours, folder, store=store, key="k", top_k=1, skip_done=False)
    _, progress = run_all(colours, folder, store=store, key="k", top_k=2)
    assert progress.classified == 4, "a stored top-1 cannot answer a top-2 request"
    _, progress = run_all(colours, folder, store=store, key="k", top_k=1)
    assert progress.cached == 4, "a stored top-2 answers a top-1 request"


def test_model_fingerprint_changes_with_preprocessing(tmp_path):
    path = colour_model(tmp_path / "m")
    manifest = load_manifest_for(path)
    from dataclasses import replace

    other = replace(manifest, preprocessing=replace(manifest.preprocessing, mean=(0, 0, 0)))
    assert model_fingerprint("abc", manifest) == model_fingerprint("abc", manifest)
    assert model_fingerprint("abc", manifest) != model_fingerprint("abc", other)
    assert model_fingerprint("abc", manifest) != model_fingerprint("abd", manifest)


def test_pause_holds_the_batch_until_resumed(tmp_path, colours):
    folder = numbered_folder(tmp_path, 6)
    pause = PauseToken()
    pause.pause()
    run = BatchRun(colours, folder, BatchOptions(batch_size=2), pause=pause)
    records = []
    worker = threading.Thread(target=lambda: records.extend(run))
    worker.start()
    deadline = time.monotonic() + 30
    while not pause.holding and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pause.holding
    assert records == [] and run.progress.done == 0
    pause.resume()
    worker.join(30)
    assert len(records) == 6
    assert not pause.holding


def test_paused_workers_start_no_new_image(tmp_path, colours):
    """Pausing stops the CPU work too, not only the delivery of records: once the consumer
    holds, only runs already under way may still happen (at most one per worker)."""
    folder = numbered_folder(tmp_path, 40)
    pause = PauseToken()
    runs = 0
    real_run = colours.run

    def slow_counted(batch):
        nonlocal runs
        runs += 1
        time.sleep(0.03)
        return real_run(batch)

    colours.run = slow_counted
    run = BatchRun(colours, folder, BatchOptions(batch_size=2), pause=pause)
    records = []

    def consume():
        for record in run:
            records.append(record)
            if len(records) == 4:
                pause.pause()

    worker = threading.Thread(target=consume)
    worker.start()
    deadline = time.monotonic() + 30
    while not pause.holding and time.monotonic() < deadline:
        time.sleep(0.005)
    assert pause.holding
    at_hold = runs
    time.sleep(0.6)
    assert runs - at_hold <= (run.pipeline.workers if run.pipeline.classify_in_workers else 0)
    assert runs < 40 and len(records) == 4
    pause.resume()
    worker.join(30)
    assert [r.path for r in records] == [f"img_{i:03d}.jpg" for i in range(40)]


def test_cancel_while_paused_ends_the_batch(tmp_path, colours):
    folder = numbered_folder(tmp_path, 3)
    pause, cancel = PauseToken(), CancelToken()
    pause.pause()
    run = BatchRun(colours, folder, pause=pause, cancel=cancel)
    errors = []

    def consume():
        try:
            list(run)
        except Cancelled as exc:
            errors.append(exc)

    worker = threading.Thread(target=consume)
    worker.start()
    cancel.cancel()
    worker.join(10)
    assert not worker.is_alive() and len(errors) == 1


def test_progress_rate_and_time_left(tmp_path, colours):
    folder = numbered_folder(tmp_path, 6)
    seen = []
    run = BatchRun(colours, folder, BatchOptions(batch_size=2),
                   on_progress=lambda p: seen.append((p.done, p.total, p.remaining_seconds)))
    list(run)
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5, 6]
    assert all(total == 6 for _, total, _ in seen)
    assert run.progress.rate > 0
    assert seen[-1][2] == 0


def test_a_damaged_results_store_is_skipped_not_fatal(tmp_path, colours):
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    assert open_results_store(path) is None
    folder = numbered_folder(tmp_path, 2)
    records, _ = run_all(colours, folder, store=None)
    assert len(records) == 2


def test_the_store_keeps_results_across_connections(tmp_path):
    from resnet_desktop.core.inference.classifier import Prediction

    path = tmp_path / "s.sqlite3"
    top = (Prediction(3, "café ✓", 0.75, "n0001"), Prediction(1, "b", 0.25))
    with ResultsStore(path) as first:
        first.put_many([(tmp_path / "x.jpg", 10, 20, top, (("cat", 0.75),))], "m", 2)
    with ResultsStore(path) as second:
        assert second.get(tmp_path / "x.jpg", 10, 20, "m", 2) == (top, (("cat", 0.75),))
        assert second.get(tmp_path / "x.jpg", 10, 20, "m", 1).top == top[:1]
        assert second.get(tmp_path / "x.jpg", 11, 20, "m", 1) is None
        assert second.get(tmp_path / "x.jpg", 10, 21, "m", 1) is None
        assert second.get(tmp_path / "x.jpg", 10, 20, "m", 3) is None
        second.forget("m")
        assert second.count() == 0
    with contextlib.closing(sqlite3.connect(path)) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_throughput_session_gives_each_lane_its_own_thread(tmp_path):
    from resnet_desktop.core.inference.classifier import throughput_layout
    from resnet_desktop.core.inference.session_cache import ClassifierCache

    path = colour_model(tmp_path / "m")
    manifest = load_manifest_for(path)
    cache = ClassifierCache(2)
    batch = cache.get(path, manifest, "cpu", throughput=True)
    usual = cache.get(path, manifest, "cpu")
    assert batch is not usual
    assert cache.get(path, manifest, "cpu", throughput=True) is batch
    lanes, threads = throughput_layout()
    assert (batch.lanes, usual.lanes) == (lanes, 1)
    options = batch.session.get_session_options()
    assert options.intra_op_num_threads == threads
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert usual.session.get_session_options().intra_op_num_threads == 0
    folder = numbered_folder(tmp_path, 3)
    run = BatchRun(batch, folder)
    assert run.pipeline.classify_in_workers and run.pipeline.workers == lanes
    assert [r.label for r in run] == ["red", "green", "blue"]


@pytest.mark.parametrize(("cores", "layout"), [(1, (1, 1)), (2, (2, 1)), (8, (8, 1)),
                                               (12, (8, 1)), (16, (8, 2)), (64, (8, 8))])
def test_throughput_layout_spreads_the_cores(cores, layout):
    from resnet_desktop.core.inference.classifier import throughput_layout

    assert throughput_layout(cores) == layout


def test_a_model_that_fails_on_a_worker_ends_the_batch_with_a_model_error(tmp_path, colours):
    from resnet_desktop.core.foundation.errors import ModelError

    folder = numbered_folder(tmp_path, 12)
    calls = 0
    real_run = colours.run

    def fails_on_the_fifth(batch):
        nonlocal calls
        calls += 1
        if calls >= 5:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : out of memory")
        return real_run(batch)

    colours.run = fails_on_the_fifth
    run = BatchRun(colours, folder, BatchOptions(batch_size=1))
    seen = []
    with pytest.raises(ModelError, match=r"colours: inference failed .*out of memory"):
        seen.extend(run)
    assert 0 < len(seen) < 12
    assert all(r.error is None for r in seen)

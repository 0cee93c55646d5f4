"""Comparing models: one at a time, per-model errors, the CLI's JSON and table."""

from __future__ import annotations

import gc
import hashlib
import json
import weakref

import modelgen
import pytest
from cli_runner import run_cli
from PIL import Image

from resnet_desktop.core.engine import Cancelled, CancelToken, Engine
from resnet_desktop.core.operations.compare import (
    CompareModel,
    CompareSink,
    agreement,
    compare_models,
)
from resnet_desktop.resources import resource_path


def _resnet(tmp_path, name: str, version: int, seed: int):
    path = tmp_path / f"{name}.onnx"
    modelgen.resnet(path, version=version, blocks=(1, 1, 1, 1), num_classes=3, seed=seed)
    modelgen.write_labels(tmp_path / f"{name}.txt", ["a", "b", "c"])
    (tmp_path / f"{name}.json").write_text(json.dumps({"labels": f"{name}.txt"}))
    return path


@pytest.fixture
def grey(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("RGB", (320, 240), (120, 130, 140)).save(path)
    return path


@pytest.fixture
def zoo_catalog(tmp_path, monkeypatch, http_server):
    """A catalog of one zoo-shaped generated ResNet (1000 classes) with published figures,
    served from the loopback mirror."""
    model = modelgen.resnet(version=2, blocks=(1, 1, 1, 1), num_classes=1000).SerializeToString()
    zoo = json.loads(resource_path("models.json").read_text())["models"][0]
    entry = dict(zoo, id="tiny-zoo", bytes=len(model), top1=71.25, top5=90.5,
                 sha256=hashlib.sha256(model).hexdigest(), urls=[http_server.url("/no.onnx")])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"models": [entry]}))
    http_server.add("/mirror/tiny-zoo.onnx", model)
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("RESNET_DESKTOP_MIRROR", http_server.url("/mirror"))
    return entry


def test_models_run_one_at_a_time_and_a_failing_one_does_not_stop_the_others(tmp_path, grey):
    engine = Engine()
    paths = [_resnet(tmp_path, "v1", 1, 1), _resnet(tmp_path, "v2", 2, 2)]
    alive: list[weakref.ref] = []
    loaded_while: list[int] = []

    def tracked(path):
        model = engine.compare_model(path, "cpu")

        def load(progress, cancel):
            gc.collect()
            loaded_while.append(sum(ref() is not None for ref in alive))
            classifier = model.load(progress, cancel)
            alive.append(weakref.ref(classifier))
            return classifier

        return CompareModel(model.id, load, model.top1, model.top5, model.size)

    models = [tracked(paths[0]), engine.compare_model(tmp_path / "missing.onnx"),
              tracked(paths[1])]
    heard = []

    class Sink(CompareSink):
        def model_started(self, model, index, count):
            heard.append(("start", model.id, index, count))

        def result_ready(self, result):
            heard.append(("result", result.model, result.path.name, result.ok))

    other = tmp_path / "other.png"
    Image.new("RGB", (100, 200), (10, 200, 30)).save(other)
    results = engine.compare(models, [grey, other], sink=Sink())
    assert loaded_while == [0, 0]  # the first model's session was gone before the second
    missing = str(tmp_path / "missing.onnx")  # not resolved: named as given
    assert [(r.model, r.path.name, r.ok) for r in results] == [
        ("v1", "grey.png", True), ("v1", "other.png", True),
        (missing, "grey.png", False), (missing, "other.png", False),
        ("v2", "grey.png", True), ("v2", "other.png", True)]
    assert "model file not found" in results[2].error
    assert heard[0] == ("start", "v1", 0, 3) and heard[3] == ("start", missing, 1, 3)
    assert [h for h in heard if h[0] == "result"] == [("result", r.model, r.path.name, r.ok)
                                                       for r in results]
    assert all(r.provider == "cpu" and r.ms > 0 and len(r.top) == 3 for r in results if r.ok)
    assert models[0].size == paths[0].stat().st_size and models[0].top1 is None


def test_offline_catalog_model_not_downloaded_is_a_per_model_error(monkeypatch, tmp_path, grey,
                                                                   zoo_catalog):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    engine = Engine()
    models = [engine.compare_model("tiny-zoo"), engine.compare_model(_resnet(tmp_path, "v1", 1, 1))]
    zoo, local = engine.compare(models, [grey])
    assert not zoo.ok and "offline" in zoo.error and zoo.model == "tiny-zoo"
    assert local.ok and local.model == "v1"
    assert (models[0].top1, models[0].top5, models[0].size) == (71.25, 90.5, zoo_catalog["bytes"])


def test_cancel_stops_between_images(tmp_path, grey):
    engine = Engine()
    cancel = CancelToken()

    class Sink(CompareSink):
        def result_ready(self, result):
            cancel.cancel()

    models = [engine.compare_model(_resnet(tmp_path, "v1", 1, 1))]
    with pytest.raises(Cancelled):
        compare_models(models, [grey, grey], engine.classify_file, sink=Sink(), cancel=cancel)


def test_agreement_needs_two_models_saying_the_same(tmp_path, grey):
    engine = Engine()
    one = _resnet(tmp_path, "one", 1, 7)
    results = engine.compare([engine.compare_model(one), engine.compare_model(one),
                              engine.compare_model(_resnet(tmp_path, "two", 2, 8))], [grey])
    assert agreement(results) == results[0].top[0].label
    assert agreement(results[:1]) is None
    assert agreement([]) is None


def test_cli_json_downloads_and_marks_errors(capsys, tmp_path, grey, zoo_catalog, shared_model,
                                             photos):
    local = _resnet(tmp_path, "v1", 1, 1)
    code, out, err = run_cli(capsys, "compare", photos["chelsea"], grey, "--models",
                             f"tiny-zoo,{shared_model},{local},nope", "--json", "-k", "3")
    assert code == 1
    records = json.loads(out)
    assert [(r["path"], r["model"]) for r in records] == [
        (str(p), m) for p in (photos["chelsea"], grey)
        for m in ("tiny-zoo", "efficientnet-lite0", "v1", "nope")]
    for record in records:
        if record["model"] == "nope":
            assert set(record) == {"path", "model", "error"}
        else:
            assert set(record) == {"path", "model", "provider", "ms", "top", "category"}
            assert len(record["top"]) == 3 and record["provider"] == "cpu"
    assert "cat" in records[1]["top"][0]["label"]
    assert records[1]["category"]["label"] == "cat"  # curated, from WordNet
    assert records[2]["category"] is None  # a random ResNet is confident about nothing
    assert err.count("unknown model 'nope'") == 1


def test_cli_table_shows_agreement_published_figures_and_size(capsys, tmp_path, grey,
                                                              zoo_catalog):
    local = _resnet(tmp_path, "v1", 1, 1)
    code, out, err = run_cli(capsys, "compare", grey, "--models",
                             f"tiny-zoo,{local},{local}")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == str(grey)
    zoo = next(line for line in lines if line.strip().startswith("tiny-zoo"))
    assert "71.25 / 90.50" in zoo and "cpu" in zoo
    rows = [line for line in lines if line.strip().startswith("v1")]
    assert len(rows) == 2 and all(" * " in row for row in rows)
    assert "* 2 of 3 models agree" in out or "* 3 of 3 models agree" in out


def test_published_figures_show_what_the_publisher_gives():
    def loader(_progress, _cancel):
        raise AssertionError("not loaded")

    assert CompareModel("zoo", loader, 75.81, 92.82).published == "75.81 / 92.82"
    assert CompareModel("lite", loader, 75.1, None).published == "75.10 / -"
    assert CompareModel("mine", loader).published == "-"

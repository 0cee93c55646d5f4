"""A category's probability is the sum over the whole probability vector, not over the top-k.

The model here answers the same vector for every image: "dog" holds 64 % of it, but spread
over 20 breeds of 3 % each, so its top 5 hold only 15 % of dog. Every output must still say
"dog": the roll-up is done where the whole vector exists and travels with the result.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_runner import run_cli
from onnx import TensorProto, helper
from PIL import Image

from resnet_desktop.core.batch.results_store import ResultsStore, default_store_path
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.rollup import category_masses
from resnet_desktop.core.keywords.taxonomy import default_taxonomy
from resnet_desktop.core.models.labels import imagenet_labels
from resnet_desktop.core.sidecars.embedded import read_embedded
from resnet_desktop.core.sidecars.xmp import read_keywords

BREEDS = 20
EACH = 0.03
"""20 dog breeds at 3 %: dog has 60 % from them (64 % with its other breeds' share of the rest),
and the top 5 hold 15 % of it, under the 30 % threshold."""


def spread_vector() -> np.ndarray:
    labels = imagenet_labels()
    dog = default_taxonomy().categories["dog"].classes
    breeds = [i for i, label in enumerate(labels) if label.wnid in dog][:BREEDS]
    vector = np.full(len(labels), (1.0 - BREEDS * EACH) / (len(labels) - BREEDS))
    vector[breeds] = EACH
    return vector


def spread_model(folder: Path) -> Path:
    """An ImageNet model that ignores its input and always gives :func:`spread_vector`
    (logits whose softmax it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    logits = np.log(spread_vector()).astype(np.float32)[np.newaxis]
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "axis"], ["column"]),
        helper.make_node("MatMul", ["column", "zeros"], ["nothing"]),
        helper.make_node("Add", ["nothing", "fixed"], ["logits"]),
    ]
    initializers = [helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
                    helper.make_tensor("zeros", TensorProto.FLOAT, [1, logits.shape[1]],
                                       np.zeros(logits.shape[1], np.float32)),
                    helper.make_tensor("fixed", TensorProto.FLOAT, list(logits.shape),
                                       logits.ravel())]
    graph = helper.make_graph(
        nodes, "spread", [helper.make_tensor_value_info("data", TensorProto.FLOAT,
                                                        ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", logits.shape[1]])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / "spread.onnx"
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({"name": "Spread", "labels": "imagenet"}),
                                         encoding="utf-8")
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return spread_model(tmp_path / "model")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (40, 30), (120, 90, 60)).save(folder / "dog.jpg", quality=90)
    Image.new("RGB", (40, 30), (60, 90, 120)).save(folder / "dog.png")
    return folder


def test_the_whole_vector_gives_the_category_its_top_5_misses():
    vector = spread_vector()
    wnids = [label.wnid for label in imagenet_labels()]
    masses = dict(category_masses(vector, wnids))
    dog = default_taxonomy().categories["dog"]
    assert masses["dog"] == pytest.approx(sum(vector[i] for i, w in enumerate(wnids)
                                              if w in dog.classes))
    assert masses["dog"] > 0.6
    order = np.argsort(-vector, kind="stable")[:5]
    top = tuple(Prediction(int(i), imagenet_labels()[i].name, float(vector[i]), wnids[i])
                for i in order)
    policy = KeywordPolicy(0.2)
    assert policy.category(top) is None  # summed over the top 5 alone: 15 %
    match = policy.category(top, tuple(masses.items()))
    assert match is not None and match.label == "dog"
    assert match.path == ("animal", "mammal", "dog") and match.leaves == top


def test_rivals_count_over_the_whole_vector_and_ties_prefer_the_smaller_category():
    labels = imagenet_labels()
    wnids = [label.wnid for label in labels]
    taxonomy = default_taxonomy()
    vector = np.full(len(labels), 0.0)
    for name, share in (("dog", 0.40), ("cat", 0.38)):
        members = [i for i, w in enumerate(wnids) if w in taxonomy.categories[name].classes]
        vector[members] = share / len(members)
    vector += (1.0 - vector.sum()) / len(vector)
    masses = category_masses(vector, wnids)
    assert "dog" not in dict(masses) and "cat" not in dict(masses)  # a tie: neither is ahead
    assert KeywordPolicy(0.2).category((), masses).label == "mammal"
    balls = tuple((name, 0.5) for name in ("sports equipment", "ball"))
    assert KeywordPolicy(0.2).category((), balls).label == "ball"


def test_a_model_without_wordnet_ids_has_no_category_masses():
    assert category_masses(np.array([0.9, 0.1]), [None, None]) == ()
    assert KeywordPolicy(0.2).category((Prediction(0, "red", 0.9),), ()) is None


def test_classify_json_and_text_give_the_category_from_the_whole_vector(capsys, model,
                                                                         folder):
    code, out, err = run_cli(capsys, "classify", "--model", model, "--json",
                             folder / "dog.jpg")
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["category"]["label"] == "dog"
    assert record["category"]["probability"] == pytest.approx(0.64, abs=0.01)
    assert record["category"]["path"] == ["animal", "mammal", "dog"]
    code, out, err = run_cli(capsys, "classify", "--model", model, folder / "dog.jpg")
    assert code == 0, err
    assert out.splitlines()[1].startswith("  category: dog 6")


def test_compare_gives_the_category_from_the_whole_vector(capsys, model, folder):
    code, out, err = run_cli(capsys, "compare", "--models", model, "--json",
                             folder / "dog.jpg")
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["category"]["label"] == "dog"


def _tag(capsys, folder: Path, *args: object) -> dict:
    out_json = folder.parent / "out.json"
    code, _, err = run_cli(capsys, "tag", folder, "--json", out_json, *args)
    assert code == 0, err
    return {r["path"]: r for r in json.loads(out_json.read_text(encoding="utf-8"))["records"]}


def test_tag_and_a_resumed_tag_keep_the_category_in_every_output(capsys, tmp_path, model,
                                                                 folder):
    out_csv = tmp_path / "out.csv"
    records = _tag(capsys, folder, "--model", model, "--xmp", "--csv", out_csv)
    assert records["dog.jpg"]["category"]["label"] == "dog"
    with out_csv.open(encoding="utf-8-sig", newline="") as handle:
        assert {row["category"] for row in csv.DictReader(handle)} == {"dog"}
    sidecar = read_keywords((folder / "dog.jpg.xmp").read_bytes())
    assert sidecar.subject[0] == "dog"
    assert "ImageNet|animal|mammal|dog" in sidecar.hierarchical
    assert "ImageNet/animal/mammal/dog" in sidecar.tags_list
    # Again: both images come from the results store, which kept their category masses.
    with ResultsStore(default_store_path()) as store:
        assert store.count() == 2
    records = _tag(capsys, folder, "--model", model, "--embed")
    assert {r["category"]["label"] for r in records.values()} == {"dog"}
    assert read_embedded(folder / "dog.png").subject[0] == "dog"
    assert "ImageNet|animal|mammal|dog" in read_embedded(folder / "dog.png").hierarchical


def test_a_resumed_batch_reads_the_category_masses_from_the_store(capsys, model, folder):
    _tag(capsys, folder, "--model", model)
    with contextlib.closing(sqlite3.connect(default_store_path())) as db, db:
        db.execute("UPDATE results SET top = '[]'")  # the top-k is no source of the category
    records = _tag(capsys, folder, "--model", model)
    assert all(r["top_k"] == [] for r in records.values())  # they did come from the store
    assert {r["category"]["label"] for r in records.values()} == {"dog"}


OLD_SCHEMA = """CREATE TABLE results (path TEXT NOT NULL, model TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, k INTEGER NOT NULL, top TEXT NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (path, model))"""


def test_a_store_from_before_the_category_masses_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(OLD_SCHEMA)
        db.execute("INSERT INTO results VALUES (?, 'm', 1, 2, 1, ?, 0)",
                   (str(tmp_path / "old.jpg"), '[[0, "tabby", 0.9, "n02123045"]]'))
    top = (Prediction(0, "tabby", 0.9, "n02123045"),)
    with ResultsStore(path) as store:
        old = store.get(tmp_path / "old.jpg", 1, 2, "m", 1)
        assert old is not None and old.top == top and old.categories is None
        store.put_many([(tmp_path / "new.jpg", 1, 2, top, (("cat", 0.9),))], "m", 1)
    with ResultsStore(path) as again:
        assert again.get(tmp_path / "new.jpg", 1, 2, "m", 1) == (top, (("cat", 0.9),))
        assert again.count() == 2
    # A record without masses falls back to its top-k, which here is enough for "cat".
    assert KeywordPolicy(0.2).category(top, None).label == "cat"


@pytest.mark.gui
def test_the_classify_tab_headline_is_the_category_from_the_whole_vector(qtbot, model,
                                                                        folder):
    from resnet_desktop.gui.classify.top5_chart import Top5Chart

    engine = Engine()
    result = engine.classify_file(engine.load(model, "cpu"), folder / "dog.jpg")
    chart = Top5Chart()
    qtbot.addWidget(chart)
    chart.set_result(result)
    assert chart.headline().startswith("Dog — 6")

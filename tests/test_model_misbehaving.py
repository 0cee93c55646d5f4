"""Models that misbehave at run time, on real ONNX Runtime sessions of generated graphs.

- NaN or infinity in an output is a per-image error, never a result: not printed as ``nan%``,
  never written as bare ``NaN`` into JSON (which is then invalid), never stored for reuse.
- ONNX Runtime failing inside ``run`` ends ``classify`` with one line and a non-zero exit.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import modelgen
import numpy as np
import pytest
from onnx import TensorProto, helper
from sample_images import solid

from resnet_desktop.cli import main
from resnet_desktop.core.batch.run import BatchOptions, BatchRun
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for

INVALID = "the model produced invalid numbers (NaN or infinity)"


def _model_files(folder: Path, graph_nodes, inits, name: str) -> Path:
    """Save a graph from ``data`` [N,3,32,32] to ``logits`` [N,3] with labels and manifest."""
    graph = helper.make_graph(
        graph_nodes, name,
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", modelgen.OPSET)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    modelgen.write_labels(folder / f"{name}.txt", ["red", "green", "blue"])
    (folder / f"{name}.json").write_text(json.dumps(
        {"name": name, "labels": f"{name}.txt", "input_size": 32, "resize": 32}))
    return path


def nan_unless_red(folder: Path) -> Path:
    """The colour classifier plus log(mean red): NaN for any image whose red is below average
    (after the zoo normalisation), so red images classify and blue ones give NaN."""
    tensor = helper.make_tensor
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["mean", "weights"], ["scores"]),
        helper.make_node("MatMul", ["mean", "red_only"], ["red"]),
        helper.make_node("Log", ["red"], ["log_red"]),
        helper.make_node("Add", ["scores", "log_red"], ["logits"]),
    ]
    inits = [tensor("weights", TensorProto.FLOAT, [3, 3], list(np.eye(3).ravel() * 10)),
             tensor("red_only", TensorProto.FLOAT, [3, 1], [1.0, 0.0, 0.0])]
    return _model_files(folder, nodes, inits, "log_of_red")


def fails_unless_blank(folder: Path) -> Path:
    """Gathers a row at index round(1000 * mean pixel): fine for a blank (zero) input, an ONNX
    Runtime InvalidArgument error at run time for any real photo."""
    tensor = helper.make_tensor
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "thousand"], ["scaled"]),
        helper.make_node("Cast", ["scaled"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "index"], ["logits"], axis=0),
    ]
    inits = [tensor("thousand", TensorProto.FLOAT, [], [1000.0]),
             tensor("table", TensorProto.FLOAT, [1, 3], [1.0, 0.0, 0.0])]
    return _model_files(folder, nodes, inits, "fails_unless_blank")


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    solid(folder / "red.jpg", "red")
    solid(folder / "blue.jpg", "blue")
    return folder


def _strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"bare {constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_classify_reports_invalid_numbers_as_an_error_never_nan_percent(capsys, tmp_path,
                                                                        photos):
    model = nan_unless_red(tmp_path / "model")
    code = main(["classify", "--model", str(model), str(photos / "blue.jpg"),
                 str(photos / "red.jpg")])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"blue.jpg: {INVALID}" in err
    assert "nan%" not in out.lower() and "100.00%  red" in out

    code = main(["classify", "--json", "--model", str(model), str(photos / "blue.jpg")])
    out, err = capsys.readouterr()
    assert code == 1
    (result,) = _strict_json(out)
    assert result["error"] == f"blue.jpg: {INVALID}" and "top" not in result


def test_tag_records_invalid_numbers_as_an_error_and_never_stores_them(capsys, tmp_path,
                                                                       photos):
    model = nan_unless_red(tmp_path / "model")
    args = ["tag", str(photos), "--model", str(model), "--csv", str(tmp_path / "out.csv"),
            "--json", str(tmp_path / "out.json"), "--xmp"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"blue.jpg: {INVALID}" in err and "1 error" in err
    data = _strict_json((tmp_path / "out.json").read_text(encoding="utf-8"))
    records = {r["path"]: r for r in data["records"]}
    assert records["blue.jpg"]["error"] == f"blue.jpg: {INVALID}"
    assert "probability" not in records["blue.jpg"]
    assert records["red.jpg"]["label"] == "red"
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert rows["blue.jpg"]["probability"] == "" and rows["blue.jpg"]["error"]
    assert not (photos / "blue.jpg.xmp").exists() and (photos / "red.jpg.xmp").exists()

    assert main(args) == 0
    err = capsys.readouterr().err
    assert "1 from earlier runs" in err and "1 error" in err, "NaN was never stored"


def test_classify_ends_with_one_line_when_onnx_runtime_fails_at_run_time(capsys, tmp_path,
                                                                         photos):
    model = fails_unless_blank(tmp_path / "model")
    code = main(["classify", "--model", str(model), str(photos / "red.jpg")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("resnet-desktop: error: fails_unless_blank: inference failed (")
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_a_batch_that_fails_on_the_model_closes_its_results_store(capsys, monkeypatch, tmp_path,
                                                                 photos):
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def tracked(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        opened.append(connection)
        return connection

    monkeypatch.setattr(sqlite3, "connect", tracked)
    model = fails_unless_blank(tmp_path / "model")
    code = main(["tag", str(photos), "--model", str(model), "--xmp"])
    assert code == 2 and "inference failed" in capsys.readouterr().err
    assert opened, "the run opened its results store"
    for connection in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")


@pytest.mark.parametrize("throughput", [False, True], ids=["batched", "lanes"])
def test_the_pipeline_turns_invalid_numbers_into_an_error_on_either_path(tmp_path, photos,
                                                                         throughput):
    model = nan_unless_red(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu", throughput=throughput)
    if throughput:
        classifier.lanes = 2  # workers classify, even on a one-core machine
    run = BatchRun(classifier, photos, BatchOptions(batch_size=2))
    records = {record.path: record for record in run}
    assert records["blue.jpg"].error == f"blue.jpg: {INVALID}" and not records["blue.jpg"].top
    assert records["red.jpg"].label == "red"

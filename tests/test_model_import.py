"""Importing custom models: checks that name the field, presets, and the CLI end to end."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import modelgen
import numpy as np
import onnx
import pytest
from cli_runner import run_cli
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from resnet_desktop.core.foundation.errors import ManifestError, ModelError
from resnet_desktop.core.imaging.preprocess import preprocess
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import ModelManifest, load_manifest_for
from resnet_desktop.core.operations.import_model import (
    PRESETS,
    ImportRequest,
    ManifestExistsError,
    check_import,
    import_model,
    preset_for,
)

FLOWERS = ("rose", "fern", "iris")  # three custom classes; the colour model maps r, g, b


def _model(folder: Path, name: str = "flowers", labels=FLOWERS, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    modelgen.colour_classifier(path, classes=tuple(labels), **kwargs)
    modelgen.write_labels(folder / f"{name}.txt", list(labels))
    return path


def _refused(request: ImportRequest) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        check_import(request)
    assert str(info.value).startswith(f"{info.value.field}: ")
    return info.value


def test_import_writes_a_sidecar_the_app_can_load(tmp_path):
    path = _model(tmp_path / "m")
    result = import_model(ImportRequest(path, tmp_path / "m" / "flowers.txt", name="Flowers"))
    assert result.sidecar == tmp_path / "m" / "flowers.json"
    data = json.loads(result.sidecar.read_text())
    assert data == {"name": "Flowers", "labels": "flowers.txt", "input_size": 32, "resize": 37,
                    "mean": list(PRESETS["imagenet"].mean), "std": list(PRESETS["imagenet"].std),
                    "layout": "NCHW", "color": "RGB", "output": "logits"}
    assert result.num_classes == 3 and result.input_shape == ("N", 3, 32, 32)
    assert set(result.detected) == {"layout: NCHW", "input_size: 32", "output: logits"}
    assert load_manifest_for(path) == result.manifest
    classifier = Classifier(path, load_manifest_for(path), "cpu")
    red = preprocess(Image.new("RGB", (32, 32), (250, 5, 5)), classifier.preprocessing)
    assert classifier.top_k(classifier.run(red[None])[0], 1)[0].label == "rose"


def test_check_only_writes_nothing(tmp_path):
    path = _model(tmp_path)
    assert check_import(ImportRequest(path, tmp_path / "flowers.txt")).sidecar is None
    assert not (tmp_path / "flowers.json").exists()


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"layout": "NHWC", "softmax": True}, {"layout: NHWC", "input_size: 32",
                                           "output: probabilities"}),
    ({"batch": 2}, {"layout: NCHW", "input_size: 32", "output: logits"}),
])
def test_layout_batch_and_output_kind_are_read_from_the_model(tmp_path, kwargs, expected):
    path = _model(tmp_path, **kwargs)
    result = import_model(ImportRequest(path, tmp_path / "flowers.txt"))
    assert set(result.detected) == expected
    classifier = Classifier(path, load_manifest_for(path), "cpu")
    image = Image.new("RGB", (50, 40), (5, 5, 250))
    tensor = preprocess(image, classifier.preprocessing)[None]
    assert classifier.top_k(classifier.run(tensor)[0], 1)[0].label == "iris"


def test_any_class_count_and_dynamic_spatial_size(tmp_path):
    model = modelgen.resnet(tmp_path / "r.onnx", depth=18, width=4, num_classes=7,
                            input_size=None, blocks=(1, 1, 1, 1))
    assert model.graph.input[0].type.tensor_type.shape.dim[2].dim_param == "H"
    labels = modelgen.write_labels(tmp_path / "r.txt", [f"kind {i}" for i in range(7)])
    result = import_model(ImportRequest(tmp_path / "r.onnx", labels, preset="inception",
                                        input_size=96))
    pre = result.manifest.preprocessing
    assert (pre.input_size, pre.resize, result.num_classes) == (96, 110, 7)
    assert preset_for(pre) == "inception"


def test_caffe_preset_subtracts_each_colours_mean_in_bgr_order(tmp_path):
    path = _model(tmp_path)
    result = check_import(ImportRequest(path, tmp_path / "flowers.txt", preset="caffe"))
    pre = result.manifest.preprocessing
    assert (pre.color, pre.std) == ("BGR", (1.0, 1.0, 1.0))
    assert preset_for(pre) == "caffe"
    tensor = preprocess(Image.new("RGB", (32, 32), (200, 117, 104)), pre)
    # Caffe: channel 0 is blue minus 103.939, channel 2 is red minus 123.68.
    np.testing.assert_allclose(tensor[:, 0, 0], [104 - 103.939, 117 - 116.779, 200 - 123.68],
                               rtol=1e-5)


def test_inception_preset_scales_to_plus_minus_one(tmp_path):
    path = _model(tmp_path)
    pre = check_import(ImportRequest(path, tmp_path / "flowers.txt",
                                     preset="inception")).manifest.preprocessing
    tensor = preprocess(Image.new("RGB", (32, 32), (255, 0, 255)), pre)
    np.testing.assert_allclose(tensor[:, 0, 0], [1.0, -1.0, 1.0])


def test_custom_preset_takes_mean_std_and_colour(tmp_path):
    path = _model(tmp_path)
    request = ImportRequest(path, tmp_path / "flowers.txt", preset="custom", mean=(1, 2, 3),
                            std=(4, 5, 6), color="BGR")
    pre = check_import(request).manifest.preprocessing
    assert (pre.mean, pre.std, pre.color, preset_for(pre)) == ((1, 2, 3), (4, 5, 6), "BGR",
                                                               "custom")


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what this ONNX Runtime reads
    onnx.save(model, str(path))


def _two_inputs(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "two",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    _save(graph, path)
    return path


def _input_of(path: Path, elem_type: int, shape: list) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], "g",
        [helper.make_tensor_value_info("x", elem_type, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    _save(graph, path)
    return path


def _fixed_features(path: Path) -> Path:
    """Symbolic height and width, but a Flatten + MatMul that only fits 8x8 images."""
    w = numpy_helper.from_array(np.ones((3 * 8 * 8, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])],
        "fixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w])
    _save(graph, path)
    return path


@pytest.mark.parametrize(("change", "field", "text"), [
    (lambda d, m: {"labels": modelgen.write_labels(d / "four.txt", ["a", "b", "c", "d"])},
     "labels", "four.txt has 4 labels but the model outputs 3 classes"),
    (lambda d, m: {"labels": "imagenet"}, "labels", "ImageNet list has 1000 labels"),
    (lambda d, m: {"labels": d / "missing.txt"}, "labels", "file not found"),
    (lambda d, m: {"labels": (d / "empty.txt", (d / "empty.txt").write_text(""))[0]},
     "labels", "is empty"),
    (lambda d, m: {"layout": "NHWC"}, "layout", "NHWC puts 32 channels where 3 colours belong"),
    (lambda d, m: {"input_size": 64}, "input_size", "the model takes 32x32 images"),
    (lambda d, m: {"resize": 16}, "resize", "smaller than input_size"),
    (lambda d, m: {"preset": "vgg"}, "preset", "must be one of imagenet, caffe, inception"),
    (lambda d, m: {"preset": "custom", "mean": (1, 2, 3)}, "std", "needs mean and std"),
    (lambda d, m: {"preset": "custom", "mean": (1, 2), "std": (1, 1, 1)}, "mean",
     "three numbers"),
    (lambda d, m: {"preset": "custom", "mean": (1, 2, 3), "std": (1, 0, 1)}, "std",
     "greater than 0"),
    (lambda d, m: {"mean": (1, 2, 3)}, "mean", "the imagenet preset fixes mean"),
    (lambda d, m: {"output": "probabilities"}, "output", "negative scores"),
    (lambda d, m: {"output": "scores"}, "output", "must be one of logits, probabilities"),
    (lambda d, m: {"name": " "}, "name", "non-empty"),
    (lambda d, m: {"model": d / "nothing.onnx"}, "model", "file not found"),
    (lambda d, m: {"model": d / "flowers.txt"}, "model", "not an .onnx file"),
    (lambda d, m: {"model": (d / "junk.onnx", (d / "junk.onnx").write_bytes(b"\xff" * 64))[0]},
     "model", "junk.onnx is not an ONNX model"),
    (lambda d, m: {"model": _two_inputs(d / "two.onnx")}, "model", "has 2 inputs (a, b)"),
    (lambda d, m: {"model": _input_of(d / "int.onnx", TensorProto.INT64, [1, 3, 8, 8])},
     "model", "unsupported input: 'x' is int64"),
    (lambda d, m: {"model": _input_of(d / "flat.onnx", TensorProto.FLOAT, [1, 3, 8])},
     "model", "unsupported input: 'x' has 3 dimensions"),
    (lambda d, m: {"model": _input_of(d / "rect.onnx", TensorProto.FLOAT, [1, 3, 8, 9])},
     "model", "not square"),
    (lambda d, m: {"model": _fixed_features(d / "ff.onnx"), "input_size": 16},
     "input_size", "a test run at 16x16 failed"),
])
def test_refusals_name_the_field(tmp_path, change, field, text):
    path = _model(tmp_path)
    fields = {"model": path, "labels": tmp_path / "flowers.txt"} | change(tmp_path, path)
    error = _refused(ImportRequest(**fields))
    assert error.field == field
    assert text in str(error)
    assert not (tmp_path / "flowers.json").exists()


def test_sidecar_that_cannot_be_written_is_refused_without_leftovers(tmp_path):
    path = _model(tmp_path / "m")
    (tmp_path / "m" / "flowers.json").mkdir()  # replacing a folder fails on every system
    with pytest.raises(ManifestError, match=r"cannot write flowers\.json beside the model") \
            as info:
        import_model(ImportRequest(path, tmp_path / "m" / "flowers.txt"), overwrite=True)
    assert info.value.field == "model"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["flowers.json", "flowers.onnx",
                                                                 "flowers.txt"]


# --- the command line, end to end ---------------------------------------------------------


def test_cli_import_info_classify_validate(tmp_path, capsys):
    path = _model(tmp_path / "models", name="garden")
    labels = tmp_path / "models" / "garden.txt"

    code, out, err = run_cli(capsys, "import", path, "--labels", labels, "--name", "Garden",
                             "--resize", "32")
    assert code == 0, err
    assert "Garden: 3 classes, input 32x32 NCHW RGB, resize 32, logits" in out
    assert (tmp_path / "models" / "garden.json").is_file()

    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert {"params", "macs", "opset", "inputs", "outputs", "bytes", "sha256"} <= set(info)
    assert (info["name"], info["id"], info["labels"]) == ("Garden", "garden", 3)
    assert (info["params"], info["macs"], info["opset"]) == (9, 9, modelgen.OPSET)
    assert info["bytes"] == path.stat().st_size
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["inputs"][0]["shape"] == ["N", 3, 32, 32]

    code, out, err = run_cli(capsys, "info", path)
    assert code == 0, err
    assert "parameters" in out and "MACs" in out and "Garden (garden)" in out
    assert "warning" not in out

    photo = tmp_path / "fern.png"
    Image.new("RGB", (60, 40), (10, 240, 10)).save(photo)
    code, out, err = run_cli(capsys, "classify", "--model", path, "--json", "--top", "1", photo)
    assert code == 0, err
    assert json.loads(out)[0]["top"][0]["label"] == "fern"

    for flower, rgb in zip(FLOWERS, ((240, 10, 10), (10, 240, 10), (10, 10, 240)), strict=True):
        (tmp_path / "val" / flower).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), rgb).save(tmp_path / "val" / flower / f"{i}.png")
    code, out, err = run_cli(capsys, "validate", tmp_path / "val", "--model", path,
                             "--summary", tmp_path / "garden.csv")
    assert code == 0, err
    assert "top-1  100.00%  (6/6)" in out
    assert (tmp_path / "garden.csv").read_text().splitlines()[1:] == [
        f"{flower},2,100.00,100.00,,0," for flower in FLOWERS]


def test_cli_info_warns_when_labels_do_not_fit_the_model(tmp_path, capsys):
    path = _model(tmp_path)  # no sidecar: the default manifest says ImageNet labels
    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["labels"] == 1000
    assert info["labels_error"] == ("labels: 1000 labels but the model outputs 3 classes; "
                                    "import the model with its own labels file")


def test_cli_import_refusal_is_one_line_naming_the_field(tmp_path, capsys):
    path = _model(tmp_path)
    wrong = modelgen.write_labels(tmp_path / "wrong.txt", ["a", "b"])
    code, out, err = run_cli(capsys, "import", path, "--labels", wrong)
    assert code == 2 and out == ""
    assert err.strip() == ("resnet-desktop: error: labels: wrong.txt has 2 labels but the model "
                           "outputs 3 classes")
    assert not (tmp_path / "flowers.json").exists()


def test_cli_import_custom_values_and_dry_run(tmp_path, capsys):
    path = _model(tmp_path)
    code, out, err = run_cli(capsys, "import", path, "--labels", tmp_path / "flowers.txt",
                             "--mean", "1", "2", "3", "--std", "4", "5", "6", "--color", "bgr",
                             "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["sidecar"] is None and data["classes"] == 3
    assert (data["manifest"]["mean"], data["manifest"]["color"]) == ([1, 2, 3], "BGR")
    assert not (tmp_path / "flowers.json").exists()


def test_cli_info_of_a_catalog_model_needs_it_downloaded(tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(capsys, "info", "resnet50-v2-7")
    assert code == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines() if not line.startswith("note"))
    assert lines["status"] == "not downloaded"
    assert lines["size"] == "102.4 MB to download (102,442,452 bytes)"
    assert lines["published"] == "top-1 75.81%, top-5 92.82%"
    assert lines["licence"] == "Apache-2.0"
    assert lines["preprocessing"].startswith("shorter side 256, centre 224×224 crop, RGB")
    assert out.splitlines()[-1] == ("note: parameters, MACs, opset, inputs and outputs are read "
                                    "from the file: `resnet-desktop models download "
                                    "resnet50-v2-7` first")

    # A test catalog whose model is in the (isolated) cache: info reads it there.
    model = modelgen.resnet(depth=18, width=4, num_classes=1000, blocks=(1, 1, 1, 1))
    blob = model.SerializeToString()
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"default": "tiny", "models": [{
        "id": "tiny", "name": "Tiny ResNet", "family": "v1", "depth": 18, "bytes": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(), "urls": [], "top1": 1.5, "top5": 7.0}]}))
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(catalog))
    cached = Path(os.environ["RESNET_DESKTOP_CACHE"]) / "models" / "tiny.onnx"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(blob)
    code, out, err = run_cli(capsys, "info", "tiny", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert (info["id"], info["name"], info["labels"], info["labels_source"]) == \
        ("tiny", "Tiny ResNet", 1000, "imagenet")
    assert info["published"] == {"top1": 1.5, "top5": 7.0}
    assert info["bytes"] == len(blob) and info["input_size"] == 224


def test_import_does_not_replace_an_existing_sidecar_unless_told(tmp_path):
    path = _model(tmp_path)
    labels = tmp_path / "flowers.txt"
    sidecar = import_model(ImportRequest(path, labels, name="First")).sidecar
    before = sidecar.read_bytes()
    with pytest.raises(ManifestExistsError, match=r"^model: flowers\.json already exists beside "
                                                  r"flowers\.onnx; it was left as it is$"):
        import_model(ImportRequest(path, labels, name="Second"))
    assert sidecar.read_bytes() == before
    import_model(ImportRequest(path, labels, name="Second"), overwrite=True)
    assert load_manifest_for(path).name == "Second"


def test_cli_import_needs_force_to_replace_a_sidecar(tmp_path, capsys):
    path = _model(tmp_path)
    labels = tmp_path / "flowers.txt"
    assert run_cli(capsys, "import", path, "--labels", labels, "--name", "First")[0] == 0
    code, out, err = run_cli(capsys, "import", path, "--labels", labels, "--name", "Second")
    assert (code, out) == (2, "")
    assert err.strip() == ("resnet-desktop: error: model: flowers.json already exists beside "
                           "flowers.onnx; it was left as it is; add --force to replace it")
    assert load_manifest_for(path).name == "First"
    code, _, err = run_cli(capsys, "import", path, "--labels", labels, "--name", "Second",
                           "--force")
    assert code == 0, err
    assert load_manifest_for(path).name == "Second"


HUGE_INPUT = r"\[N, 3, 30000, 30000\] needs 10\.1 GiB of memory for each run on each worker, " \
    r"more than the 512 MiB the app allows"


def test_import_refuses_an_input_that_needs_more_memory_than_the_budget(tmp_path):
    path = _model(tmp_path, input_size=30000)
    error = _refused(ImportRequest(path, tmp_path / "flowers.txt"))
    assert error.field == "model"
    assert re.search(HUGE_INPUT, str(error)), str(error)


def test_loading_refuses_an_input_that_needs_more_memory_than_the_budget(tmp_path):
    path = _model(tmp_path, input_size=30000)
    with pytest.raises(ModelError, match=HUGE_INPUT):
        Classifier(path, ModelManifest(name="huge", labels=str(tmp_path / "flowers.txt")), "cpu")

"""Class activation maps: read from the graph, exact against NumPy, and where they point."""

from __future__ import annotations

import json
from pathlib import Path

import modelgen
import numpy as np
import onnx
import pytest
from composites import fill, save_rotated, side_by_side
from onnx import numpy_helper
from PIL import Image

from resnet_desktop.core.engine import Engine
from resnet_desktop.core.inference.cam import find_cam_head
from resnet_desktop.core.inference.classifier import Classifier, softmax
from resnet_desktop.core.models.manifest import load_manifest_for


def _save(tmp_path, model, classes=10, name="m", manifest=None):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    modelgen.write_labels(tmp_path / f"{name}.txt", [f"class {i}" for i in range(classes)])
    (tmp_path / f"{name}.json").write_text(json.dumps({"labels": f"{name}.txt",
                                                       **(manifest or {})}))
    return path


def _head_weights(path) -> tuple[np.ndarray, np.ndarray]:
    """(W (classes, K), b) read straight from the file's initializers, independently of cam.py."""
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    gemm = next((n for n in graph.node if n.op_type == "Gemm"), None)
    if gemm is not None:  # the built-in model's classifier
        weight, bias = inits[gemm.input[1]], inits[gemm.input[2]]
    else:
        weight = next(v for k, v in inits.items() if k.startswith("fc_w"))
        bias = next(v for k, v in inits.items() if k.startswith("fc_b"))
    return (weight if weight.shape[0] == bias.shape[0] else weight.T), bias


@pytest.mark.parametrize(("left_name", "right_name"), [("chelsea", "coffee"),
                                                       ("coffee", "astronaut")])
def test_real_model_looks_at_each_half_for_its_class(shared_model, photos, left_name,
                                                     right_name):
    engine = Engine()
    classifier = engine.load(shared_model, "cpu")
    left, right = fill(photos[left_name], 224, 448), fill(photos[right_name], 224, 448)
    left_class = engine.classify_image(classifier, left).top[0]
    right_class = engine.classify_image(classifier, right).top[0]
    assert left_class.index != right_class.index
    result = engine.classify_image(classifier, side_by_side(left, right), with_cam=True)
    assert result.cam is not None and result.cam.maps.shape == (7, 7)
    left_x, _ = result.cam.peak(left_class.index, 448, 448)
    right_x, _ = result.cam.peak(right_class.index, 448, 448)
    assert left_x < 224 <= right_x, (left_class.label, left_x, right_class.label, right_x)
    for index, side in ((left_class.index, slice(0, 3)), (right_class.index, slice(4, 7))):
        cam = result.cam.for_class(index)
        other = slice(4, 7) if side.start == 0 else slice(0, 3)
        assert cam[:, side].mean() > cam[:, other].mean()


def test_real_model_maps_equal_numpy_from_the_exposed_features(shared_model, photos):
    engine = Engine()
    classifier = engine.load(shared_model, "cpu")
    image = Image.open(photos["chelsea"]).convert("RGB")
    plain = engine.classify_image(classifier, image, top_k=1000)
    result = engine.classify_image(classifier, image, top_k=1000, with_cam=True)
    weight, bias = _head_weights(shared_model)
    features = result.cam.maps.features
    assert features.shape == (weight.shape[1], 7, 7)
    # The exposed tensor is what the model pools: its mean through the head gives the answer.
    logits = features.mean(axis=(1, 2)) @ weight.T + bias
    probabilities = softmax(logits[np.newaxis])[0]
    for prediction in result.top[:5]:
        assert probabilities[prediction.index] == pytest.approx(prediction.probability,
                                                                rel=1e-4, abs=1e-6)
    assert [p.index for p in result.top[:5]] == [p.index for p in plain.top[:5]]
    for p, q in zip(plain.top, result.top, strict=True):
        assert p.probability == pytest.approx(q.probability, rel=1e-5, abs=1e-7)
    for index in (result.top[0].index, 0, 999):
        expected = np.einsum("k,khw->hw", weight[index].astype(np.float64), features)
        np.testing.assert_allclose(result.cam.for_class(index), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("version", "head", "softmax_out", "batch"), [
    (1, "gap-gemm", False, "N"),
    (2, "gap-gemm", True, "N"),
    (1, "avgpool-matmul", False, 1),
    (2, "avgpool-matmul", True, 2),
])
def test_generated_resnets_get_exact_maps(tmp_path, version, head, softmax_out, batch):
    model = modelgen.resnet(version=version, blocks=(1, 1, 1, 1), head=head,
                            softmax=softmax_out, batch=batch, seed=version)
    path = _save(tmp_path, model, manifest={"output": "probabilities"} if softmax_out else None)
    classifier = Classifier(path, load_manifest_for(path), "cpu")
    x = np.random.default_rng(3).normal(size=(3, 3, 224, 224)).astype(np.float32)
    plain = classifier.run(x)
    probabilities, maps = classifier.run_with_cam(x)
    np.testing.assert_allclose(probabilities, plain, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(classifier.run(x), plain, rtol=1e-5, atol=1e-7)
    weight, bias = _head_weights(path)
    assert len(maps) == 3
    for image, cam in enumerate(maps):
        assert cam.features.shape == (weight.shape[1], 7, 7)
        logits = cam.features.mean(axis=(1, 2)) @ weight.T + bias
        np.testing.assert_allclose(softmax(logits[np.newaxis])[0], probabilities[image],
                                   rtol=1e-4, atol=1e-6)
        for c in (0, 9):
            np.testing.assert_allclose(cam.for_class(c), np.tensordot(weight[c], cam.features, 1),
                                       rtol=1e-5, atol=1e-5)


def test_model_without_the_head_says_not_available_and_runs_as_before(tmp_path):
    path = tmp_path / "colour.onnx"
    onnx.save(modelgen.colour_classifier(), str(path))
    modelgen.write_labels(tmp_path / "colour.txt", ["red", "green", "blue"])
    (tmp_path / "colour.json").write_text(json.dumps({"labels": "colour.txt", "input_size": 32,
                                                      "resize": 32}))
    assert find_cam_head(onnx.load(str(path))) is None
    engine = Engine()
    classifier = engine.load(path, "cpu")
    red = Image.new("RGB", (40, 30), (250, 10, 10))
    plain = engine.classify_image(classifier, red)
    result = engine.classify_image(classifier, red, with_cam=True)
    assert not classifier.cam_available()
    assert result.cam is None
    assert result.top == plain.top and result.top[0].label == "red"


def test_map_is_placed_on_the_crop_of_the_oriented_photo(tmp_path, shared_model, photos):
    """A landscape composite stored rotated with an EXIF orientation: the peak is reported in the
    upright photo's pixels, on the cat's side."""
    left, right = fill(photos["chelsea"], 300, 400), fill(photos["coffee"], 300, 400)
    path = save_rotated(side_by_side(left, right), tmp_path / "rotated.jpg")
    engine = Engine()
    classifier = engine.load(shared_model, "cpu")
    cat = engine.classify_image(classifier, left).top[0]
    result = engine.classify_file(classifier, path, with_cam=True)
    crop = result.cam.crop
    # 600 x 400 upright: the 256-high resize is 384 wide and the 224 crop starts at x = 80.
    assert (crop.left, crop.top) == pytest.approx((80 / 384, 16 / 256))
    assert (crop.right, crop.bottom) == pytest.approx((304 / 384, 240 / 256))
    x, y = result.cam.peak(cat.index, 600, 400)
    assert 0 <= x < 300 and 0 <= y < 400


def test_full_size_resnet50_with_constant_of_shape_weights_has_a_head():
    """The onnx package's light_resnet50: AveragePool 7x7, Reshape, Gemm(transB), Softmax, its
    weights made by ConstantOfShape nodes."""
    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    head = find_cam_head(onnx.load(str(path)))
    assert head is not None and head.pool_kernel == (7, 7)
    assert head.weights.shape == (1000, 2048)
    assert np.allclose(head.weights, 0.02)


def test_heads_that_are_not_a_pooled_linear_layer_are_refused():
    model = modelgen.resnet(blocks=(1, 1, 1, 1))
    assert find_cam_head(model) is not None
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    # Weights computed at run time (here from the input) are not a fixed linear layer.
    gemm.input[1] = next(n for n in model.graph.node if n.op_type == "Flatten").output[0]
    assert find_cam_head(model) is None
    pooled = modelgen.resnet(blocks=(1, 1, 1, 1))
    pool = next(n for n in pooled.graph.node if n.op_type == "GlobalAveragePool")
    pool.op_type = "GlobalMaxPool"
    assert find_cam_head(pooled) is None

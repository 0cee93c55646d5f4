"""Real ONNX Runtime sessions on generated models: checks, providers, softmax, batching."""

from __future__ import annotations

import json

import modelgen
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from resnet_desktop.core.foundation.errors import ModelError
from resnet_desktop.core.inference.classifier import Classifier, softmax
from resnet_desktop.core.inference.providers import candidates
from resnet_desktop.core.inference.session_cache import ClassifierCache
from resnet_desktop.core.models.manifest import ModelManifest, load_manifest_for


def _custom(tmp_path, model, labels=None, manifest=None, name="m"):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    data = dict(manifest or {})
    if labels is not None:
        modelgen.write_labels(tmp_path / f"{name}.txt", labels)
        data["labels"] = f"{name}.txt"
    if data:
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    return path


def _ort_run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"data": x})[0]


def _classifier(path, provider="cpu"):
    return Classifier(path, load_manifest_for(path), provider)


def _ten(n=10):
    return [f"class {i}" for i in range(n)]


@pytest.mark.parametrize("version", [1, 2])
def test_resnet_v1_v2_graphs_run_and_match_onnxruntime(tmp_path, version):
    model = modelgen.resnet(depth=18, version=version, width=4, num_classes=10, blocks=(1, 1, 1, 1))
    path = _custom(tmp_path, model, _ten())
    classifier = _classifier(path)
    x = np.random.default_rng(1).normal(size=(3, 3, 224, 224)).astype(np.float32)
    probs = classifier.run(x)
    raw = _ort_run(path, x)
    np.testing.assert_allclose(probs, softmax(raw), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.io.input_name == "data" and classifier.io.output_name == "logits"
    assert classifier.io.batch is None and classifier.io.num_classes == 10
    assert classifier.provider.active == "cpu" and classifier.provider.fallback_reason is None


def test_probabilities_output_is_not_softmaxed_again(tmp_path):
    model = modelgen.colour_classifier(softmax=True)
    path = _custom(tmp_path, model, ["red", "green", "blue"], {"output": "probabilities",
                                                                "input_size": 32})
    classifier = _classifier(path)
    x = np.zeros((1, 3, 32, 32), np.float32)
    x[:, 0] = 0.2
    raw = _ort_run(path, x)
    np.testing.assert_allclose(classifier.run(x), raw, rtol=1e-6)


def test_top_k_orders_and_labels(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(), ["red", "green", "blue"],
                   {"input_size": 32})
    classifier = _classifier(path)
    x = np.zeros((1, 3, 32, 32), np.float32)
    x[:, 2], x[:, 1] = 2.0, 1.0
    top = classifier.top_k(classifier.run(x)[0], 5)
    assert [p.label for p in top] == ["blue", "green", "red"]
    assert top[0].probability > top[1].probability > top[2].probability
    assert classifier.top_k(classifier.run(x)[0], 1)[0].index == 2


def test_fixed_batch_model_gets_chunks_and_padding(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(batch=2), ["r", "g", "b"],
                   {"input_size": 32})
    classifier = _classifier(path)
    assert classifier.io.batch == 2
    x = np.zeros((5, 3, 32, 32), np.float32)
    for i in range(5):
        x[i, i % 3] = 2.0
    probs = classifier.run(x)
    assert probs.shape == (5, 3)
    assert list(probs.argmax(axis=1)) == [0, 1, 2, 0, 1]


def test_nhwc_model_with_nhwc_manifest(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(layout="NHWC"), ["r", "g", "b"],
                   {"layout": "NHWC", "input_size": 32})
    classifier = _classifier(path)
    x = np.zeros((1, 32, 32, 3), np.float32)
    x[..., 1] = 2.0
    assert classifier.run(x).argmax() == 1


def test_nhwc_model_declared_nchw_is_refused_with_a_hint(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(layout="NHWC"), ["r", "g", "b"])
    with pytest.raises(ModelError, match="looks like NHWC"):
        _classifier(path)


def test_fixed_input_size_is_taken_from_the_model(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(input_size=64), ["r", "g", "b"])
    classifier = _classifier(path)
    assert classifier.preprocessing.input_size == 64
    assert classifier.preprocessing.resize == round(64 * 256 / 224)


def test_input_size_contradicting_the_manifest_is_refused(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(input_size=64), ["r", "g", "b"],
                   {"input_size": 224})
    with pytest.raises(ModelError, match="takes 64x64 images but its manifest says input_size 224"):
        _classifier(path)


def test_label_count_mismatch_is_refused(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(), ["r", "g"], {"input_size": 32})
    with pytest.raises(ModelError, match="2 entries but the model outputs 3 classes"):
        _classifier(path)


def test_imagenet_labels_on_a_ten_class_model_are_refused(tmp_path):
    path = _custom(tmp_path, modelgen.colour_classifier(), None, {"input_size": 32})
    with pytest.raises(ModelError, match="1000 entries but the model outputs 3 classes"):
        _classifier(path)


def _graph(inputs, outputs, nodes, inits=()):
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


@pytest.mark.parametrize(("model", "message"), [
    (_graph([_vi("x", ["N", 10])], [_vi("y", ["N", 10])], [helper.make_node("Relu", ["x"], ["y"])]),
     "4-D"),
    (_graph([_vi("x", ["N", 1, 28, 28])], [_vi("y", ["N", 1, 28, 28])],
            [helper.make_node("Relu", ["x"], ["y"])]), "1 channels"),
    (_graph([_vi("x", ["N", 3, 32, 32])], [_vi("y", ["N", 3, 32, 32])],
            [helper.make_node("Relu", ["x"], ["y"])]), "outputs \\[batch, classes\\]"),
    (_graph([_vi("x", ["N", 3, 32, 32], TensorProto.INT64)], [_vi("y", ["N", 3, 32, 32],
            TensorProto.INT64)], [helper.make_node("Identity", ["x"], ["y"])]), "float tensor"),
    (_graph([_vi("a", ["N", 3, 32, 32]), _vi("b", ["N", 3, 32, 32])], [_vi("y", ["N", 3, 32, 32])],
            [helper.make_node("Add", ["a", "b"], ["y"])]), "2 inputs"),
    (_graph([_vi("x", ["N", 3, 32, 48])], [_vi("y", ["N", 3, 32, 48])],
            [helper.make_node("Relu", ["x"], ["y"])]), "not square"),
])
def test_models_that_are_not_image_classifiers_are_refused(tmp_path, model, message):
    path = _custom(tmp_path, model)
    with pytest.raises(ModelError, match=message):
        _classifier(path)


def test_symbolic_class_count_is_probed(tmp_path):
    model = modelgen.colour_classifier()
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_param = "classes"
    path = _custom(tmp_path, model, ["r", "g", "b"], {"input_size": 32})
    assert _classifier(path).io.num_classes == 3


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", None])
def test_corrupt_model_files_are_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.onnx"
    if content is None:
        content = modelgen.resnet(depth=18, width=4, blocks=(1, 1, 1, 1)).SerializeToString()
        content = content[: len(content) // 2]
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"broken\.onnx: not a usable ONNX model"):
        _classifier(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier(tmp_path / "nope.onnx", ModelManifest("nope"), "cpu")


def test_forced_gpu_without_gpu_build_falls_back_with_a_reason(tmp_path):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime build has CUDA; the fallback path needs one without")
    path = _custom(tmp_path, modelgen.colour_classifier(), ["r", "g", "b"], {"input_size": 32})
    classifier = _classifier(path, "cuda")
    assert classifier.provider.requested == "cuda"
    assert classifier.provider.active == "cpu"
    assert "CUDAExecutionProvider is not in this ONNX Runtime build" in \
        classifier.provider.fallback_reason


def test_provider_order():
    assert candidates("auto", "win32") == ["directml", "cuda", "cpu"]
    assert candidates("auto", "linux") == ["cuda", "cpu"]
    assert candidates("auto", "darwin") == ["cuda", "coreml", "cpu"]
    assert candidates("cpu") == ["cpu"]
    assert candidates("directml") == ["directml", "cpu"]
    with pytest.raises(ValueError):
        candidates("tpu")


def test_session_cache_reuses_and_evicts(tmp_path):
    cache = ClassifierCache(size=1)
    path = _custom(tmp_path, modelgen.colour_classifier(), ["r", "g", "b"], {"input_size": 32})
    manifest = load_manifest_for(path)
    first = cache.get(path, manifest, "cpu")
    assert cache.get(path, manifest, "cpu") is first
    other = _custom(tmp_path, modelgen.colour_classifier(), ["r", "g", "b"], {"input_size": 32},
                    name="other")
    cache.get(other, load_manifest_for(other), "cpu")
    assert cache.get(path, manifest, "cpu") is not first

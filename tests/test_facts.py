"""Model facts from the graph: counted by hand, and against the published ResNet figures."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import modelgen
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from resnet_desktop.core.foundation.errors import ModelError
from resnet_desktop.core.foundation.formatting import format_count
from resnet_desktop.core.models.facts import graph_facts, model_facts

PUBLISHED = {  # parameters, MACs at 224 (He et al. 2016; torchvision; mmpretrain)
    18: (11.7e6, 1.8e9),
    50: (25.6e6, 4.1e9),
}
LIGHT_RESNET50 = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def hand_count(depth: int, width: int, classes: int, size: int = 224) -> tuple[int, int]:
    """(parameters, MACs) of the modelgen ResNet-v1, written out from the architecture.

    Parameters: convolution weights (no bias), 4 numbers per BatchNorm channel (scale, bias,
    running mean, running variance), the fully connected weights and bias. MACs: convolution
    output elements x input channels x kernel area, plus the fully connected layer.
    """
    params = macs = 0

    def conv(cin: int, cout: int, k: int, out_side: int) -> None:
        nonlocal params, macs
        params += cout * cin * k * k + 4 * cout  # the BatchNorm after every convolution
        macs += cout * out_side * out_side * cin * k * k

    side = size // 2
    conv(3, width, 7, side)
    side //= 2  # max pool
    bottleneck = depth >= 50
    cin = width
    for stage, blocks in enumerate(modelgen.STAGES[depth]):
        cout = width * 2 ** stage * (4 if bottleneck else 1)
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 0 else 1
            out_side = side // stride
            if bottleneck:
                mid = cout // 4
                conv(cin, mid, 1, side)
                conv(mid, mid, 3, out_side)
                conv(mid, cout, 1, out_side)
            else:
                conv(cin, cout, 3, out_side)
                conv(cout, cout, 3, out_side)
            if stride != 1 or cin != cout:
                conv(cin, cout, 1, out_side)
            cin, side = cout, out_side
    params += cin * classes + classes
    macs += cin * classes
    return params, macs


@pytest.fixture(scope="module")
def resnet50() -> onnx.ModelProto:
    """The full-size ResNet-50 graph with a 1000-class head (~100 MB), built once."""
    return modelgen.resnet(depth=50, width=64, num_classes=1000)


def test_resnet50_matches_hand_count_and_published_figures(resnet50):
    facts = graph_facts(resnet50)
    params, macs = hand_count(50, 64, 1000)
    assert (facts.params, facts.macs) == (params, macs)
    published_params, published_macs = PUBLISHED[50]
    assert facts.params == pytest.approx(published_params, rel=0.02)
    assert facts.macs == pytest.approx(published_macs, rel=0.02)
    assert facts.macs_by_op == {"Conv": macs - 2048 * 1000, "Gemm": 2048 * 1000}
    assert facts.opset == modelgen.OPSET and facts.input_size == 224
    assert [t.name for t in facts.inputs] == ["data"]
    assert facts.inputs[0].shape == ("N", 3, 224, 224) and facts.inputs[0].dtype == "float32"
    assert facts.outputs[0].shape == ("N", 1000)
    assert facts.notes == ()


def test_resnet18_matches_hand_count_and_published_figures():
    facts = graph_facts(modelgen.resnet(depth=18, width=64, num_classes=1000))
    assert (facts.params, facts.macs) == hand_count(18, 64, 1000)
    assert facts.params == pytest.approx(PUBLISHED[18][0], rel=0.02)
    assert facts.macs == pytest.approx(PUBLISHED[18][1], rel=0.02)


@pytest.mark.skipif(not LIGHT_RESNET50.is_file(), reason=f"{LIGHT_RESNET50} not in this onnx")
def test_onnx_light_resnet50_counts_weights_made_by_constant_of_shape():
    model = onnx.load(str(LIGHT_RESNET50))
    from_initializers = sum(math.prod(t.dims) for t in model.graph.initializer
                            if t.data_type == TensorProto.FLOAT)
    assert sum(n.op_type == "ConstantOfShape" for n in model.graph.node) > 200
    facts = model_facts(LIGHT_RESNET50)
    # Almost every weight is made by a ConstantOfShape node, yet all of them count.
    assert from_initializers < 0.01 * facts.params
    assert facts.params == pytest.approx(PUBLISHED[50][0], rel=0.02)
    assert facts.macs == pytest.approx(PUBLISHED[50][1], rel=0.02)
    assert facts.opset == 9
    assert facts.inputs[0].shape == (1, 3, 224, 224)


def _tiny_graph() -> onnx.ModelProto:
    """Every counted op once, with weights of every kind. Hand counts in the test below."""
    w1 = numpy_helper.from_array(np.ones((6, 2, 3, 3), np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(6, np.float32), "b1")
    w3 = numpy_helper.from_array(np.ones((10, 3), np.float32), "w3")
    flat = numpy_helper.from_array(np.array([1, 512], np.int64), "flat_shape")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], group=2, pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["w2"], value=numpy_helper.from_array(
            np.ones((6, 2, 2, 2), np.float32))),
        helper.make_node("ConvTranspose", ["c1", "w2"], ["t1"], strides=[2, 2]),
        helper.make_node("Reshape", ["t1", "flat_shape"], ["f1"]),
        helper.make_node("Constant", [], ["gemm_b_shape"], value_ints=[512, 10]),
        helper.make_node("ConstantOfShape", ["gemm_b_shape"], ["gemm_b"],
                         value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("Constant", [], ["gemm_c"], value_floats=[0.0] * 10),
        helper.make_node("Gemm", ["f1", "gemm_b", "gemm_c"], ["g1"]),
        helper.make_node("MatMul", ["g1", "w3"], ["m1"]),
        helper.make_node("MatMul", ["g1", "w3"], ["m2"]),  # a shared weight counts once
        helper.make_node("Add", ["m1", "m2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [w1, b1, w3, flat],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def test_tiny_graph_exact_hand_counts():
    facts = graph_facts(_tiny_graph(), input_size=8)
    # conv w1 108 + b1 6, ConvTranspose w2 48, Gemm B (ConstantOfShape) 5120 + C 10, w3 30;
    # the int64 shapes are not parameters.
    assert facts.params == 108 + 6 + 48 + 5120 + 10 + 30
    assert facts.macs_by_op == {
        "Conv": (6 * 8 * 8) * (2 * 3 * 3),  # output elements x weights per output channel
        "ConvTranspose": (6 * 8 * 8) * (2 * 2 * 2),  # input elements x weights per input ch
        "Gemm": 1 * 512 * 10,
        "MatMul": 2 * (1 * 10 * 3),
    }
    assert facts.macs == sum(facts.macs_by_op.values())
    assert facts.input_size == 8 and facts.layout == "NCHW"


def test_fixed_batch_is_counted_per_image():
    kwargs = {"depth": 18, "width": 4, "num_classes": 10, "blocks": (1, 1, 1, 1)}
    fixed = graph_facts(modelgen.resnet(batch=4, **kwargs))
    assert fixed.inputs[0].shape[0] == 4
    assert fixed.macs == graph_facts(modelgen.resnet(batch="N", **kwargs)).macs


def test_quantised_weights_count_and_scales_do_not():
    scalar = {"x_s": np.float32(0.1), "x_zp": np.uint8(128), "y_s": np.float32(0.2),
              "y_zp": np.uint8(128)}
    inits = [numpy_helper.from_array(np.array(v), k) for k, v in scalar.items()]
    inits += [
        numpy_helper.from_array(np.ones((2, 3, 1, 1), np.uint8), "wq"),
        numpy_helper.from_array(np.full(2, 0.05, np.float32), "w_s"),
        numpy_helper.from_array(np.zeros(2, np.uint8), "w_zp"),
        numpy_helper.from_array(np.zeros(2, np.int32), "bias_q"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_s", "x_zp"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "x_s", "x_zp", "wq", "w_s", "w_zp", "y_s", "y_zp",
                                         "bias_q"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "y_s", "y_zp"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    facts = graph_facts(model)
    assert facts.params == 6 + 2  # uint8 weights and the int32 bias; no scales, zero points
    assert facts.macs_by_op == {"QLinearConv": 2 * 4 * 4 * 3}


def test_onnxruntime_quantised_ops_do_not_stop_the_count():
    """The QOperator layout of ONNX Runtime's int8 ResNets: QLinearAdd and
    QLinearGlobalAveragePool (com.microsoft) sit between the counted convolutions."""
    q = {"s": np.float32(0.1), "zp": np.uint8(128)}
    inits = [numpy_helper.from_array(np.array(v), k) for k, v in q.items()]
    for name, shape in (("w1", (4, 3, 3, 3)), ("w2", (4, 4, 3, 3)), ("w3", (4, 4, 1, 1))):
        inits.append(numpy_helper.from_array(np.ones(shape, np.uint8), name))
    inits.append(numpy_helper.from_array(np.ones((4, 2), np.float32), "fc"))

    def qconv(x, w, y, **attrs):
        return helper.make_node("QLinearConv", [x, "s", "zp", w, "s", "zp", "s", "zp"], [y],
                                **attrs)

    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"]),
        qconv("xq", "w1", "a", pads=[1, 1, 1, 1]),
        qconv("a", "w2", "b", pads=[1, 1, 1, 1]),
        helper.make_node("QLinearAdd", ["a", "s", "zp", "b", "s", "zp", "s", "zp"], ["c"],
                         domain="com.microsoft"),
        qconv("c", "w3", "d"),
        helper.make_node("QLinearGlobalAveragePool", ["d", "s", "zp", "s", "zp"], ["e"],
                         domain="com.microsoft", channels_last=0),
        helper.make_node("DequantizeLinear", ["e", "s", "zp"], ["f"]),
        helper.make_node("Flatten", ["f"], ["g"]),
        helper.make_node("MatMul", ["g", "fc"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
    facts = graph_facts(model)
    assert facts.notes == ()
    assert facts.macs_by_op == {"QLinearConv": 4 * 64 * 27 + 4 * 64 * 36 + 4 * 64 * 4,
                                "MatMul": 4 * 2}
    assert facts.params == 108 + 144 + 16 + 8


def test_symbolic_size_follows_the_manifest_and_nhwc_is_the_same_network():
    kwargs = {"depth": 18, "width": 8, "num_classes": 10, "blocks": (1, 1, 1, 1)}
    at_224 = graph_facts(modelgen.resnet(input_size=224, **kwargs))
    dynamic = modelgen.resnet(input_size=None, **kwargs)
    assert graph_facts(dynamic, input_size=224).macs == at_224.macs
    at_112 = graph_facts(dynamic, input_size=112)
    assert at_112.input_size == 112 and at_112.macs < at_224.macs / 3
    nhwc = graph_facts(modelgen.resnet(input_size=None, layout="NHWC", **kwargs),
                       input_size=224, layout="NHWC")
    assert (nhwc.params, nhwc.macs, nhwc.layout) == (at_224.params, at_224.macs, "NHWC")
    assert graph_facts(dynamic).input_size == 224  # no manifest size: the zoo's 224


def test_fixed_spatial_size_wins_over_the_manifest_with_a_note():
    facts = graph_facts(modelgen.colour_classifier(input_size=32), input_size=224)
    assert facts.input_size == 32
    assert facts.macs == 3 * 3  # the MatMul [1, 3] x [3, 3]; ReduceMean is not counted
    assert any("32x32" in note for note in facts.notes)


def test_model_file_facts_include_size_hash_and_json(tmp_path):
    path = tmp_path / "c.onnx"
    modelgen.colour_classifier(path, classes=("a", "b", "c", "d"))
    facts = model_facts(path)
    assert facts.bytes == path.stat().st_size
    assert facts.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    data = facts.to_json()
    assert {"params", "macs", "opset", "inputs", "outputs", "bytes", "sha256"} <= set(data)
    assert data["params"] == 12 and data["macs"] == 12
    assert data["inputs"] == [{"name": "data", "shape": ["N", 3, 32, 32], "dtype": "float32"}]
    assert data["outputs"] == [{"name": "logits", "shape": ["N", 4], "dtype": "float32"}]


def test_not_an_onnx_file_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not protobuf \xff\xfe" * 10)
    with pytest.raises(ModelError, match=r"bad\.onnx: not an ONNX model"):
        model_facts(bad)
    with pytest.raises(ModelError, match="not found"):
        model_facts(tmp_path / "missing.onnx")


def test_format_count():
    assert format_count(25_557_032) == "25.56 M"
    assert format_count(4_089_184_256, "MAC") == "4.09 GMAC"
    assert format_count(512) == "512"
    assert format_count(None) == "unknown"


def test_a_real_exported_classifier(shared_model):
    """EfficientNet-Lite0 (BatchNorm folded, depthwise convolutions): 4.65 M parameters and
    about 0.39 G MACs as its PyTorch port reports them."""
    facts = model_facts(shared_model)
    assert facts.params == pytest.approx(4.65e6, rel=0.02)
    assert facts.macs == pytest.approx(0.39e9, rel=0.05)
    assert facts.opset == 13 and facts.notes == ()
    assert facts.inputs[0].name == "input" and facts.outputs[0].shape == ("N", 1000)

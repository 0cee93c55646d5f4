"""Class activation maps (Zhou et al., CVPR 2016) read out of the graph itself.

A classifier that ends in global average pooling followed by one fully connected layer
computes, for class c, ``logit_c = sum_k w_ck * mean(A_k) + b_c`` over its last feature maps
``A`` (K, h, w). Its class activation map ``M_c = sum_k w_ck * A_k`` is therefore exact for the
architecture, needs no gradients and costs one extra session output: the feature maps, which
the pooling consumes anyway. Every zoo ResNet (v1 and v2), EfficientNet-Lite and most
fine-tuned classifiers have this head; other graphs get :data:`NOT_AVAILABLE` and run as before.

The head is matched walking back from the classifier output, skipping ``Identity`` and
``Dropout`` (inference no-ops) and a final ``Softmax``/``LogSoftmax``:
``GlobalAveragePool`` or ``AveragePool`` -> ``Flatten``/``Reshape``/``Squeeze`` -> ``Gemm``, or
``MatMul`` with an optional ``Add``. The weights must be constants: initializers, ``Constant``
or ``ConstantOfShape`` nodes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # onnx is imported where a graph is read, not at start-up
    import onnx

log = logging.getLogger(__name__)

NOT_AVAILABLE = "not available for this model"
"""What the app says when a graph has no pooling + fully connected head to read a map from."""

_PASS_THROUGH = ("Identity", "Dropout")
_FLATTEN = ("Flatten", "Reshape", "Squeeze")


@dataclass(frozen=True, eq=False)
class CamHead:
    """Where a graph's class activation maps come from."""

    features: str
    """Name of the tensor the global pooling averages: (N, K, h, w)."""
    weights: np.ndarray
    """(classes, K) float32: row c holds the fully connected weights w_c of class c."""
    pool_kernel: tuple[int, ...] | None
    """An ``AveragePool``'s kernel, which must cover the whole feature map for the pooling to
    be global; None for ``GlobalAveragePool``."""


@dataclass(frozen=True, eq=False)
class ActivationMaps:
    """One image's pooled feature maps and the head's weights: the map of any class."""

    features: np.ndarray
    """(K, h, w) float32, exactly as the model computed them."""
    weights: np.ndarray
    """(classes, K) float32, shared by every image of the model."""

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of every map."""
        return self.features.shape[1], self.features.shape[2]

    def for_class(self, index: int) -> np.ndarray:
        """(h, w) float32: ``sum_k w[index, k] * features[k]``, not normalised."""
        return np.tensordot(self.weights[index], self.features, axes=1)


def find_cam_head(model: onnx.ModelProto) -> CamHead | None:
    """The head that yields class activation maps, or None when the graph has none."""
    from onnx import helper, numpy_helper

    graph = model.graph
    if not graph.output:
        return None
    producers = {out: node for node in graph.node for out in node.output}
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t

    def producer(name: str) -> onnx.NodeProto | None:
        node = producers.get(name)
        while node is not None and node.op_type in _PASS_THROUGH:
            node = producers.get(node.input[0])
        return node

    def constant(name: str) -> np.ndarray | None:
        tensor = constants.get(name)
        if tensor is not None:
            return numpy_helper.to_array(tensor).astype(np.float32)
        node = producers.get(name)
        if node is not None and node.op_type == "ConstantOfShape":
            shape = constants.get(node.input[0])
            value = (numpy_helper.to_array(node.attribute[0].t).reshape(-1)[0]
                     if node.attribute else 0.0)
            return None if shape is None else np.full(numpy_helper.to_array(shape), value,
                                                      np.float32)
        return None

    node = producer(graph.output[0].name)
    if node is not None and node.op_type in ("Softmax", "LogSoftmax"):
        node = producer(node.input[0])
    weights, pooled = _fully_connected(node, producer, constant)
    if weights is None or pooled is None:
        return None
    node = producer(pooled)
    while node is not None and node.op_type in _FLATTEN:
        node = producer(node.input[0])
    if node is None or node.op_type not in ("GlobalAveragePool", "AveragePool"):
        return None
    kernel = None
    if node.op_type == "AveragePool":
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if any(attrs.get("pads", [])) or attrs.get("ceil_mode", 0):
            return None
        kernel = tuple(attrs.get("kernel_shape", ()))
    return CamHead(node.input[0], np.ascontiguousarray(weights), kernel)


def _fully_connected(
    node: onnx.NodeProto | None,
    producer: Callable[[str], onnx.NodeProto | None],
    constant: Callable[[str], np.ndarray | None],
) -> tuple[np.ndarray | None, str | None]:
    """(weights (classes, K), name of the layer's input) of a Gemm or MatMul(+Add) node."""
    from onnx import helper

    if node is None:
        return None, None
    if node.op_type == "Gemm":
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        b = constant(node.input[1])
        if b is None or b.ndim != 2 or attrs.get("transA", 0):
            return None, None
        weights = b if attrs.get("transB", 0) else b.T
        return weights * np.float32(attrs.get("alpha", 1.0)), node.input[0]
    if node.op_type == "Add":
        terms = [(name, producer(name)) for name in node.input]
        matmuls = [n for _, n in terms if n is not None and n.op_type == "MatMul"]
        biases = [name for name, n in terms if n is None or n.op_type != "MatMul"]
        if len(matmuls) != 1 or len(biases) != 1 or constant(biases[0]) is None:
            return None, None
        node = matmuls[0]
    if node.op_type == "MatMul":
        b = constant(node.input[1])
        if b is None or b.ndim != 2:
            return None, None
        return b.T, node.input[0]
    return None, None


def with_feature_output(model: onnx.ModelProto, head: CamHead) -> bytes:
    """The serialised model with ``head.features`` as one more graph output, after the others.

    The classifier output stays first, so everything that reads outputs[0] is unchanged. The
    new output names only the tensor: ONNX Runtime infers its type and shape.
    """
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.output.add().name = head.features
    return copy.SerializeToString()

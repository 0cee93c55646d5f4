"""Model facts read from the graph itself: parameters, MACs, opset, inputs and outputs, file.

Needs the ``onnx`` package (ONNX Runtime exposes neither the graph's weights nor shape
inference). The counting rules, chosen to match how papers and mmpretrain report ResNets:

Parameters
    Every element of a *constant* tensor that is a weight: graph initializers (also the sparse
    ones, by stored values), ``Constant`` nodes, and ``ConstantOfShape`` nodes whose shape is
    itself constant (some exports, e.g. onnx's ``light_*`` test models, make weights that way).
    Counted tensors are floating point or quantised (8 bits or fewer; int32 only when it is a
    quantised bias feeding ``DequantizeLinear`` or a ``QLinear*`` op). Not counted: int64 and
    other integer bookkeeping (shapes, axes, indices), the scales and zero points of
    quantisation ops, tensors computed from others (e.g. ``DequantizeLinear`` outputs), and
    weights that are graph inputs without a value. A tensor used by several nodes counts
    once. BatchNormalization's running mean and variance are counted (they are stored
    weights), which puts a ResNet-50 0.2% above PyTorch's 25,557,032 "parameters".
MACs (multiply-accumulates for one image)
    Convolutions and fully connected layers only, the convention behind the published ResNet
    figures (ResNet-50: 4.1 G, the "FLOPs" of the papers and mmpretrain): ``Conv``:
    output elements x (input channels / group) x kernel height x kernel width, i.e. output
    elements x the weight's elements per output channel; ``ConvTranspose``: input elements x
    weight elements per input channel; ``Gemm``, ``MatMul``: M x K x N (batched MatMul: times
    the batch); and their quantised forms (``QLinearConv``, ``ConvInteger``,
    ``QLinearMatMul``, ``MatMulInteger``). Bias additions, BatchNorm, activations, pooling
    and element-wise ops are left out. Shapes come from ``onnx.shape_inference`` after the
    image input is fixed to batch 1 and to the manifest's input size (a model with fixed
    spatial dimensions keeps its own); a model with a fixed batch B is counted at B and
    divided by B. Nodes inside subgraphs (If/Loop/Scan bodies) are not counted; when any
    counted node's shapes cannot be inferred, ``macs`` is None and ``notes`` says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import ModelError, first_line
from resnet_desktop.core.foundation.hashing import sha256_file

log = logging.getLogger(__name__)

Dim = int | str | None

_FLOAT_TYPES = frozenset({
    TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16,
    *(getattr(TensorProto, n) for n in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                        "FLOAT8E5M2FNUZ", "FLOAT4E2M1")
      if hasattr(TensorProto, n)),
})
_SMALL_INT_TYPES = frozenset({
    TensorProto.INT8, TensorProto.UINT8,
    *(getattr(TensorProto, n) for n in ("INT4", "UINT4") if hasattr(TensorProto, n)),
})
_QUANT_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                        "ConvInteger", "MatMulInteger"})
# Weight tensors larger than this are stripped of their data before shape inference, which
# only needs their dimensions: a 240 MB model is then not copied twice through protobuf.
_STRIP_ELEMENTS = 1024


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as the model declares it (symbolic dimensions by name)."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @property
    def shape_text(self) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"


@dataclass(frozen=True)
class ModelFacts:
    """What the graph says about itself; ``macs`` is for one image at ``input_size``."""

    params: int
    macs: int | None
    opset: int | None
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    input_size: int | None
    layout: str
    ir_version: int
    producer: str
    macs_by_op: dict[str, int] = field(default_factory=dict)
    bytes: int | None = None
    sha256: str | None = None
    path: Path | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "params": self.params,
            "macs": self.macs,
            "macs_by_op": dict(self.macs_by_op),
            "opset": self.opset,
            "ir_version": self.ir_version,
            "producer": self.producer,
            "input_size": self.input_size,
            "layout": self.layout,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ModelDescription:
    """A catalog or custom model's facts with what its manifest adds (name, labels)."""

    id: str
    name: str
    facts: ModelFacts
    labels: int | None
    labels_source: str
    labels_error: str | None = None
    top1: float | None = None
    top5: float | None = None
    preprocessing: str = ""
    """How an image becomes the input (:func:`~.manifest.preprocessing_text`)."""
    license: str | None = None
    file_date: float | None = None
    """When the file arrived (downloaded, imported), as a POSIX time; None for a built-in."""
    builtin: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "name": self.name, "labels": self.labels,
                "labels_source": self.labels_source}
        if self.labels_error:
            data["labels_error"] = self.labels_error
        data.update({"preprocessing": self.preprocessing, "license": self.license,
                     "builtin": self.builtin})
        if self.file_date is not None:
            data["file_date"] = datetime.fromtimestamp(self.file_date).astimezone().isoformat(
                timespec="seconds")
        data.update(self.facts.to_json())
        if self.top1 is not None or self.top5 is not None:
            data["published"] = {"top1": self.top1, "top5": self.top5}
        return data


def model_facts(path: Path, input_size: int | None = None, layout: str = "NCHW",
                cancel: CancelToken = NEVER) -> ModelFacts:
    """Facts of an ``.onnx`` file: the graph's, plus its size and SHA-256.

    ``input_size`` and ``layout`` come from the model's manifest; they matter only for a model
    whose spatial dimensions are symbolic. Raises ModelError for a file that is not ONNX.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path.name}: model file not found ({path})")
    size = path.stat().st_size
    sha = sha256_file(path, cancel)
    cancel.raise_if_cancelled()
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, onnx ValueError/OSError variants
        raise ModelError(f"{path.name}: not an ONNX model ({first_line(exc)})") from None
    cancel.raise_if_cancelled()
    facts = graph_facts(model, input_size, layout)
    notes = facts.notes
    if _uses_external_data(model):
        notes += ("weights are stored in external data files beside the model; bytes and "
                  "sha256 cover the .onnx file only",)
    return ModelFacts(**{**facts.__dict__, "bytes": size, "sha256": sha, "path": path,
                         "notes": notes})


def graph_facts(model: onnx.ModelProto, input_size: int | None = None,
                layout: str = "NCHW") -> ModelFacts:
    """Facts of an in-memory graph (no file size or hash). ``model`` is not modified."""
    graph = model.graph
    if not graph.node:
        raise ModelError("the model's graph has no nodes")
    initializer_names = {t.name for t in graph.initializer} | \
        {t.values.name for t in graph.sparse_initializer}
    inputs = tuple(_tensor_info(v) for v in graph.input if v.name not in initializer_names)
    outputs = tuple(_tensor_info(v) for v in graph.output)
    notes: list[str] = []
    params = count_params(graph)
    image = inputs[0] if inputs else None
    layout, size, batch = _image_geometry(image, input_size, layout, notes)
    macs, by_op = _count_macs(model, image, layout, size, notes)
    if macs is not None and batch > 1:
        macs //= batch
        by_op = {op: n // batch for op, n in by_op.items()}
    return ModelFacts(
        params=params,
        macs=macs,
        opset=_opset(model),
        inputs=inputs,
        outputs=outputs,
        input_size=size,
        layout=layout,
        ir_version=int(model.ir_version),
        producer=" ".join(p for p in (model.producer_name, model.producer_version) if p),
        macs_by_op=by_op,
        notes=tuple(notes),
    )


# --- parameters --------------------------------------------------------------------------


def count_params(graph: onnx.GraphProto) -> int:
    """Elements of the graph's constant weight tensors (rules in the module docstring)."""
    consumers = _consumers(graph)
    total = 0
    for name, data_type, elements in _constant_tensors(graph):
        if _is_weight(name, data_type, elements, consumers):
            total += elements
    for node in graph.node:
        for attr in node.attribute:
            for sub in _subgraphs(attr):
                total += count_params(sub)
    return total


def _constant_tensors(graph: onnx.GraphProto) -> Iterator[tuple[str, int, int]]:
    """(name, element type, element count) of every tensor whose value the graph holds."""
    constant_values: dict[str, np.ndarray] = {}
    for tensor in graph.initializer:
        yield tensor.name, tensor.data_type, math.prod(tensor.dims)
        if tensor.data_type in (TensorProto.INT64, TensorProto.INT32) and \
                math.prod(tensor.dims) <= 8:
            constant_values[tensor.name] = _array(tensor)
    for sparse in graph.sparse_initializer:
        yield sparse.values.name, sparse.values.data_type, math.prod(sparse.values.dims)
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            name = node.output[0]
            data_type, elements, value = _constant_attr(node)
            if data_type is not None:
                yield name, data_type, elements
            if value is not None:
                constant_values[name] = value
        elif node.op_type == "ConstantOfShape" and node.input and node.output:
            shape = constant_values.get(node.input[0])
            if shape is None or shape.ndim != 1 or (shape < 0).any():
                continue
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            data_type = value.data_type if value is not None else TensorProto.FLOAT
            yield node.output[0], data_type, math.prod(int(d) for d in shape)


def _constant_attr(node: onnx.NodeProto) -> tuple[int | None, int, np.ndarray | None]:
    """(element type, elements, small integer value for ConstantOfShape) of a Constant node."""
    for attr in node.attribute:
        if attr.name == "value":
            value = None
            if attr.t.data_type in (TensorProto.INT64, TensorProto.INT32) and \
                    math.prod(attr.t.dims) <= 8:
                value = _array(attr.t)
            return attr.t.data_type, math.prod(attr.t.dims), value
        if attr.name == "sparse_value":
            return attr.sparse_tensor.values.data_type, \
                math.prod(attr.sparse_tensor.values.dims), None
        if attr.name == "value_float":
            return TensorProto.FLOAT, 1, None
        if attr.name == "value_floats":
            return TensorProto.FLOAT, len(attr.floats), None
        if attr.name == "value_ints":
            return TensorProto.INT64, len(attr.ints), np.asarray(attr.ints, np.int64)
        if attr.name == "value_int":
            return TensorProto.INT64, 1, np.asarray(attr.i, np.int64)
    return None, 0, None


def _array(tensor: TensorProto) -> np.ndarray | None:
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # external or malformed data: the value is simply unknown
        return None


def _consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name:
                consumers.setdefault(name, []).append((node, index))
    return consumers


def _is_quant_op(node: onnx.NodeProto) -> bool:
    return node.op_type in _QUANT_OPS or node.op_type.startswith("QLinear")


def _input_name(node: onnx.NodeProto, index: int) -> str | None:
    """The schema's name for input ``index`` of ``node``, or None when onnx has no schema."""
    try:
        schema = onnx.defs.get_schema(node.op_type, domain=node.domain or "")
    except onnx.defs.SchemaError:
        return None
    formal = schema.inputs
    if not formal:
        return None
    return formal[min(index, len(formal) - 1)].name


def _is_quant_bookkeeping(node: onnx.NodeProto, index: int, elements: int) -> bool:
    """A scale or zero point of a quantisation op (not a weight)."""
    if not _is_quant_op(node):
        return False
    name = _input_name(node, index)
    if name is None:  # e.g. com.microsoft QLinearAdd: scales and zero points are scalars
        return elements <= 1
    lowered = name.lower()
    return "scale" in lowered or "zero_point" in lowered


def _is_weight(name: str, data_type: int, elements: int,
               consumers: dict[str, list[tuple[onnx.NodeProto, int]]]) -> bool:
    uses = consumers.get(name, [])
    if data_type == TensorProto.INT32:
        return any((node.op_type == "DequantizeLinear" and index == 0)
                   or node.op_type.startswith("QLinear") for node, index in uses)
    if data_type not in _FLOAT_TYPES and data_type not in _SMALL_INT_TYPES:
        return False
    return not uses or not all(_is_quant_bookkeeping(node, index, elements)
                               for node, index in uses)


# --- MACs --------------------------------------------------------------------------------


def _image_geometry(image: TensorInfo | None, input_size: int | None, layout: str,
                    notes: list[str]) -> tuple[str, int | None, int]:
    """(layout, spatial size, fixed batch) the MACs are counted at."""
    layout = layout.upper() if layout else "NCHW"
    if image is None or len(image.shape) != 4:
        return layout, input_size, 1
    shape = image.shape
    channel, spatial = (1, (2, 3)) if layout == "NCHW" else (3, (1, 2))
    other = 3 if layout == "NCHW" else 1
    if shape[channel] != 3 and shape[other] == 3:
        layout = "NHWC" if layout == "NCHW" else "NCHW"
        spatial = (1, 2) if layout == "NHWC" else (2, 3)
        notes.append(f"the input {image.shape_text} is {layout}; counted as {layout}")
    fixed = [shape[a] for a in spatial if isinstance(shape[a], int) and shape[a] > 0]
    if fixed:
        size = fixed[0]
        if input_size and input_size != size:
            notes.append(f"the model takes {size}x{size} images; counted at {size}")
    else:
        size = input_size or 224
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 1
    return layout, size, batch


def _count_macs(model: onnx.ModelProto, image: TensorInfo | None, layout: str,
                size: int | None, notes: list[str]) -> tuple[int | None, dict[str, int]]:
    skeleton = _skeleton(model)
    if image is not None and len(image.shape) == 4 and size:
        spatial = (2, 3) if layout == "NCHW" else (1, 2)
        value_info = next(v for v in skeleton.graph.input if v.name == image.name)
        dims = value_info.type.tensor_type.shape.dim
        for axis, dim in enumerate(dims):
            if axis == 0 and not (dim.HasField("dim_value") and dim.dim_value > 0):
                dim.dim_value = 1
            elif axis in spatial and not (dim.HasField("dim_value") and dim.dim_value > 0):
                dim.dim_value = size
    try:
        inferred = _infer_shapes(skeleton)
    except Exception as exc:  # onnx raises InferenceError and others
        notes.append(f"shape inference failed ({first_line(exc)}); MACs unknown")
        return None, {}
    shapes = _known_shapes(inferred.graph)
    total = 0
    by_op: dict[str, int] = {}
    unknown: list[str] = []
    for node in inferred.graph.node:
        try:
            macs = _node_macs(node, shapes)
        except _UnknownShape:
            unknown.append(node.name or f"{node.op_type} -> {node.output[0]}")
            continue
        if macs is None:
            continue
        total += macs
        by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
    if unknown:
        notes.append(f"MACs unknown: shapes of {len(unknown)} node(s) could not be inferred "
                     f"(first: {unknown[0]})")
        return None, by_op
    return total, by_op


class _UnknownShape(Exception):
    pass


def _shape(shapes: dict[str, tuple[Dim, ...]], name: str) -> tuple[int, ...]:
    shape = shapes.get(name)
    if shape is None or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _UnknownShape(name)
    return tuple(int(d) for d in shape)


# (weight input index, output-or-input driven) per convolution and matrix product op.
_CONV_WEIGHT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
_MATMUL_INPUTS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[Dim, ...]]) -> int | None:
    op = node.op_type
    if op in _CONV_WEIGHT:
        weight = _shape(shapes, node.input[_CONV_WEIGHT[op]])
        out = _shape(shapes, node.output[0])
        return math.prod(out) * math.prod(weight[1:])
    if op == "ConvTranspose":
        weight = _shape(shapes, node.input[1])
        inp = _shape(shapes, node.input[0])
        return math.prod(inp) * math.prod(weight[1:])
    if op == "Gemm":
        a = _shape(shapes, node.input[0])
        out = _shape(shapes, node.output[0])
        trans_a = next((attr.i for attr in node.attribute if attr.name == "transA"), 0)
        k = a[0] if trans_a else a[-1]
        return math.prod(out) * k
    if op in _MATMUL_INPUTS:
        a = _shape(shapes, node.input[_MATMUL_INPUTS[op][0]])
        out = _shape(shapes, node.output[0])
        return math.prod(out) * a[-1]
    return None


def _broadcast(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    if not all(isinstance(d, int) for d in (*a, *b)):
        return None
    a, b = (1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def _contrib_shape(node: onnx.NodeProto,
                   shapes: dict[str, tuple[Dim, ...]]) -> tuple[Dim, ...] | None:
    """Output shape of the ONNX Runtime (com.microsoft) quantised ops that onnx cannot infer.

    ONNX Runtime's QOperator quantisation (the zoo's ``resnet50-v1-12-int8``) puts QLinearAdd
    and QLinearGlobalAveragePool between the convolutions; without their shapes nothing after
    the first residual block could be counted.
    """
    first = shapes.get(node.input[0]) if node.input else None
    if first is None:
        return None
    if node.op_type in ("QLinearAdd", "QLinearMul"):
        other = shapes.get(node.input[3]) if len(node.input) > 3 else None
        return _broadcast(first, other) if other is not None else None
    if node.op_type == "QLinearGlobalAveragePool" and len(first) >= 3:
        channels_last = next((a.i for a in node.attribute if a.name == "channels_last"), 0)
        if channels_last:
            return (first[0], *([1] * (len(first) - 2)), first[-1])
        return (first[0], first[1], *([1] * (len(first) - 2)))
    if node.op_type in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax"):
        return first
    return None


def _infer_shapes(skeleton: onnx.ModelProto) -> onnx.ModelProto:
    """onnx shape inference, helped through ONNX Runtime's quantised contrib ops."""
    contrib = [n for n in skeleton.graph.node if n.domain == "com.microsoft" and n.output]
    for _ in range(len(contrib) + 1):
        inferred = shape_inference.infer_shapes(skeleton, check_type=False, strict_mode=False,
                                                data_prop=True)
        shapes = _known_shapes(inferred.graph)
        types = {v.name: v.type.tensor_type.elem_type
                 for v in (*inferred.graph.input, *inferred.graph.value_info)}
        added = []
        for node in contrib:
            if node.output[0] in shapes:
                continue
            shape = _contrib_shape(node, shapes)
            if shape is not None:
                elem_type = types.get(node.input[0]) or TensorProto.UINT8
                added.append(helper.make_tensor_value_info(node.output[0], elem_type, shape))
        if not added:
            return inferred
        skeleton = inferred
        skeleton.graph.value_info.extend(added)
    return inferred


def _known_shapes(graph: onnx.GraphProto) -> dict[str, tuple[Dim, ...]]:
    shapes: dict[str, tuple[Dim, ...]] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
            shapes[value.name] = _dims(value.type.tensor_type.shape.dim)
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(int(d) for d in tensor.dims)
    return shapes


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy for shape inference whose large float weights keep their dimensions only."""
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    skeleton.functions.extend(model.functions)
    source, graph = model.graph, skeleton.graph
    graph.name = source.name
    graph.input.extend(source.input)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    graph.sparse_initializer.extend(source.sparse_initializer)
    graph.initializer.extend(_stripped(t) for t in source.initializer)
    for node in source.node:
        if node.op_type == "Constant" and any(a.name == "value" and _strippable(a.t)
                                              for a in node.attribute):
            value = next(a.t for a in node.attribute if a.name == "value")
            graph.node.append(helper.make_node("Constant", [], list(node.output),
                                               name=node.name, value=_stripped(value)))
        else:
            graph.node.append(node)
    return skeleton


def _strippable(tensor: TensorProto) -> bool:
    return tensor.data_type in _FLOAT_TYPES and math.prod(tensor.dims) > _STRIP_ELEMENTS


def _stripped(tensor: TensorProto) -> TensorProto:
    if not _strippable(tensor):
        return tensor
    stub = TensorProto()
    stub.name = tensor.name
    stub.data_type = tensor.data_type
    stub.dims.extend(tensor.dims)
    return stub


def _opset(model: onnx.ModelProto) -> int | None:
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")),
                None)


def _dims(dims: Iterable[onnx.TensorShapeProto.Dimension]) -> tuple[Dim, ...]:
    out: list[Dim] = []
    for dim in dims:
        if dim.HasField("dim_value"):
            out.append(int(dim.dim_value))
        elif dim.HasField("dim_param"):
            out.append(dim.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _dtype_name(elem_type: int) -> str:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name
    except Exception:  # types numpy does not have (bfloat16, float8, strings)
        return TensorProto.DataType.Name(elem_type).lower()


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    tensor_type = value.type.tensor_type
    shape = _dims(tensor_type.shape.dim) if tensor_type.HasField("shape") else ()
    return TensorInfo(value.name, shape, _dtype_name(tensor_type.elem_type))


def _subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    if attr.type == onnx.AttributeProto.GRAPH:
        return [attr.g]
    if attr.type == onnx.AttributeProto.GRAPHS:
        return list(attr.graphs)
    return []


def _uses_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)

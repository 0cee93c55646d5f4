"""The model manifest: one schema for catalog entries and custom models' sidecar JSON.

A custom model ``foo.onnx`` may have ``foo.json`` beside it::

    {"name": "My flowers", "labels": "labels.txt", "input_size": 224, "resize": 256,
     "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
     "layout": "NCHW", "color": "RGB", "output": "logits"}

Every field is optional and defaults to the zoo ResNets' values; mean and std are in 0-255 pixel
units; ``labels`` is ``"imagenet"`` or a path relative to the manifest.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_desktop.core.foundation.errors import ManifestError
from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    is_regular_file,
    read_regular_bytes,
)
from resnet_desktop.core.models.labels import IMAGENET

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
LAYOUTS = ("NCHW", "NHWC")
COLORS = ("RGB", "BGR")
OUTPUTS = ("logits", "probabilities")
MAX_INPUT_SIZE = 4096
MAX_MANIFEST_BYTES = 1024**2


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input tensor (see ``core.preprocess``)."""

    input_size: int = 224
    resize: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    layout: str = "NCHW"
    color: str = "RGB"


def preprocessing_text(pre: Preprocessing) -> str:
    """``shorter side 256, centre 224×224 crop, RGB, (pixel − mean) / std, mean 123.7 116.3
    103.5, std 58.4 57.1 57.4, NCHW``: how an image becomes this model's input, in one line."""
    def triple(values: tuple[float, float, float]) -> str:
        return " ".join(f"{v:g}" if float(v).is_integer() else f"{v:.1f}" for v in values)

    return (f"shorter side {pre.resize}, centre {pre.input_size}×{pre.input_size} crop, "
            f"{pre.color}, (pixel − mean) / std with mean {triple(pre.mean)}, std "
            f"{triple(pre.std)}, {pre.layout}")


@dataclass(frozen=True)
class ModelManifest:
    """What the app must know about a model beyond its graph.

    ``labels`` is ``"imagenet"`` or an absolute path. ``input_size_given`` records whether the
    manifest named an input size, so a model with fixed spatial dimensions can supply its own.
    """

    name: str
    labels: str = IMAGENET
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    output: str = "logits"
    license: str | None = None
    input_size_given: bool = False

    def with_input_size(self, size: int) -> ModelManifest:
        pre = self.preprocessing
        resize = pre.resize if self.input_size_given else round(size * 256 / 224)
        return replace(
            self, preprocessing=replace(pre, input_size=size, resize=resize), input_size_given=True
        )

    def to_json(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The sidecar form; a labels path is written relative to ``base_dir`` when possible."""
        labels = self.labels
        if labels != IMAGENET and base_dir is not None:
            try:
                labels = Path(labels).resolve().relative_to(Path(base_dir).resolve()).as_posix()
            except ValueError:
                labels = str(labels)
        data: dict[str, Any] = {"name": self.name, "labels": labels}
        pre = asdict(self.preprocessing)
        pre["mean"], pre["std"] = list(pre["mean"]), list(pre["std"])
        data.update(pre)
        data["output"] = self.output
        if self.license:
            data["license"] = self.license
        return data


MANIFEST_KEYS = frozenset(
    {"id", "name", "labels", "input_size", "resize", "mean", "std", "layout", "color", "output",
     "license"}
)


def _positive_int(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ManifestError(f"{key}: must be a positive whole number, got {value!r}", key)
    if value > MAX_INPUT_SIZE:
        raise ManifestError(f"{key}: {value} is larger than {MAX_INPUT_SIZE}", key)
    return value


def _triple(data: dict[str, Any], key: str, default: tuple[float, float, float], *,
            positive: bool) -> tuple[float, float, float]:
    value = data.get(key, default)
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise ManifestError(f"{key}: must be three numbers [r, g, b], got {value!r}", key)
    if positive and not all(v > 0 for v in value):
        raise ManifestError(f"{key}: every value must be greater than 0, got {value!r}", key)
    return (float(value[0]), float(value[1]), float(value[2]))


def _choice(data: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
    value = data.get(key, options[0])
    if isinstance(value, str) and value.upper() in {o.upper() for o in options}:
        return next(o for o in options if o.upper() == value.upper())
    raise ManifestError(f"{key}: must be one of {', '.join(options)}, got {value!r}", key)


def parse_manifest(data: Any, base_dir: Path, default_name: str) -> ModelManifest:
    """Validate a manifest dict; ``base_dir`` resolves a relative labels path."""
    if not isinstance(data, dict):
        raise ManifestError("manifest: must be a JSON object")
    unknown = sorted(set(data) - MANIFEST_KEYS - {"family", "depth", "opset", "bytes", "sha256",
                                                 "top1", "top5", "urls", "file"})
    if unknown:
        raise ManifestError(f"{unknown[0]}: unknown manifest field", unknown[0])
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ManifestError(f"name: must be a non-empty string, got {name!r}", "name")
    labels = data.get("labels", IMAGENET)
    if not isinstance(labels, str) or not labels.strip():
        raise ManifestError(f"labels: must be \"imagenet\" or a file path, got {labels!r}",
                            "labels")
    if labels != IMAGENET:
        labels_path = (Path(base_dir) / labels).resolve()
        if not labels_path.exists():
            raise ManifestError(f"labels: file not found: {labels_path}", "labels")
        if not is_regular_file(labels_path):
            raise ManifestError(f"labels: {labels_path} is not a regular file", "labels")
        labels = str(labels_path)
    input_size = _positive_int(data, "input_size", 224)
    resize_default = 256 if "input_size" not in data else round(input_size * 256 / 224)
    resize = _positive_int(data, "resize", resize_default)
    if resize < input_size:
        raise ManifestError(
            f"resize: {resize} is smaller than input_size {input_size} (the centre crop)", "resize"
        )
    pre = Preprocessing(
        input_size=input_size,
        resize=resize,
        mean=_triple(data, "mean", IMAGENET_MEAN, positive=False),
        std=_triple(data, "std", IMAGENET_STD, positive=True),
        layout=_choice(data, "layout", LAYOUTS),
        color=_choice(data, "color", COLORS),
    )
    license_ = data.get("license")
    if license_ is not None and not isinstance(license_, str):
        raise ManifestError(f"license: must be a string, got {license_!r}", "license")
    return ModelManifest(
        name=name.strip(),
        labels=labels,
        preprocessing=pre,
        output=_choice(data, "output", OUTPUTS),
        license=license_,
        input_size_given="input_size" in data,
    )


def sidecar_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def load_manifest_for(model_path: Path) -> ModelManifest:
    """The sidecar manifest of a custom model, or the defaults when there is none.

    A sidecar that is there but not a regular file (a FIFO would block the read) is an error,
    not a reason to fall back to the defaults silently.
    """
    model_path = Path(model_path)
    sidecar = sidecar_path(model_path)
    if not os.path.lexists(sidecar):
        return ModelManifest(name=model_path.stem)
    try:
        raw = read_regular_bytes(sidecar, max_bytes=MAX_MANIFEST_BYTES)
        data = json.loads(raw.decode("utf-8-sig"))
    except NotRegularFileError as exc:
        raise ManifestError(f"{sidecar.name} is {exc.kind}, not a regular file") from None
    except FileTooLargeError as exc:
        raise ManifestError(f"{sidecar.name}: too large ({exc.size:,} bytes)") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{sidecar.name}: not valid JSON (line {exc.lineno}: {exc.msg})") \
            from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{sidecar.name}: cannot be read ({exc})") from None
    try:
        return parse_manifest(data, sidecar.parent, model_path.stem)
    except ManifestError as exc:
        raise ManifestError(f"{sidecar.name}: {exc}", exc.field) from None


def write_manifest(model_path: Path, manifest: ModelManifest) -> Path:
    """Write the sidecar beside ``model_path`` atomically and return its path."""
    from resnet_desktop.core.foundation.atomic import atomic_write_text

    sidecar = sidecar_path(model_path)
    atomic_write_text(sidecar, json.dumps(manifest.to_json(sidecar.parent), indent=2) + "\n")
    return sidecar

"""ONNX Runtime sessions for image classifiers: provider choice, model checks, softmax, top-k."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from resnet_desktop.core.foundation.errors import ModelError, first_line
from resnet_desktop.core.foundation.telemetry import disable_onnxruntime_events
from resnet_desktop.core.inference.cam import (
    ActivationMaps,
    CamHead,
    find_cam_head,
    with_feature_output,
)
from resnet_desktop.core.inference.gpu import (
    DIRECTML_BATCH,
    RECORD_ASSIGNMENT,
    batch_dimension,
    cuda_driver_hint,
    gpu_device,
    nodes_per_provider,
    partly_on,
    preload_libraries,
    provider_entry,
    run_lock,
    warm_up,
)
from resnet_desktop.core.inference.providers import (
    ORT_NAMES,
    SHORT_NAMES,
    ProviderStatus,
    candidates,
)
from resnet_desktop.core.models.input_budget import input_budget_problem
from resnet_desktop.core.models.labels import Label, load_labels
from resnet_desktop.core.models.manifest import ModelManifest

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
_ort_lock = threading.Lock()
_ort_ready = False


def onnxruntime() -> ModuleType:
    """ONNX Runtime, imported at the first session rather than at start-up (about 0.15 s the
    window's first paint does not need), with its ETW events off (core.foundation.telemetry)."""
    global _ort_ready
    import onnxruntime as ort

    with _ort_lock:
        if not _ort_ready:
            disable_onnxruntime_events(ort)
            _ort_ready = True
    return ort


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float
    wnid: str | None = None

    def to_json(self) -> dict[str, object]:
        """The form every JSON output uses (``classify --json``, the JSON export)."""
        data: dict[str, object] = {"label": self.label,
                                   "probability": round(self.probability, 6),
                                   "index": self.index}
        if self.wnid:
            data["wnid"] = self.wnid
        return data


@dataclass(frozen=True)
class ModelIO:
    """Names and shapes read from the model itself, never assumed."""

    input_name: str
    input_shape: tuple[int | str | None, ...]
    input_dtype: type
    output_name: str
    output_shape: tuple[int | str | None, ...]
    batch: int | None
    """The fixed batch size, or None when the batch dimension is dynamic."""
    num_classes: int
    input_size: int


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


MAX_LANES = 8
"""At most this many images in flight at once on a CPU throughput session (memory: each run
holds its own activations)."""


def throughput_layout(cores: int | None = None) -> tuple[int, int]:
    """(lanes, threads per lane) of a CPU session built for a folder batch.

    A lane is one thread that decodes an image and then runs the model on it with its own
    ``session.run``; several lanes run at once on one session. One intra-op thread per lane
    wastes nothing on synchronisation: on 2 cores with ResNet-50 one single-threaded run costs
    about 84 ms of CPU against 87 ms for ONNX Runtime's default two threads (95 ms without
    spinning), and a lane's decoding never competes with its own inference. Past
    :data:`MAX_LANES` cores, each lane gets several threads instead of more lanes.
    """
    cores = max(1, cores or os.cpu_count() or 1)
    lanes = min(cores, MAX_LANES)
    return lanes, max(1, cores // lanes)


def _session_options(provider: str, throughput: bool = False, cores: int | None = None,
                     batch_dim: str | None = None) -> ort.SessionOptions:
    """Options for a session on ``provider``; ``batch_dim`` names the model's symbolic batch
    dimension (see :func:`~resnet_desktop.core.inference.gpu.batch_dimension`)."""
    ort = onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if provider == "directml":
        # DirectML documents that it supports neither memory patterns nor parallel execution.
        options.enable_mem_pattern = False
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if batch_dim:  # DirectML is fastest with shapes known at creation (core.inference.gpu)
            options.add_free_dimension_override_by_name(batch_dim, DIRECTML_BATCH)
    if provider != "cpu":
        options.add_session_config_entry(RECORD_ASSIGNMENT, "1")  # see nodes_per_provider
    if throughput:
        if provider == "cpu":
            options.intra_op_num_threads = throughput_layout(cores)[1]
            options.inter_op_num_threads = 1
        # Idle intra-op threads block instead of busy-waiting, leaving the CPU to the threads
        # that decode. Interactive sessions keep spinning: a lone run is about 15% faster.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def create_session(model_path: Path, policy: str, *, throughput: bool = False,
                   model_bytes: bytes | None = None, cores: int | None = None,
                   ) -> tuple[ort.InferenceSession, ProviderStatus]:
    """Open ``model_path`` on the first provider of ``policy`` that starts, falling back to CPU.

    The provider that runs is read back from the session: ONNX Runtime can silently drop a GPU
    provider whose libraries are missing, and the UI must show that. ``throughput=True`` builds
    a session for folder batches (see :func:`throughput_layout`); the default suits one image
    at a time. ``model_bytes``, when given, is the graph to run (a modified copy of the file's).
    ``cores``: the cores a throughput session may use (None: all of this machine's; a Ray
    worker passes the CPUs it was given).
    """
    ort = onnxruntime()
    available = set(ort.get_available_providers())
    reasons: list[str] = []
    tried_cuda = False
    for short in candidates(policy):
        name = ORT_NAMES[short]
        if name not in available:
            if short != "cpu" and policy != "auto":
                reasons.append(
                    f"{name} is not in this ONNX Runtime build ({ort.__version__}, providers: "
                    f"{', '.join(sorted(available))})"
                )
            continue
        if short == "cuda":
            tried_cuda = True
            if problem := preload_libraries(ort):
                reasons.append(problem)
        providers = [name] if short == "cpu" else \
            [provider_entry(name, short, gpu_device()), ORT_NAMES["cpu"]]
        batch_dim = batch_dimension(model_bytes or str(model_path)) if short == "directml" \
            else None
        try:
            session = ort.InferenceSession(model_bytes or str(model_path),
                                           sess_options=_session_options(short, throughput,
                                                                         cores, batch_dim),
                                           providers=providers)
        except Exception as exc:  # ORT raises many types; each is a reason
            if short == "cpu":
                raise ModelError(f"{Path(model_path).name}: not a usable ONNX model "
                                 f"({first_line(exc)})") from None
            reasons.append(f"{name} failed to start: {first_line(exc)}")
            log.warning("provider %s failed: %s", name, exc)
            continue
        active = SHORT_NAMES.get(session.get_providers()[0], session.get_providers()[0])
        if active != short:
            reasons.append(f"{name} did not start (ONNX Runtime fell back to "
                           f"{session.get_providers()[0]})")
            continue  # the next candidate, at last a CPU session of its own
        if short != "cpu":
            try:
                # cuDNN's algorithm search and (on Windows) its libraries load at the first
                # run: a broken install fails here, and the next candidate is tried.
                warm_up(session)
            except Exception as exc:  # ORT raises many types; each is a reason
                reasons.append(f"{name} failed its first run: {first_line(exc)}")
                log.warning("provider %s failed its first run: %s", name, exc)
                continue
        if active == "cpu" and tried_cuda and (
                hint := cuda_driver_hint(getattr(ort, "cuda_version", ""))):
            reasons.append(hint)  # a driver older than the build's CUDA stops the provider
        reason = "; ".join(reasons) if reasons and active == "cpu" else None
        if reason:
            log.warning("running on CPU: %s", reason)
        nodes = partly_on(name, nodes_per_provider(session)) if short != "cpu" else None
        return session, ProviderStatus(policy, active, reason, nodes)
    raise ModelError("no ONNX Runtime execution provider could be started")


def inspect_io(session: ort.InferenceSession, manifest: ModelManifest, name: str) -> ModelIO:
    """Check the graph is an image classifier compatible with its manifest; say what is wrong."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"{name}: has {len(inputs)} inputs ({names}); an image classifier "
                         "takes exactly one image tensor")
    inp = inputs[0]
    if inp.type not in _FLOAT_TYPES:
        raise ModelError(f"{name}: input {inp.name!r} is {inp.type}; expected a float tensor")
    shape = tuple(inp.shape)
    if len(shape) != 4:
        raise ModelError(f"{name}: input {inp.name!r} has shape {_shape_text(shape)}; an image "
                         "classifier takes a 4-D [batch, channels, height, width] tensor")
    layout = manifest.preprocessing.layout
    channel_axis, spatial_axes = (1, (2, 3)) if layout == "NCHW" else (3, (1, 2))
    channels = _dim(shape[channel_axis])
    if channels is not None and channels != 3:
        other = _dim(shape[3 if layout == "NCHW" else 1])
        hint = (f"; it looks like {'NHWC' if layout == 'NCHW' else 'NCHW'}: set \"layout\" in "
                "its manifest") if other == 3 else ""
        raise ModelError(f"{name}: input {_shape_text(shape)} has {channels} channels in the "
                         f"{layout} channel position; expected 3 (RGB){hint}")
    height, width = (_dim(shape[a]) for a in spatial_axes)
    input_size = manifest.preprocessing.input_size
    if height is not None or width is not None:
        if height != width:
            raise ModelError(f"{name}: input {_shape_text(shape)} is not square; only square "
                             "inputs are supported")
        if height != input_size:
            if manifest.input_size_given:
                raise ModelError(f"{name}: the model takes {height}x{width} images but its "
                                 f"manifest says input_size {input_size}")
            input_size = height
    itemsize = np.dtype(_FLOAT_TYPES[inp.type]).itemsize
    if problem := input_budget_problem(shape, itemsize, input_size, layout):
        raise ModelError(f"{name}: {problem}")
    outputs = session.get_outputs()
    out = outputs[0]
    out_shape = tuple(out.shape)
    if len(out_shape) < 2 or any(_dim(d) != 1 for d in out_shape[2:]):
        raise ModelError(f"{name}: output {out.name!r} has shape {_shape_text(out_shape)}; an "
                         "image classifier outputs [batch, classes]")
    num_classes = _dim(out_shape[1])
    io = ModelIO(inp.name, shape, _FLOAT_TYPES[inp.type], out.name, out_shape,
                 _dim(shape[0]), num_classes or 0, input_size)
    if num_classes is None:
        io = _probe_classes(session, io, manifest, name)
    return io


def _probe_classes(session: ort.InferenceSession, io: ModelIO, manifest: ModelManifest,
                   name: str) -> ModelIO:
    """A symbolic class dimension: run one blank image to learn the class count."""
    size = io.input_size
    shape = (io.batch or 1, 3, size, size) if manifest.preprocessing.layout == "NCHW" else \
        (io.batch or 1, size, size, 3)
    try:
        result = session.run([io.output_name], {io.input_name: np.zeros(shape, io.input_dtype)})[0]
    except Exception as exc:
        raise ModelError(f"{name}: a test run failed ({first_line(exc)})") from None
    result = result.reshape(result.shape[0], -1) if result.ndim >= 2 else result
    if result.ndim != 2:
        raise ModelError(f"{name}: output has shape {list(result.shape)}, not [batch, classes]")
    return ModelIO(io.input_name, io.input_shape, io.input_dtype, io.output_name,
                   io.output_shape, io.batch, int(result.shape[1]), io.input_size)


class Classifier:
    """A loaded model ready to classify preprocessed tensors.

    One ONNX Runtime session. On the CPU, ``run`` may be called from several threads at once
    (a throughput session has :attr:`lanes` for that); on other providers it is serialised by
    a lock, because DirectML forbids concurrent runs on one session.
    """

    def __init__(self, model_path: Path, manifest: ModelManifest, provider: str = "auto",
                 model_id: str | None = None, *, throughput: bool = False,
                 cores: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.model_id = model_id or self.model_path.stem
        name = self.model_path.name
        if not self.model_path.is_file():
            raise ModelError(f"{name}: model file not found ({self.model_path})")
        self.session, self.provider = create_session(self.model_path, provider,
                                                     throughput=throughput, cores=cores)
        self.io = inspect_io(self.session, manifest, name)
        if self.io.input_size != manifest.preprocessing.input_size:
            manifest = manifest.with_input_size(self.io.input_size)
        self.manifest = manifest
        self.labels: tuple[Label, ...] = load_labels(manifest.labels)
        if len(self.labels) != self.io.num_classes:
            raise ModelError(f"{name}: its labels list has {len(self.labels)} entries but the "
                             f"model outputs {self.io.num_classes} classes")
        on_cpu = self.provider.active == "cpu"
        self.lanes = throughput_layout(cores)[0] if throughput and on_cpu else 1
        """How many threads should call :meth:`run` at once for the best throughput."""
        self._lock: contextlib.AbstractContextManager = run_lock(self.provider.active)
        self._throughput = throughput
        self._cores = cores
        self._cam_lock = threading.Lock()
        self._cam_head: CamHead | None = None
        self._cam_checked = False

    @property
    def preprocessing(self):
        return self.manifest.preprocessing

    def cam_available(self) -> bool:
        """True when the model yields class activation maps (see :mod:`.cam`).

        The first call reads the graph and, when it has the head, replaces the session with one
        that also outputs the feature maps (same probabilities; a plain :meth:`run` does not
        fetch them); later calls are free.
        """
        with self._cam_lock:
            if not self._cam_checked:
                self._cam_head = self._open_cam_session()
                self._cam_checked = True
            return self._cam_head is not None

    def _open_cam_session(self) -> CamHead | None:
        try:
            import onnx

            model = onnx.load(str(self.model_path))
        except Exception as exc:  # the session opened it, so this is rare (e.g. > 2 GB)
            log.warning("%s: the graph cannot be read for activation maps: %s",
                        self.model_path.name, exc)
            return None
        head = find_cam_head(model)
        if head is None or head.weights.shape[0] != self.io.num_classes:
            log.info("%s: no pooling + fully connected head; no activation maps",
                     self.model_path.name)
            return None
        self.session, self.provider = create_session(
            self.model_path, self.provider.requested, throughput=self._throughput,
            cores=self._cores, model_bytes=with_feature_output(model, head))
        return head

    def run_with_cam(self, batch: np.ndarray) -> tuple[np.ndarray, list[ActivationMaps] | None]:
        """:meth:`run`, plus each image's activation maps from the same run.

        The maps are None when the model has none (:meth:`cam_available` is False).
        """
        if not self.cam_available():
            return self.run(batch), None
        head = self._cam_head
        assert head is not None
        probabilities, features = self._run(batch, head.features)
        if head.pool_kernel is not None and features.shape[2:] != head.pool_kernel:
            log.info("%s: the average pooling is not global; no activation maps",
                     self.model_path.name)
            return probabilities, None
        features = features.astype(np.float32, copy=False)
        return probabilities, [ActivationMaps(f, head.weights) for f in features]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for a preprocessed batch (N, ...), whatever N is.

        A model with a fixed batch size gets the batch in chunks of that size (the last one
        padded), so callers never need to know.
        """
        return self._run(batch)[0]

    def _run(self, batch: np.ndarray,
             features: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and, when ``features`` names an output, that output per image."""
        if batch.ndim != 4:
            raise ValueError(f"expected a 4-D batch, got shape {batch.shape}")
        batch = np.ascontiguousarray(batch, dtype=self.io.input_dtype)
        n = batch.shape[0]
        step = self.io.batch or n
        names = [self.io.output_name, *([features] if features else [])]
        parts, extra = [], []
        for start in range(0, n, step):
            chunk = batch[start:start + step]
            real = chunk.shape[0]
            if real < step:
                pad = np.zeros((step - real, *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            with self._lock:
                out, *more = self.session.run(names, {self.io.input_name: chunk})
            if self.provider.active != "cpu":
                self._check_run_time_fallback()
            parts.append(out.reshape(out.shape[0], -1)[:real])
            extra.extend(m[:real] for m in more)
        scores = np.concatenate(parts).astype(np.float32, copy=False)
        maps = np.concatenate(extra) if extra else None
        if self.manifest.output == "logits":
            return softmax(scores), maps
        return scores, maps

    def _check_run_time_fallback(self) -> None:
        """After a GPU provider fails at run time, ONNX Runtime's Python wrapper moves the
        session to the CPU with only a print: say so where the provider is shown."""
        if self.session.get_providers()[0] != ORT_NAMES["cpu"]:
            return
        was = self.provider
        reason = (f"{ORT_NAMES.get(was.active, was.active)} failed during a run and ONNX "
                  "Runtime moved the session to the CPU")
        log.warning("%s: %s", self.model_id, reason)
        self.provider = ProviderStatus(was.requested, "cpu", reason)

    def top_k(self, probabilities: np.ndarray, k: int = 5) -> list[Prediction]:
        """The ``k`` most probable classes of one image's probability vector."""
        k = max(1, min(k, probabilities.shape[-1]))
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            Prediction(int(i), self.labels[i].name, float(probabilities[i]), self.labels[i].wnid)
            for i in order
        ]

    def timed_run(self, batch: np.ndarray) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        probabilities = self.run(batch)
        return probabilities, (time.perf_counter() - start) * 1000.0

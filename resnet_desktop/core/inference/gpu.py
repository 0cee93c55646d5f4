"""What GPU execution providers need beyond their name, from ONNX Runtime's documentation.

No GPU was at hand when this was written: each rule below cites what the documentation
says, and the tests cover what runs on a CPU (node counting, warm-up, the shared lock).

- **CUDA**: ``cudnn_conv_algo_search`` defaults to EXHAUSTIVE, which benchmarks every
  convolution algorithm at the first run and again for every new input shape (the last,
  smaller chunk of a batch is one); HEURISTIC picks from cuDNN's heuristics at once.
  ``onnxruntime.preload_dlls()`` (onnxruntime-gpu 1.21+) loads the CUDA and cuDNN libraries
  of NVIDIA's wheels (the ``cuda`` extra's ``onnxruntime-gpu[cuda,cudnn]``), so a machine
  with only a driver runs CUDA. That driver must be recent enough for the CUDA major version
  onnxruntime-gpu was built with; when CUDA does not start, :func:`cuda_driver_hint` says which.
- **DirectML**: one device, and concurrent runs on it (two sessions, or two threads on one)
  stall or end in ``DXGI_ERROR_DEVICE_REMOVED`` in onnxruntime-directml's open reports: every
  run on DirectML takes :func:`run_lock`'s one lock. ``performance_preference`` picks the
  high-performance adapter instead of adapter 0 (often a laptop's integrated GPU). DirectML
  "works most efficiently when tensor shapes are known at the time a session is created"
  (its performance notes): a symbolic batch dimension is fixed at :data:`DIRECTML_BATCH` with
  ``add_free_dimension_override_by_name`` (:func:`batch_dimension` finds its name).
- **CoreML**: ``ModelFormat=MLProgram``, the newer format with more operators on the GPU
  and Neural Engine.
- **Every GPU provider**: a first run at creation (:func:`warm_up`): cuDNN's sub-libraries
  load at the first run on Windows, so a broken install fails there instead of after the
  session opened "on CUDA"; a failure means the next provider (at last the CPU) is tried.
  Nodes the provider did not take run on the CPU: :func:`nodes_per_provider` counts them
  (``session.record_ep_graph_assignment_info``, ONNX Runtime 1.24+; older versions give no
  count and nothing is claimed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from resnet_desktop.core.foundation.errors import ModelError

log = logging.getLogger(__name__)

RECORD_ASSIGNMENT = "session.record_ep_graph_assignment_info"
"""Session config key that makes ONNX Runtime keep which provider got which node."""

PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    "cuda": {"cudnn_conv_algo_search": "HEURISTIC"},
    "directml": {"performance_preference": "high_performance"},
    "coreml": {"ModelFormat": "MLProgram"},
}

DIRECTML_BATCH = 1
"""The batch a DirectML session is built for. One session serves the camera and single images
as well as batches (:class:`~resnet_desktop.core.inference.session_cache.ClassifierCache`), and
a larger fixed batch would make every single image cost that many; a batch then runs one
image at a time (the classifier splits it). Not measured here: no DirectML device was at hand."""

CUDA_DRIVERS: dict[int, tuple[str, str]] = {12: ("525.60.13", "527.41"), 13: ("580", "580")}
"""The oldest NVIDIA driver (Linux, Windows) that runs a build of each CUDA major version:
NVIDIA's minor version compatibility table, in the CUDA Toolkit release notes and at
https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html."""

WARM_UP_SIZE = 224
"""Height and width of the warm-up tensor when the model leaves them open."""

_DEVICE_LOCKS = {"directml": threading.Lock()}


GPU_DEVICE_VARIABLE = "RESNET_DESKTOP_GPU"
"""Which GPU to use, by index (DirectML's adapter order, CUDA's device order): on a laptop
DirectML's adapter 0 is often the integrated GPU, and ONNX Runtime cannot list adapters, so the
choice is the user's. Unset: DirectML asks for the high-performance adapter, CUDA takes 0."""


def gpu_device(environ: Mapping[str, str] = os.environ) -> int | None:
    """The GPU index the user chose with ``RESNET_DESKTOP_GPU`` (None: the default one)."""
    value = environ.get(GPU_DEVICE_VARIABLE, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ModelError(f"{GPU_DEVICE_VARIABLE}={value!r}: give a GPU's index, 0, 1, ...")
    return int(value)


def provider_entry(ort_name: str, short: str,
                   device: int | None = None) -> str | tuple[str, dict[str, str]]:
    """The ``providers=`` entry for ``short``: the name, with its options when it has any.
    ``device`` picks a GPU by index (DirectML then uses that adapter, not the preference)."""
    options = dict(PROVIDER_OPTIONS.get(short, {}))
    if device is not None and short in ("cuda", "directml"):
        options.pop("performance_preference", None)
        options["device_id"] = str(device)
    return (ort_name, options) if options else ort_name


def batch_dimension(model: str | bytes) -> str | None:
    """The name of the model's symbolic batch dimension (its input's first), None when that
    dimension is fixed or the graph cannot be read here (opening the session then says why).

    ``model``: the file's path or the graph's bytes. Initializers are skipped as inputs (older
    models list them there); the external weights are not read.
    """
    import onnx

    try:
        graph = (onnx.load_from_string(model) if isinstance(model, bytes)
                 else onnx.load(model, load_external_data=False)).graph
    except Exception as exc:  # onnx raises many types; the session reports a broken model
        log.info("batch dimension not read: %s", exc)
        return None
    weights = {init.name for init in graph.initializer}
    inputs = [inp for inp in graph.input if inp.name not in weights]
    if not inputs or not inputs[0].type.tensor_type.shape.dim:
        return None
    first = inputs[0].type.tensor_type.shape.dim[0]
    return first.dim_param if first.HasField("dim_param") and first.dim_param else None


def preload_libraries(ort: ModuleType) -> str | None:
    """Load NVIDIA's CUDA and cuDNN libraries from their wheels before a CUDA session; the
    reason when that fails (None when it worked or this ONNX Runtime cannot do it)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return None
    try:
        preload()
    except Exception as exc:  # a missing or broken NVIDIA wheel: CUDA may still find a toolkit
        log.warning("onnxruntime.preload_dlls failed: %s", exc)
        return f"the CUDA libraries could not be loaded ({exc})"
    return None


def cuda_driver_hint(cuda_version: str, platform: str = sys.platform) -> str | None:
    """The driver the CUDA provider needs, said when it did not start; ``cuda_version`` is the
    CUDA that onnxruntime-gpu was built with (``onnxruntime.cuda_version``, e.g. "12.8"; empty
    in builds without CUDA). None when the version is unknown or not in :data:`CUDA_DRIVERS`."""
    major = cuda_version.split(".")[0]
    drivers = CUDA_DRIVERS.get(int(major)) if major.isdigit() else None
    if drivers is None:
        return None
    driver = drivers[platform == "win32"]
    return (f"this onnxruntime-gpu is built for CUDA {major}, which needs NVIDIA driver "
            f"{driver} or newer (nvidia-smi shows the installed one)")


def run_lock(active: str) -> contextlib.AbstractContextManager:
    """What every ``session.run`` on provider ``active`` holds: the device's one lock on
    DirectML, a lock of the session's own on other GPUs, none on the CPU (whose sessions
    take concurrent runs)."""
    if active == "cpu":
        return contextlib.nullcontext()
    return _DEVICE_LOCKS.get(active) or threading.Lock()


def warm_up(session: Any, batch: int = 1) -> None:
    """One run on zeros at ``batch`` images; open dimensions other than the batch become
    :data:`WARM_UP_SIZE`. Raises what the run raises."""
    inp = session.get_inputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    shape = [d if isinstance(d, int) and d > 0 else (batch if i == 0 else WARM_UP_SIZE)
             for i, d in enumerate(inp.shape)]
    session.run(None, {inp.name: np.zeros(shape, dtype)})


def nodes_per_provider(session: Any) -> dict[str, int] | None:
    """Nodes per provider (ONNX Runtime's names), when the session recorded them."""
    info = getattr(session, "get_provider_graph_assignment_info", None)
    if info is None:
        return None
    try:
        subgraphs = info()
    except Exception as exc:  # not recorded (the config key was not set)
        log.info("no graph assignment info: %s", exc)
        return None
    counts: dict[str, int] = {}
    for subgraph in subgraphs:
        counts[subgraph.ep_name] = counts.get(subgraph.ep_name, 0) + len(subgraph.get_nodes())
    return counts or None


def partly_on(ort_name: str, counts: dict[str, int] | None) -> tuple[int, int] | None:
    """``(nodes on ort_name, all nodes)`` when some nodes run elsewhere, else None."""
    if not counts:
        return None
    total = sum(counts.values())
    mine = counts.get(ort_name, 0)
    return (mine, total) if mine < total else None

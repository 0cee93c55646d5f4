"""ONNX Runtime's own telemetry: off unless the user opts in.

The app sends nothing anywhere except model downloads. ONNX Runtime does: its Linux and macOS
builds (1.32) write a persistent device id under ``~/.cache/Microsoft/DeveloperTools/
.onnxruntime/`` at ``import onnxruntime`` and queue an event describing the process (its path,
the OS, the CPU) for upload; on Windows it logs events to an ETW provider. ``ORT_DISABLE_TELEMETRY``
switches the first off, but only if it is set before ONNX Runtime is first imported, so
:func:`opt_out_by_default` runs in the package's ``__init__`` (and the frozen app's runtime hook
does the same); :func:`disable_onnxruntime_events` switches the ETW events off after import.

ONNX Runtime reads ``1``, ``true`` and ``yes`` (any case) as "off" and anything else as "on", so a
user who wants to help its developers sets ``ORT_DISABLE_TELEMETRY=0``.
"""

from __future__ import annotations

import os
from types import ModuleType

ENV = "ORT_DISABLE_TELEMETRY"
_OFF = frozenset({"1", "true", "yes"})


def opt_out_by_default() -> None:
    """Set ``ORT_DISABLE_TELEMETRY=1`` unless the user has given it a value of their own."""
    if not os.environ.get(ENV, "").strip():
        os.environ[ENV] = "1"


def telemetry_opted_in() -> bool:
    """True when the user set ``ORT_DISABLE_TELEMETRY`` to something ONNX Runtime reads as on."""
    return os.environ.get(ENV, "").strip().lower() not in _OFF


def disable_onnxruntime_events(ort: ModuleType) -> None:
    """Switch off ONNX Runtime's platform telemetry events (Windows' ETW) unless opted in."""
    if not telemetry_opted_in():
        ort.disable_telemetry_events()

"""Which ONNX Runtime execution provider to use, and what to say when a GPU cannot start."""

from __future__ import annotations

import sys
from dataclasses import dataclass

POLICIES = ("auto", "cpu", "cuda", "directml")

ORT_NAMES = {
    "directml": "DmlExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
SHORT_NAMES = {ort: short for short, ort in ORT_NAMES.items()}
DISPLAY_NAMES = {"directml": "DirectML (GPU)", "cuda": "CUDA (GPU)", "coreml": "CoreML",
                 "cpu": "CPU"}


@dataclass(frozen=True)
class ProviderStatus:
    """What was asked for, what actually runs (read back from the session), and why not the GPU."""

    requested: str
    active: str
    fallback_reason: str | None = None

    @property
    def display(self) -> str:
        return DISPLAY_NAMES.get(self.active, self.active)


def candidates(policy: str, platform: str = sys.platform) -> list[str]:
    """Short provider names to try in order, always ending with the CPU."""
    if policy not in POLICIES:
        raise ValueError(f"provider must be one of {', '.join(POLICIES)}, not {policy!r}")
    if policy == "auto":
        order = []
        if platform == "win32":
            order.append("directml")
        order.append("cuda")
        if platform == "darwin":
            order.append("coreml")
        return [*order, "cpu"]
    if policy == "cpu":
        return ["cpu"]
    return [policy, "cpu"]

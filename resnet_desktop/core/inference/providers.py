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
    nodes: tuple[int, int] | None = None
    """``(nodes on the active provider, all nodes)`` when the rest run on the CPU (a GPU
    provider without kernels for some operators, e.g. an int8 model's QLinearConv on CUDA)."""

    @property
    def display(self) -> str:
        name = DISPLAY_NAMES.get(self.active, self.active)
        if self.nodes is not None:
            return f"{name}, partly: {self.nodes[0]} of {self.nodes[1]} nodes"
        return name


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

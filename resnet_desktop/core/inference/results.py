"""What a classification returns to the CLI, the GUI and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from resnet_desktop.core.inference.classifier import Prediction


@dataclass(frozen=True)
class Classification:
    """The top-k of one image, or the error that stopped it."""

    path: Path | None
    model: str
    provider: str = ""
    ms: float = 0.0
    top: tuple[Prediction, ...] = field(default_factory=tuple)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        if self.error is not None:
            return {"path": str(self.path) if self.path else None, "error": self.error}
        return {
            "path": str(self.path) if self.path else None,
            "model": self.model,
            "provider": self.provider,
            "ms": round(self.ms, 2),
            "top": [p.to_json() for p in self.top],
        }

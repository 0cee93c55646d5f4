"""What a classification returns to the CLI, the GUI and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_desktop.core.imaging.crop_box import CropBox
from resnet_desktop.core.imaging.heatmap import peak
from resnet_desktop.core.inference.cam import ActivationMaps
from resnet_desktop.core.inference.classifier import Prediction

CategoryMasses = tuple[tuple[str, float], ...]
"""(curated category, summed probability) of the categories clearly ahead of their rivals,
computed from an image's whole probability vector by
:func:`~resnet_desktop.core.keywords.rollup.category_masses` (a top-k alone would only give a
lower bound)."""


@dataclass(frozen=True, eq=False)
class CamResult:
    """Where the model looked: one image's activation maps and the crop of the photo they cover."""

    maps: ActivationMaps
    crop: CropBox

    def for_class(self, index: int) -> np.ndarray:
        """The (h, w) class activation map of class ``index``."""
        return self.maps.for_class(index)

    def peak(self, index: int, width: int, height: int) -> tuple[int, int]:
        """Pixel (x, y) of class ``index``'s strongest evidence on a ``width`` x ``height`` copy
        of the photo (EXIF orientation applied)."""
        return peak(self.for_class(index), self.crop, width, height)


@dataclass(frozen=True)
class Classification:
    """The top-k of one image, or the error that stopped it."""

    path: Path | None
    model: str
    provider: str = ""
    ms: float = 0.0
    top: tuple[Prediction, ...] = field(default_factory=tuple)
    error: str | None = None
    cam: CamResult | None = None
    """Filled when asked for (``with_cam``) and the model has activation maps."""
    categories: CategoryMasses | None = None
    """From the whole probability vector; ``()`` for a model without WordNet ids, None where
    nothing computed them (an error)."""

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

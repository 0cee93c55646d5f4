"""Where the model looked, for one classified file: the peak in the photo's own pixels and a PNG
of the photo with the class activation map over it (``classify --cam``)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from resnet_desktop.core.foundation.atomic import atomic_write_bytes
from resnet_desktop.core.foundation.errors import ModelError, ResNetDesktopError, write_error_reason
from resnet_desktop.core.imaging.decode import load_image
from resnet_desktop.core.imaging.heatmap import overlay
from resnet_desktop.core.inference.cam import NOT_AVAILABLE
from resnet_desktop.core.inference.results import Classification
from resnet_desktop.core.models.labels import Label

MAX_SIDE = 2048
"""The written PNG's longest side at most: a 24-megapixel photo is not copied at full size."""


@dataclass(frozen=True)
class CamReport:
    """One image's map of one class."""

    label: str
    index: int
    peak: tuple[int, int]
    """(x, y) of the map's maximum in the original photo's pixels, EXIF orientation applied."""
    image: Path | None = None
    """The PNG written, if one was asked for."""

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "peak": list(self.peak)}


def class_index(labels: Sequence[Label], label: str) -> int:
    """The index of the class named ``label`` (its name or WordNet id, any case)."""
    wanted = label.strip().casefold()
    for i, candidate in enumerate(labels):
        if candidate.name.casefold() == wanted or (candidate.wnid or "").casefold() == wanted:
            return i
    raise ModelError(f"--cam-label: the model has no class named {label!r}")


def cam_output_path(folder: Path, image_path: Path) -> Path:
    """``<folder>/<stem>.cam.png``."""
    return Path(folder) / f"{Path(image_path).stem}.cam.png"


def where_it_looked(result: Classification, labels: Sequence[Label], index: int | None = None,
                    folder: Path | None = None, opacity: float = 0.5) -> CamReport:
    """The map of class ``index`` (default: the top-1) of a classified file; a PNG in ``folder``.

    The photo is decoded again at full size (the classification may have used a reduced JPEG
    decode), so the peak is in its real pixels.
    """
    if result.cam is None or result.path is None:
        raise ModelError(f"activation maps are {NOT_AVAILABLE}")
    index = result.top[0].index if index is None else index
    cam = result.cam.for_class(index)
    photo = load_image(result.path)
    peak = result.cam.peak(index, photo.width, photo.height)
    written = None
    if folder is not None:
        scale = min(1.0, MAX_SIDE / max(photo.size))
        if scale < 1.0:
            photo = photo.resize((max(1, round(photo.width * scale)),
                                  max(1, round(photo.height * scale))),
                                 Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        overlay(photo, cam, result.cam.crop, opacity).save(buffer, format="PNG")
        written = cam_output_path(folder, result.path)
        try:
            atomic_write_bytes(written, buffer.getvalue())
        except OSError as exc:
            raise ResNetDesktopError(f"cannot write {written}: {write_error_reason(exc)}") \
                from None
    return CamReport(labels[index].name, index, peak, written)

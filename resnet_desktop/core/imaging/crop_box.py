"""Where the model's input lies on the photo: the centre crop, in fractions of the image.

Preprocessing scales the photo (EXIF orientation applied) so its shorter side is ``resize``
and cuts the centred ``input_size`` square out of it (see :mod:`.preprocess`). Anything the
model computes on a spatial grid (a class activation map) covers that square only. Fractions
rather than pixels, because the photo the model saw may have been decoded at 1/2, 1/4 or 1/8
scale (JPEG draft mode) while the window or the CLI shows or reports it at another size.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_desktop.core.imaging.preprocess import crop_origin, resized_size
from resnet_desktop.core.models.manifest import Preprocessing


@dataclass(frozen=True)
class CropBox:
    """The square the model saw, as fractions (0..1) of the oriented image's width and height."""

    left: float
    top: float
    right: float
    bottom: float

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in the pixels of a ``width`` x ``height`` copy."""
        return (round(self.left * width), round(self.top * height),
                round(self.right * width), round(self.bottom * height))

    def point(self, fx: float, fy: float, width: int, height: int) -> tuple[int, int]:
        """The pixel (x, y) of a ``width`` x ``height`` copy at fractions (fx, fy) of the crop."""
        x = (self.left + fx * (self.right - self.left)) * width
        y = (self.top + fy * (self.bottom - self.top)) * height
        return min(int(x), width - 1), min(int(y), height - 1)


def crop_box(width: int, height: int, pre: Preprocessing) -> CropBox:
    """The crop that preprocessing cuts out of a ``width`` x ``height`` image."""
    new_w, new_h = resized_size(width, height, pre.resize)
    size = pre.input_size
    left, top = crop_origin(new_w, new_h, size)
    return CropBox(left / new_w, top / new_h, (left + size) / new_w, (top + size) / new_h)

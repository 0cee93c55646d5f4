"""Drawing a coarse activation map (e.g. 7 x 7) over the photo it was computed from.

The map is scaled to 0..1 (its own minimum to its own maximum, as in Zhou et al.), upsampled
bicubically to the crop's size on the photo, coloured with viridis (perceptually uniform,
readable with colour-blindness and in grey) and blended at a chosen opacity. The part of the
photo outside the crop, which the model never saw, is dimmed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from resnet_desktop.core.imaging.crop_box import CropBox

_VIRIDIS_STOPS = ("440154", "472d7b", "3b528b", "2c728e", "21918c", "28ae80", "5ec962",
                  "addc30", "fde725")
"""matplotlib's viridis at 0, 1/8, ..., 1; the table below interpolates between them."""


def _lookup_table(stops: tuple[str, ...]) -> np.ndarray:
    rgb = np.array([[int(s[i:i + 2], 16) for i in (0, 2, 4)] for s in stops], np.float64)
    at = np.linspace(0.0, 1.0, len(stops))
    levels = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(levels, at, rgb[:, c]) for c in range(3)], axis=1)
    table = np.rint(table).astype(np.uint8)
    table.flags.writeable = False
    return table


VIRIDIS = _lookup_table(_VIRIDIS_STOPS)
"""(256, 3) uint8: the colour of each level 0..255."""


def normalised(cam: np.ndarray) -> np.ndarray:
    """The map scaled to 0..1 from its minimum to its maximum; a flat map is all zeros."""
    cam = np.asarray(cam, np.float32)
    low, high = float(cam.min()), float(cam.max())
    if not high > low:
        return np.zeros_like(cam)
    return (cam - low) / (high - low)


def colourise(cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: the map upsampled smoothly to that size and coloured."""
    small = Image.fromarray(normalised(cam))
    smooth = np.asarray(small.resize((max(1, width), max(1, height)),
                                     Image.Resampling.BICUBIC))
    levels = np.rint(np.clip(smooth, 0.0, 1.0) * 255).astype(np.uint8)
    return VIRIDIS[levels]


def peak(cam: np.ndarray, crop: CropBox, width: int, height: int) -> tuple[int, int]:
    """The pixel (x, y) of a ``width`` x ``height`` image at the centre of the map's maximum."""
    rows, cols = cam.shape
    row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return crop.point((col + 0.5) / cols, (row + 0.5) / rows, width, height)


def overlay(image: Image.Image, cam: np.ndarray, crop: CropBox, opacity: float = 0.5,
            outside: float = 0.5) -> Image.Image:
    """A copy of the RGB ``image`` with the map over its crop at ``opacity`` (0..1).

    ``outside`` is the brightness kept outside the crop (1 leaves it as it is).
    """
    opacity = min(max(opacity, 0.0), 1.0)
    photo = np.asarray(image.convert("RGB"), np.float32)
    out = photo * np.float32(outside)
    left, top, right, bottom = crop.pixels(image.width, image.height)
    if right > left and bottom > top:
        colours = colourise(cam, right - left, bottom - top).astype(np.float32)
        region = photo[top:bottom, left:right]
        out[top:bottom, left:right] = region * (1 - opacity) + colours * opacity
    return Image.fromarray(np.rint(out).astype(np.uint8))

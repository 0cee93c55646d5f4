"""RGB image -> the model's input tensor, exactly as the ONNX Model Zoo's reference does it.

The zoo's ``vision/classification/imagenet_preprocess.py`` (``preprocess``), generalised to a
manifest's sizes, mean, std, layout and channel order:

1. resize with ``PIL.Image.BILINEAR`` so the shorter side is ``resize``; the longer side is
   ``int(round(resize / short * long))`` (Python's round; note this is *not* torchvision's
   ``Resize``, which truncates), and a square image counts as portrait;
2. crop ``input_size`` x ``input_size`` starting at ``w // 2 - input_size // 2``,
   ``h // 2 - input_size // 2`` (again not torchvision's ``CenterCrop`` rounding);
3. ``(x / 255 - mean / 255) / (std / 255)`` per channel, the manifest's mean and std being in
   0-255 units, i.e. the zoo's ``(x / 255 - 0.485) / 0.229`` for the ImageNet defaults;
4. HWC -> CHW for ``NCHW``; ``BGR`` reverses the channels after normalising, so each mean and
   std stays with its colour.

Step 3 is a per-channel lookup table computed in float64 like the reference, so the result
matches it to float32 rounding.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from resnet_desktop.core.imaging.decode import to_rgb
from resnet_desktop.core.models.manifest import Preprocessing

log = logging.getLogger(__name__)

# Beyond this ratio of the resized long side to ``resize`` (a panorama, a 1-pixel-high strip),
# only the centre crop is resampled (PIL ``resize(box=...)``) instead of the whole resized
# image, which for a 1 x 100000 image would be gigabytes. That path can differ from the
# reference by one 8-bit level at some pixels.
_MAX_FULL_RESIZE_RATIO = 4


def resized_size(width: int, height: int, resize: int) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``resize``, the zoo's way."""
    ratio = float(resize) / min(width, height)
    if width > height:
        return round(ratio * width), resize
    return resize, round(ratio * height)


def crop_origin(width: int, height: int, size: int) -> tuple[int, int]:
    """(left, top) of the centred ``size`` x ``size`` crop, the zoo's way."""
    return width // 2 - size // 2, height // 2 - size // 2


def output_shape(pre: Preprocessing) -> tuple[int, int, int]:
    """Shape of one preprocessed image (no batch dimension)."""
    s = pre.input_size
    return (3, s, s) if pre.layout == "NCHW" else (s, s, 3)


def preprocess(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """One image as a C-contiguous float32 array, (3, S, S) for NCHW or (S, S, 3) for NHWC."""
    out = np.empty(output_shape(pre), np.float32)
    _preprocess_into(image, pre, out)
    return out


def preprocess_batch(images: Iterable[Image.Image], pre: Preprocessing) -> np.ndarray:
    """Several images stacked as (N, ...); N may be 0."""
    images = images if isinstance(images, Sequence) else list(images)
    out = np.empty((len(images), *output_shape(pre)), np.float32)
    for i, image in enumerate(images):
        _preprocess_into(image, pre, out[i])
    return out


def crop_pixels(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """The resized, centre-cropped RGB pixels (S, S, 3) uint8 that the model sees."""
    if pre.resize < pre.input_size:
        raise ValueError(f"resize {pre.resize} is smaller than input_size {pre.input_size}")
    if image.mode != "RGB":
        image = to_rgb(image)
    width, height = image.size
    if width < 1 or height < 1:
        raise ValueError(f"cannot preprocess an empty {width}x{height} image")
    size = pre.input_size
    new_w, new_h = resized_size(width, height, pre.resize)
    left, top = crop_origin(new_w, new_h, size)
    if max(new_w, new_h) <= _MAX_FULL_RESIZE_RATIO * pre.resize:
        resized = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
        cropped = resized.crop((left, top, left + size, top + size))
    else:
        sx, sy = width / new_w, height / new_h
        box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
        log.debug("%dx%d image: resampling only the centre crop", width, height)
        cropped = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(cropped)


def _preprocess_into(image: Image.Image, pre: Preprocessing, out: np.ndarray) -> None:
    pixels = crop_pixels(image, pre)
    lut = _lookup_table(tuple(pre.mean), tuple(pre.std))
    order = (2, 1, 0) if pre.color == "BGR" else (0, 1, 2)
    for k, c in enumerate(order):
        target = out[k] if pre.layout == "NCHW" else out[:, :, k]
        target[...] = lut[c][pixels[:, :, c]]


@functools.lru_cache(maxsize=16)
def _lookup_table(mean: tuple[float, float, float],
                  std: tuple[float, float, float]) -> np.ndarray:
    """(3, 256) float32: the normalised value of each 8-bit level for each RGB channel."""
    levels = np.arange(256, dtype=np.float64) / 255
    m = np.asarray(mean, np.float64)[:, None] / 255
    s = np.asarray(std, np.float64)[:, None] / 255
    table = ((levels[None, :] - m) / s).astype(np.float32)
    table.flags.writeable = False
    return table

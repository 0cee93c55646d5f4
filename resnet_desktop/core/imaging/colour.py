"""Embedded ICC colour profiles: pixels in another colour space are converted to sRGB.

The ImageNet models learned from sRGB pixels. A photo in Display P3 (iPhones), Adobe RGB
(many cameras) or a print CMYK space carries its profile, and reading its numbers as sRGB shifts
every colour; worst for CMYK, whose naive conversion ignores the ink profile entirely.

Profiles that are sRGB already (most camera JPEGs embed one) are recognised by converting a
grid of test colours: when nothing moves by more than one level, the image is left alone.
Transforms are cached per profile (photos from one camera share the same bytes) and built
with lcms2's ``NOCACHE`` flag, so one transform can serve several decoding threads at once.
"""

from __future__ import annotations

import functools
import io
import logging

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

_SPACES = {"RGB": "RGB ", "CMYK": "CMYK"}
"""Image modes that are converted, with the profile colour space each needs."""

_SRGB = ImageCms.createProfile("sRGB")


def profile_of(image: Image.Image) -> bytes | None:
    """The ICC profile embedded in ``image``, if any."""
    icc = image.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def convert_to_srgb(image: Image.Image, icc: bytes | None, name: str = "image") -> Image.Image:
    """``image`` (RGB or CMYK) as sRGB pixels, given the profile it came with.

    Without a profile, with an sRGB one, with one that does not fit the image's mode, or with a
    damaged one, the image comes back unchanged (a damaged profile is logged, never fatal).
    CMYK comes back as RGB.
    """
    if icc is None:
        return image
    transform = _transform(icc, image.mode)
    if transform is None:
        return image
    try:
        return ImageCms.applyTransform(image, transform)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("%s: colour profile ignored, converting with it failed (%s)", name, exc)
        return image


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from ``icc`` to sRGB for ``mode`` images; None when none is needed."""
    space = _SPACES.get(mode)
    if space is None:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if source.profile.xcolor_space != space:
            log.info("a %r colour profile on a %s image is ignored",
                     source.profile.xcolor_space.strip(), mode)
            return None
        transform = ImageCms.buildTransform(
            source, _SRGB, mode, "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE | ImageCms.Flags.BLACKPOINTCOMPENSATION)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        log.warning("a damaged colour profile is ignored (%s)", exc)
        return None
    if mode == "RGB" and _is_identity(transform):
        return None
    return transform


def _is_identity(transform: ImageCms.ImageCmsTransform) -> bool:
    """True when ``transform`` moves no test colour by more than one 8-bit level."""
    levels = np.array([0, 32, 64, 96, 128, 160, 192, 224, 255], np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
    pixels = grid.reshape(1, -1, 3)
    converted = np.asarray(ImageCms.applyTransform(Image.fromarray(pixels), transform))
    return int(np.abs(converted.astype(np.int16) - pixels).max()) <= 1

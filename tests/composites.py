"""Composite photos for the activation-map tests: one real photo beside another."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def fill(photo: Path, width: int, height: int) -> Image.Image:
    """The photo scaled to cover ``width`` x ``height`` and cut to it around its centre."""
    with Image.open(photo) as opened:
        image = opened.convert("RGB")
    scale = max(width / image.width, height / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.Resampling.BICUBIC)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    image = Image.new("RGB", (left.width + right.width, left.height))
    image.paste(left, (0, 0))
    image.paste(right, (left.width, 0))
    return image


def save_rotated(image: Image.Image, path: Path) -> Path:
    """A JPEG stored turned on its side with EXIF orientation 6, so viewers show ``image``."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    return path

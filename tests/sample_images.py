"""Image files and folders for tests: solid colours, noisy JPEGs, and the folder of awkward
inputs (truncated, not an image, a decompression bomb, rotated, CMYK, Unicode names)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 20, 20), "green": (20, 200, 30), "blue": (20, 30, 210)}


def solid(path: Path, colour: str | tuple[int, int, int], size=(64, 48), **save) -> Path:
    rgb = COLOURS[colour] if isinstance(colour, str) else colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path, **save)
    return path


def noisy_jpeg(path: Path, colour: str, size=(160, 120), seed: int = 0) -> Path:
    rgb = np.array(COLOURS[colour], np.int16)
    noise = np.random.default_rng(seed).integers(-20, 21, (size[1], size[0], 3), dtype=np.int16)
    pixels = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(path: Path, side: int = 30_000) -> Path:
    """A tiny PNG whose header claims side x side pixels: over Pillow's bomb limit."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


def rotated_jpeg(path: Path, colour: str) -> Path:
    """A JPEG stored portrait with EXIF orientation 6 (shown landscape)."""
    image = Image.new("RGB", (48, 64), COLOURS[colour])
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, exif=exif)
    return path


def bad_folder(root: Path) -> tuple[Path, dict[str, str | None]]:
    """The issue's folder of awkward inputs.

    Returns the folder and, per expected record path (relative, POSIX), the expected top-1
    label, or None where the record must carry an error. Hidden files and other extensions
    are there too and must not appear.
    """
    folder = root / "photos"
    expected: dict[str, str | None] = {}

    def good(rel: str, colour: str, maker=solid, **kw) -> None:
        maker(folder / rel, colour, **kw)
        expected[rel] = colour

    good("red.jpg", "red")
    good("a/b/deep green.jpg", "green")
    good("café/日本 写真.jpg", "blue")
    good("Ünïcödé ✓.png", "green")
    rgba = Image.new("RGBA", (40, 40), (*COLOURS["red"], 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    rgba.save(folder / "alpha.png")
    expected["alpha.png"] = "red"
    cmyk = Image.new("RGB", (40, 30), COLOURS["blue"]).convert("CMYK")
    cmyk.save(folder / "cmyk.jpg")
    expected["cmyk.jpg"] = "blue"
    rotated_jpeg(folder / "rotated.jpg", "green")
    expected["rotated.jpg"] = "green"

    buffer = io.BytesIO()
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3),
                                                              dtype=np.uint8))
    noisy.save(buffer, "JPEG", quality=95)
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    expected["truncated.jpg"] = None
    (folder / "notes.jpg").write_text("this is a text file, not a photo\n", encoding="utf-8")
    expected["notes.jpg"] = None
    bomb_png(folder / "bomb.png")
    expected["bomb.png"] = None
    (folder / "empty.jpg").write_bytes(b"")
    expected["empty.jpg"] = None

    (folder / "readme.txt").write_text("not an image extension")
    solid(folder / ".hidden.jpg", "red")
    solid(folder / ".cache" / "inside.jpg", "red")
    return folder, expected


def numbered_folder(root: Path, count: int, colours=("red", "green", "blue")) -> Path:
    """``count`` small noisy JPEGs img_000.jpg... cycling through ``colours``."""
    folder = root / "many"
    for i in range(count):
        noisy_jpeg(folder / f"img_{i:03d}.jpg", colours[i % len(colours)], seed=i)
    return folder

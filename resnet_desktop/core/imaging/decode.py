"""Decoding images from files, pasted bytes and webcam frames into 8-bit RGB.

Every way in ends in :func:`to_rgb`, so the rest of the engine only ever sees ``RGB`` images.
Failures raise :class:`~resnet_desktop.core.foundation.errors.ImageError` with one line that names
the file.

Safety:

* only the formats in :data:`FORMATS` are parsed (Pillow's other plugins never see the bytes);
* the declared size is checked against ``max_pixels`` right after the header is read, before
  any pixel is decoded;
* Pillow's own decompression-bomb check (warning above ``Image.MAX_IMAGE_PIXELS``, error above
  twice that) is kept, its warning is silenced locally and its error becomes an ``ImageError``;
  Pillow's globals (``MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) are never changed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import struct
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from resnet_desktop.core.foundation.errors import ImageError
from resnet_desktop.core.foundation.regular_file import NotRegularFileError, open_regular
from resnet_desktop.core.imaging.colour import convert_to_srgb, profile_of
from resnet_desktop.core.models.manifest import Preprocessing

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 100_000_000
"""100 megapixels: a 50 MP camera photo or a large scan passes, a decompression bomb does not."""

def _register_heif() -> bool:
    """HEIC/HEIF (iPhone photos) through pi-heif: libheif with only its decoder.

    pi-heif rather than pillow-heif because the latter bundles the GPL x265 encoder, which an
    installer could not carry under this app's licence; decoding is all the app needs. libheif
    applies the file's rotation itself, and pi-heif resets the EXIF orientation to match.
    """
    try:
        import pi_heif
    except ImportError:
        return False
    pi_heif.register_heif_opener()
    return "HEIF" in Image.OPEN


_BASE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "PPM")
FORMATS: tuple[str, ...] = (_BASE_FORMATS + (("HEIF",) if _register_heif() else ())
                            + (("AVIF",) if features.check("avif") else ()))
"""Pillow format ids that are opened. HEIF is here when pi-heif is installed (a dependency);
AVIF only when this Pillow was built with libavif."""

_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "GIF": "GIF",
                 "TIFF": "TIFF", "PPM": "PPM/PGM", "HEIF": "HEIC/HEIF", "AVIF": "AVIF"}
SUPPORTED_DESCRIPTION = ", ".join(_FORMAT_NAMES[f] for f in FORMATS)

# File name extensions of the supported formats, for file dialogs and folder scans.
EXTENSIONS: tuple[str, ...] = (
    (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff",
     ".ppm", ".pgm", ".pbm", ".pnm")
    + ((".heic", ".heif", ".hif") if "HEIF" in FORMATS else ())
    + ((".avif",) if "AVIF" in FORMATS else ())
)

# Signatures of formats on the allowlist: a file that starts like one but cannot be opened is
# damaged, not unsupported.
_SUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)
# Common things people drop on the app that are not (supported) images, for a clearer message.
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"), (b"%!PS", "a PostScript/EPS file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file"), (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x01\x00", "an icon (ICO) file"), (b"qoif", "a QOI image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"), (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"PK\x03\x04", "a ZIP archive"), (b"<svg", "an SVG drawing"), (b"<?xml", "an XML file"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")

_JPEG_FORMATS = ("JPEG", "MPO")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, IndexError, TypeError, struct.error,
                  EOFError, MemoryError)

# warnings.catch_warnings swaps process-wide state; the lock keeps our own uses from
# interleaving when several threads decode at once.
_warnings_lock = threading.Lock()


@contextlib.contextmanager
def _no_bomb_warning() -> Iterator[None]:
    """Silence Pillow's DecompressionBombWarning: ``max_pixels`` is the limit that applies."""
    with _warnings_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def draft_size_for(pre: Preprocessing) -> tuple[int, int]:
    """The ``draft`` request for :func:`load_image` that cannot change what the model sees much.

    JPEG draft decoding shrinks by 1/2, 1/4 or 1/8 while both sides stay at least this size, so
    the shorter side stays at least ``resize`` and preprocessing still downscales (never
    upscales) to it.
    """
    side = max(pre.resize, pre.input_size)
    return (side, side)


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file into 8-bit RGB, EXIF orientation applied.

    ``draft=(w, h)``: for JPEGs, let libjpeg decode at the smallest 1/2, 1/4 or 1/8 scale whose
    size is still at least ``w`` x ``h`` (see :func:`draft_size_for`); other formats ignore it.
    """
    path = Path(path)
    name = path.name or str(path)
    if path.is_dir():
        raise ImageError(f"{name}: is a folder, not an image file")
    try:
        # Only regular files: a FIFO named .jpg would block for ever, a device never ends.
        with open_regular(path) as fp:
            return _decode(fp, name, max_pixels, draft, empty=f"{name}: the file is empty")
    except NotRegularFileError as exc:
        raise ImageError(f"{name}: is {exc.kind}, not an image file") from None
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot be read ({exc.strerror or exc})") from None


def image_from_bytes(data: bytes, name: str = "clipboard", *,
                     max_pixels: int = DEFAULT_MAX_PIXELS,
                     draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode encoded image bytes (pasted or dropped data) like :func:`load_image`."""
    return _decode(io.BytesIO(data), name, max_pixels, draft, empty=f"{name}: the data is empty")


def image_from_array(arr: np.ndarray) -> Image.Image:
    """An RGB image from a uint8 frame: HxW grey, HxWx1, HxWx3 RGB or HxWx4 RGBA (over white).

    The pixels are copied, so the caller may reuse its frame buffer.
    """
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
        dtype = getattr(arr, "dtype", type(arr).__name__)
        raise ImageError(f"frame: expected a uint8 array, got {dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ImageError(f"frame: expected HxW, HxWx3 or HxWx4 pixels, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"frame: the frame is empty (shape {arr.shape})")
    image = Image.fromarray(np.array(arr, order="C", copy=True))
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    Transparency is composited over white; 16-bit and 32-bit integer images are scaled by their
    bit depth (65535 -> 255), not clipped; float images in 0..1 are scaled by 255, others
    stretched to their min..max.
    """
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_deep_to_uint8(image)).convert("RGB")
    if mode == "LAB":
        return _lab_to_rgb(image)
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"colour mode {mode} cannot be converted to RGB ({exc})") from None


def _deep_to_uint8(image: Image.Image) -> np.ndarray:
    """Grey levels of an ``I;16*``, ``I`` or ``F`` image as uint8, scaled rather than clipped."""
    a = np.asarray(image)
    if image.mode == "F" or a.dtype.kind == "f":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            scaled = a * 255.0
        elif lo >= 0.0 and hi <= 255.0:
            scaled = a
        else:
            scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    a = a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    # I;16 images are 16-bit by definition; 32-bit ones that fit in 16 bits are almost always
    # 16-bit data in a wider container (older Pillow opened 16-bit PNGs as "I").
    if lo >= 0 and hi <= 0xFFFF:
        return ((a * 255 + 0xFFFF // 2) // 0xFFFF).astype(np.uint8)
    if hi == lo:
        return np.zeros(a.shape, np.uint8)
    return ((a - lo) * 255 // (hi - lo)).astype(np.uint8)


def _lab_to_rgb(image: Image.Image) -> Image.Image:
    from PIL import ImageCms

    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    result = ImageCms.applyTransform(image, transform)
    assert result is not None
    return result


def _megapixels(pixels: int) -> str:
    if pixels >= 1_000_000:
        return f"{pixels / 1_000_000:g}-megapixel"
    return f"{pixels}-pixel"


def _describe_unsupported(head: bytes) -> str:
    for magic, what in _OTHER_MAGIC:
        if head.startswith(magic):
            return f"it looks like {what}"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return ("it looks like a HEIC/HEIF photo, and pi-heif, which reads them, is not "
                    "installed")
        if brand in (b"avif", b"avis"):
            return "AVIF is not supported by this build"
    stripped = head.lstrip()
    if stripped[:5].lower() in (b"<!doc", b"<html"):
        return "it looks like a web page"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:256]):
        return "it looks like a text file"
    return "unrecognised content"


def _looks_supported(head: bytes) -> bool:
    if any(head.startswith(magic) for magic, _ in _SUPPORTED_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS and "HEIF" in FORMATS:
        return True
    return len(head) >= 2 and head[0:1] == b"P" and head[1:2] in b"123456fF"


def _decode(fp: BinaryIO, name: str, max_pixels: int, draft: tuple[int, int] | None, *,
            empty: str) -> Image.Image:
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    head = fp.read(512)
    if not head:
        raise ImageError(empty)
    fp.seek(0)
    try:
        with _no_bomb_warning():
            im = Image.open(fp, formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels_from_pillow(name, max_pixels, exc) from None
    except UnidentifiedImageError:
        if _looks_supported(head):
            raise ImageError(f"{name}: the image is corrupt (its header cannot be read)") \
                from None
        raise ImageError(f"{name}: not a supported image ({_describe_unsupported(head)}; "
                         f"supported: {SUPPORTED_DESCRIPTION})") from None
    except (Image.DecompressionBombWarning, *_DECODE_ERRORS) as exc:
        raise _corrupt(name, exc) from None

    with im:
        width, height = im.size
        if width * height > max_pixels:
            raise ImageError(f"{name}: {width}x{height} pixels is more than the "
                             f"{_megapixels(max_pixels)} limit")
        if draft is not None and im.format in _JPEG_FORMATS:
            im.draft("RGB", draft)
            log.debug("%s: %dx%d decoded in draft mode at %dx%d", name, width, height,
                      *im.size)
        pillow_limit = Image.MAX_IMAGE_PIXELS
        try:
            if pillow_limit is not None and width * height > pillow_limit:
                with _no_bomb_warning():
                    im.load()
            else:
                im.load()
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels_from_pillow(name, max_pixels, exc) from None
        except (Image.DecompressionBombWarning, *_DECODE_ERRORS) as exc:
            raise _corrupt(name, exc) from None
        _apply_orientation(im, name)
        # Leaving the ``with`` detaches the image from ``fp`` (the caller closes the file).
        try:
            return _colour_managed_rgb(im, name)
        except ImageError as exc:
            raise ImageError(f"{name}: {exc}") from None
        except _DECODE_ERRORS as exc:
            raise _corrupt(name, exc) from None


def _colour_managed_rgb(im: Image.Image, name: str) -> Image.Image:
    """8-bit sRGB pixels: :func:`to_rgb`, honouring an embedded colour profile (see core.icc)."""
    icc = profile_of(im)
    if im.mode == "CMYK":
        return to_rgb(convert_to_srgb(im, icc, name))
    return convert_to_srgb(to_rgb(im), icc, name)


def _apply_orientation(im: Image.Image, name: str) -> None:
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except (*_DECODE_ERRORS, KeyError) as exc:
        log.warning("%s: EXIF orientation ignored, the EXIF data is damaged (%s)", name, exc)


def _corrupt(name: str, exc: BaseException) -> ImageError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return ImageError(f"{name}: not enough memory to decode the image")
    return ImageError(f"{name}: the image is truncated or corrupt ({detail})")


def _too_many_pixels_from_pillow(name: str, max_pixels: int,
                                 exc: Image.DecompressionBombError) -> ImageError:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(match.group(1)):,} pixels" if match else "its pixel count"
    return ImageError(f"{name}: {pixels} is more than the {_megapixels(max_pixels)} limit "
                      "(refused as a possible decompression bomb)")

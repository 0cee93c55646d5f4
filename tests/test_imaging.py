"""Image decoding: formats, modes, orientation, damage, limits, and JPEG draft mode."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageFile

from resnet_desktop.core.foundation.errors import ImageError
from resnet_desktop.core.imaging import decode
from resnet_desktop.core.imaging.decode import (
    DEFAULT_MAX_PIXELS,
    FORMATS,
    draft_size_for,
    image_from_array,
    image_from_bytes,
    load_image,
    to_rgb,
)
from resnet_desktop.core.imaging.preprocess import preprocess
from resnet_desktop.core.models.manifest import Preprocessing

SKIMAGE_DATA = Path(os.path.dirname(skimage.data.__file__))
MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def save(tmp_path: Path, name: str, image: Image.Image, **params) -> Path:
    path = tmp_path / name
    image.save(path, **params)
    return path


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def opened_mode(path: Path) -> str:
    with Image.open(path) as image:
        return image.mode


def assert_close(got: tuple[int, ...], want: tuple[int, ...], tol: int = 0) -> None:
    assert all(abs(g - w) <= tol for g, w in zip(got, want, strict=True)), (got, want)


# Real photos and supported formats ------------------------------------------------------------

@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png"])
def test_real_photos(name):
    image = load_image(SKIMAGE_DATA / name)
    assert image.mode == "RGB"
    with Image.open(SKIMAGE_DATA / name) as original:
        reference = original.convert("RGB")
    assert image.size == reference.size
    np.testing.assert_array_equal(np.asarray(image), np.asarray(reference))


@pytest.mark.parametrize("fmt, suffix, mode", [
    ("JPEG", ".jpg", "RGB"), ("PNG", ".png", "RGB"), ("WEBP", ".webp", "RGB"),
    ("BMP", ".bmp", "RGB"), ("GIF", ".gif", "RGB"), ("TIFF", ".tif", "RGB"),
    ("PPM", ".ppm", "RGB"), ("PPM", ".pgm", "L"),
])
def test_supported_formats(tmp_path, fmt, suffix, mode):
    source = Image.new("RGB", (48, 32), (200, 40, 90)).convert(mode)
    path = save(tmp_path, "image" + suffix, source, format=fmt)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.size == (48, 32)
    want = pixel(source.convert("RGB"), (5, 5))
    assert_close(pixel(image, (5, 5)), want, tol=8)


@pytest.mark.skipif("AVIF" not in FORMATS, reason="this Pillow has no native AVIF support")
def test_avif_when_pillow_supports_it(tmp_path):
    path = save(tmp_path, "image.avif", Image.new("RGB", (32, 32), (30, 160, 220)), quality=95)
    assert_close(pixel(load_image(path), (10, 10)), (30, 160, 220), tol=12)


def test_gif_gives_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert_close(pixel(load_image(path), (8, 8)), (255, 0, 0), tol=4)


def test_image_from_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(buffer, "PNG")
    image = image_from_bytes(buffer.getvalue())
    assert (image.mode, image.size, pixel(image, (0, 0))) == ("RGB", (20, 10), (1, 2, 3))
    with pytest.raises(ImageError, match=r"^clipboard: the data is empty$"):
        image_from_bytes(b"")
    with pytest.raises(ImageError, match=r"^pasted: not a supported image"):
        image_from_bytes(b"just some text", "pasted")


# Modes ---------------------------------------------------------------------------------------

def test_greyscale_and_bilevel(tmp_path):
    grey = load_image(save(tmp_path, "grey.png", Image.new("L", (8, 8), 77)))
    assert grey.mode == "RGB"
    assert pixel(grey, (0, 0)) == (77, 77, 77)
    bilevel = Image.new("1", (8, 8), 0)
    bilevel.putpixel((1, 1), 1)
    image = load_image(save(tmp_path, "bilevel.png", bilevel))
    assert pixel(image, (0, 0)) == (0, 0, 0)
    assert pixel(image, (1, 1)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_over_white(tmp_path, fmt):
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    palette_image.putpixel((4, 4), 1)
    path = save(tmp_path, "palette." + fmt.lower(), palette_image, format=fmt, transparency=0)
    image = load_image(path)
    assert pixel(image, (0, 0)) == (255, 255, 255)  # transparent red -> white
    assert pixel(image, (4, 4)) == (0, 0, 255)


def test_rgba_and_la_composited_over_white(tmp_path):
    rgba = Image.new("RGBA", (4, 1))
    rgba.putdata([(10, 20, 30, 0), (10, 20, 30, 255), (0, 0, 0, 128), (200, 100, 0, 255)])
    image = load_image(save(tmp_path, "rgba.png", rgba))
    assert pixel(image, (0, 0)) == (255, 255, 255)
    assert pixel(image, (1, 0)) == (10, 20, 30)
    assert_close(pixel(image, (2, 0)), (127, 127, 127), tol=1)
    assert pixel(image, (3, 0)) == (200, 100, 0)
    la = load_image(save(tmp_path, "la.png", Image.new("LA", (2, 2), (0, 0))))
    assert pixel(la, (0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_is_scaled_not_clipped(tmp_path, fmt):
    values = np.array([[0, 257, 32768, 65280, 65535]], dtype=np.uint16)
    path = save(tmp_path, "deep." + fmt.lower(), Image.fromarray(values), format=fmt)
    assert opened_mode(path).startswith("I;16")
    grey = np.asarray(load_image(path))[0, :, 0]
    assert grey.tolist() == [0, 1, 128, 254, 255]


def test_32_bit_integer_and_float(tmp_path):
    ints = np.array([[0, 32768, 65535]], dtype=np.int32)
    path = save(tmp_path, "int.tif", Image.fromarray(ints))
    assert opened_mode(path) == "I"
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 128, 255]
    floats = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    path = save(tmp_path, "float.tif", Image.fromarray(floats))
    assert opened_mode(path) == "F"
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 128, 255]
    wide = Image.fromarray(np.array([[-1000.0, 0.0, 3000.0]], dtype=np.float32))
    assert np.asarray(to_rgb(wide))[0, :, 0].tolist() == [0, 64, 255]


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (32, 16), (0, 0, 0, 0))
    cmyk.paste((255, 0, 0, 0), (16, 0, 32, 16))
    path = save(tmp_path, "cmyk.jpg", cmyk, quality=95)
    assert opened_mode(path) == "CMYK"
    image = load_image(path)
    assert image.mode == "RGB"
    assert_close(pixel(image, (4, 8)), (255, 255, 255), tol=6)
    assert_close(pixel(image, (28, 8)), (0, 255, 255), tol=6)


def test_other_modes_become_rgb():
    for mode, colour in (("YCbCr", (128, 128, 128)), ("HSV", (0, 0, 200)),
                         ("LAB", (255, 128, 128)), ("RGBX", (5, 6, 7, 0))):
        image = to_rgb(Image.new(mode, (2, 2), colour))
        assert image.mode == "RGB", mode
    assert_close(pixel(to_rgb(Image.new("LAB", (2, 2), (255, 128, 128))), (0, 0)),
                 (255, 255, 255), tol=2)


def test_exif_orientation_applied(tmp_path):
    source = Image.new("RGB", (40, 20), (255, 0, 0))
    source.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = save(tmp_path, "rotated.jpg", source, exif=exif, quality=95)
    image = load_image(path)
    assert image.size == (20, 40)
    assert_close(pixel(image, (10, 5)), (255, 0, 0), tol=30)  # left half ends up on top
    assert_close(pixel(image, (10, 35)), (0, 0, 255), tol=30)


def test_image_from_array():
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[..., 0] = 200
    image = image_from_array(rgb)
    assert (image.mode, image.size, pixel(image, (0, 0))) == ("RGB", (20, 10), (200, 0, 0))
    rgb[...] = 0  # the caller reuses its buffer: the image keeps its own copy
    assert pixel(image, (0, 0)) == (200, 0, 0)
    assert pixel(image_from_array(np.full((4, 4), 9, np.uint8)), (1, 1)) == (9, 9, 9)
    assert pixel(image_from_array(np.full((4, 4, 1), 9, np.uint8)), (1, 1)) == (9, 9, 9)
    rgba = np.zeros((4, 4, 4), np.uint8)
    assert pixel(image_from_array(rgba), (0, 0)) == (255, 255, 255)
    bgr_view = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)[..., ::-1]
    assert pixel(image_from_array(bgr_view), (0, 0)) == (2, 1, 0)
    with pytest.raises(ImageError, match="uint8"):
        image_from_array(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageError, match="shape"):
        image_from_array(np.zeros((4, 4, 2), np.uint8))


# Errors --------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"^nothere\.jpg: file not found$"):
        load_image(tmp_path / "nothere.jpg")


def test_directory(tmp_path):
    (tmp_path / "photos.jpg").mkdir()
    with pytest.raises(ImageError, match=r"^photos\.jpg: is a folder"):
        load_image(tmp_path / "photos.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"^empty\.png: the file is empty$"):
        load_image(tmp_path / "empty.png")


@pytest.mark.skipif(os.name == "nt" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="permissions are not enforced for root / on Windows")
def test_permission_denied(tmp_path):
    path = save(tmp_path, "secret.png", Image.new("RGB", (4, 4)))
    path.chmod(0)
    try:
        with pytest.raises(ImageError, match=r"^secret\.png: permission denied$"):
            load_image(path)
    finally:
        path.chmod(0o644)


def test_permission_denied_message(tmp_path, monkeypatch):
    path = save(tmp_path, "locked.png", Image.new("RGB", (4, 4)))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(decode, "open_regular", refuse)
    with pytest.raises(ImageError, match=r"^locked\.png: permission denied$"):
        load_image(path)


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("shopping list: eggs, milk\n")
    with pytest.raises(ImageError, match=r"^notes\.jpg: not a supported image \(.*text"):
        load_image(tmp_path / "notes.jpg")


@pytest.mark.parametrize("name, data, hint", [
    ("doc.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    ("layers.psd", b"8BPS\x00\x01" + b"\x00" * 40, "Photoshop"),
])
def test_unsupported_formats_named(tmp_path, name, data, hint):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ImageError, match=rf"not a supported image \(.*{hint}.*supported: JPEG"):
        load_image(tmp_path / name)


@pytest.mark.parametrize("fmt", ["TGA", "PCX", "ICO"])
def test_formats_off_the_allowlist_are_refused(tmp_path, fmt):
    path = save(tmp_path, "image." + fmt.lower(), Image.new("RGB", (16, 16), (9, 9, 9)),
                format=fmt)
    with Image.open(path) as readable:  # Pillow itself could read it
        readable.load()
    with pytest.raises(ImageError, match=r"not a supported image"):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    noise(400, 300).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"^cut\.jpg: the image is truncated or corrupt \("):
        load_image(tmp_path / "cut.jpg")
    (tmp_path / "stub.jpg").write_bytes(data[:200])
    with pytest.raises(ImageError, match=r"^stub\.jpg: .*(truncated|corrupt)"):
        load_image(tmp_path / "stub.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png_and_damaged_header(tmp_path):
    buffer = io.BytesIO()
    noise(200, 100).save(buffer, "PNG")
    data = buffer.getvalue()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(tmp_path / "cut.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10)
    with pytest.raises(ImageError, match=r"^bad\.png: the image is .*corrupt"):
        load_image(tmp_path / "bad.png")


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("1", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize("width, height, message", [
    (30000, 30000, r"900,000,000 pixels is more than the 100-megapixel limit"),
    (12000, 10000, r"12000x10000 pixels is more than the 100-megapixel limit"),
])
def test_decompression_bomb_refused_fast_and_quietly(tmp_path, width, height, message):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(width, height))
    assert path.stat().st_size < 1000
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match=rf"^bomb\.png: {message}"):
            load_image(path)
    assert time.perf_counter() - start < 1.0
    assert caught == []


def test_pixel_limit_is_explicit(tmp_path):
    path = save(tmp_path, "big.png", Image.new("RGB", (200, 200)))
    with pytest.raises(ImageError, match=r"^big\.png: 200x200 pixels is more than the "
                                         r"10000-pixel limit$"):
        load_image(path, max_pixels=10_000)
    assert load_image(path, max_pixels=40_000).size == (200, 200)
    assert DEFAULT_MAX_PIXELS >= 12_000_000 * 4


def test_pillow_bomb_warning_never_escapes(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    small = save(tmp_path, "small.png", Image.new("RGB", (40, 40)))  # Pillow would warn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_image(small).size == (40, 40)
        assert load_image(save(tmp_path, "small.tif", Image.new("RGB", (40, 40)))).size == \
            (40, 40)
    assert caught == []
    bigger = save(tmp_path, "bigger.png", Image.new("RGB", (50, 50)))  # Pillow would refuse
    with pytest.raises(ImageError, match=r"^bigger\.png: 2,500 pixels is more than"):
        load_image(bigger)


def test_concurrent_decoding_leaves_warning_filters_alone(tmp_path):
    path = save(tmp_path, "photo.jpg", noise(320, 240))
    before = list(warnings.filters)
    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(lambda _: load_image(path).size, range(32)))
    assert sizes == [(320, 240)] * 32
    assert warnings.filters == before


# JPEG draft mode -----------------------------------------------------------------------------

def upscaled_photo(name: str, tmp_path: Path) -> Path:
    """A 12-megapixel (4000x3000) JPEG of natural content: a real photo upscaled, plus noise."""
    with Image.open(SKIMAGE_DATA / name) as original:
        base = original.convert("RGB").resize((4000, 3000), Image.BICUBIC)
    pixels = np.asarray(base).astype(np.int16)
    pixels += np.random.default_rng(1).integers(-8, 9, pixels.shape, dtype=np.int16)
    path = tmp_path / (Path(name).stem + "-12mp.jpg")
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


@pytest.fixture(scope="module")
def twelve_megapixel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("draft")
    return {name: upscaled_photo(name, folder) for name in ("chelsea.png", "coffee.png")}


def test_draft_size_for():
    assert draft_size_for(Preprocessing()) == (256, 256)
    assert draft_size_for(Preprocessing(input_size=299, resize=342)) == (342, 342)


def test_draft_decodes_smaller_but_never_below_the_request(twelve_megapixel, tmp_path):
    path = twelve_megapixel["chelsea.png"]
    request = draft_size_for(Preprocessing())
    full = load_image(path)
    small = load_image(path, draft=request)
    assert full.size == (4000, 3000)
    assert small.size[0] <= 2000 and small.size[1] <= 1500
    assert min(small.size) >= 256
    assert small.size == (500, 375)  # 1/8 scale
    portrait = save(tmp_path, "portrait.jpg", noise(600, 900))
    assert load_image(portrait, draft=request).size == (300, 450)  # 1/2: 1/4 would be < 256
    small_jpeg = save(tmp_path, "small.jpg", noise(400, 300))
    assert load_image(small_jpeg, draft=request).size == (400, 300)
    png = SKIMAGE_DATA / "coffee.png"
    assert load_image(png, draft=(16, 16)).size == (600, 400)  # not a JPEG: ignored


def test_draft_with_exif_rotation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 8
    path = save(tmp_path, "rotated.jpg", noise(2400, 1200), exif=exif)
    assert load_image(path, draft=(256, 256)).size == (300, 600)


def test_draft_applies_to_mpo(tmp_path):
    path = tmp_path / "stereo.mpo"
    noise(2048, 1024).save(path, "MPO", save_all=True, append_images=[noise(2048, 1024, 1)])
    with Image.open(path) as opened:
        assert opened.format == "MPO"
    assert load_image(path, draft=(256, 256)).size == (512, 256)  # 1/4 scale


# Measured on this machine (Pillow 13, libjpeg-turbo) for the 12 MP upscaled photos:
#   chelsea: max |diff| 0.047, mean |diff| 0.0035 on the normalised (ImageNet) tensor
#   coffee:  max |diff| 0.109, mean |diff| 0.0037
# Load + preprocess: about 130 ms full decode, 33 ms with draft.
@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png"])
def test_draft_barely_changes_the_tensor(twelve_megapixel, name):
    path = twelve_megapixel[name]
    pre = Preprocessing()
    full = preprocess(load_image(path), pre)
    drafted = preprocess(load_image(path, draft=draft_size_for(pre)), pre)
    diff = np.abs(full - drafted)
    assert diff.mean() < 0.01
    assert diff.max() < 0.3


# Measured: chelsea top-1 285 (Egyptian cat) p 0.415 full vs 0.409 draft (|diff| 0.0065);
# coffee top-1 967 (espresso) p 0.932 full vs 0.931 draft (|diff| 0.0016).
@pytest.mark.parametrize("name, classes", [
    ("chelsea.png", range(281, 286)),  # the domestic cats
    ("coffee.png", [967]),             # espresso
])
def test_draft_keeps_the_real_classifiers_answer(twelve_megapixel, name, classes):
    model = MODELS / "efficientnet-lite0.onnx"
    if not model.is_file():
        pytest.skip(f"real test model not found at {model}")
    onnxruntime = pytest.importorskip("onnxruntime")
    import json

    spec = json.loads((MODELS / "efficientnet-lite0.json").read_text(encoding="utf-8"))
    pre = Preprocessing(input_size=spec["input_size"], resize=spec["resize"],
                        mean=tuple(spec["mean"]), std=tuple(spec["std"]))
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def probabilities(image: Image.Image) -> np.ndarray:
        logits = session.run(None, {input_name: preprocess(image, pre)[np.newaxis]})[0][0]
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    path = twelve_megapixel[name]
    full = probabilities(load_image(path))
    drafted = probabilities(load_image(path, draft=draft_size_for(pre)))
    top = int(full.argmax())
    assert top in classes
    assert int(drafted.argmax()) == top
    assert abs(float(full[top]) - float(drafted[top])) < 0.05

"""HEIC/HEIF photos through pi-heif; the files are encoded here with pillow-heif (a test-only
dependency: it carries the HEVC encoder that the app itself does without)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from icc_profiles import swapped_profile
from modelgen import colour_model
from PIL import Image

from resnet_desktop.core.batch.run import BatchRun, discover_images
from resnet_desktop.core.foundation.errors import ImageError
from resnet_desktop.core.imaging.decode import EXTENSIONS, FORMATS, image_from_bytes, load_image
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for

RED, BLUE = (220, 20, 20), (20, 30, 210)


def heic(path: Path, image: Image.Image, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pillow_heif.from_pillow(image).save(path, quality=90, **save)
    return path


def marked(size=(64, 32)) -> Image.Image:
    """Red with a blue square in the top-left corner, to see any rotation."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (0, 0, 12, 12))
    return image


def test_heic_is_a_supported_format():
    assert "HEIF" in FORMATS
    assert {".heic", ".heif", ".hif"} <= set(EXTENSIONS)


def test_a_heic_photo_is_read_and_classified(tmp_path):
    path = heic(tmp_path / "photos" / "IMG_0001.HEIC", marked())
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (64, 32)
    pixels = np.asarray(image, np.int16)
    assert np.abs(pixels[3, 3] - BLUE).max() < 25 and np.abs(pixels[-3, -3] - RED).max() < 25
    assert np.array_equal(np.asarray(image_from_bytes(path.read_bytes())), pixels)
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu", "colours")
    assert [p.name for p in discover_images(path.parent)] == ["IMG_0001.HEIC"]
    [record] = BatchRun(classifier, path.parent)
    assert record.error is None and record.label == "red"


def test_the_rotation_libheif_applies_is_not_applied_twice(tmp_path):
    """libheif turns the picture by the file's own transforms and pi-heif resets the EXIF
    orientation, so reading the EXIF again would turn it a second time."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = heic(tmp_path / "turned.heic", marked(), exif=exif.tobytes())
    with Image.open(path, formats=["HEIF"]) as opened:
        assert opened.info.get("original_orientation") == 6
        shown = np.asarray(opened.convert("RGB"))
    assert np.array_equal(np.asarray(load_image(path)), shown)


def test_a_heic_colour_profile_is_honoured(tmp_path):
    path = heic(tmp_path / "p3.heic", Image.new("RGB", (48, 48), RED),
                icc_profile=swapped_profile())
    r, g, _ = np.asarray(load_image(path), np.float64).reshape(-1, 3).mean(axis=0)
    assert g > 150 and r < 100


def test_damaged_and_oversized_heic_files_get_clear_errors(tmp_path):
    data = heic(tmp_path / "good.heic", marked((256, 192))).read_bytes()
    (tmp_path / "cut.heic").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"^cut\.heic: .*(corrupt|truncated)"):
        load_image(tmp_path / "cut.heic")
    (tmp_path / "header.heic").write_bytes(data[:40])
    with pytest.raises(ImageError, match=r"^header\.heic: .*corrupt"):
        load_image(tmp_path / "header.heic")
    with pytest.raises(ImageError, match=r"^good\.heic: 256x192 pixels is more than"):
        load_image(tmp_path / "good.heic", max_pixels=10_000)

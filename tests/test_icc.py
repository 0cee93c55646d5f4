"""Embedded colour profiles: real lcms2 conversions on profiles built from Pillow's sRGB one."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from icc_profiles import srgb_profile, swapped_profile
from modelgen import colour_model
from PIL import Image

from resnet_desktop.core.batch.run import BatchRun
from resnet_desktop.core.imaging.colour import convert_to_srgb, profile_of
from resnet_desktop.core.imaging.decode import image_from_bytes, load_image
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for

RED = (220, 20, 20)


def red_photo(path, icc: bytes | None, fmt: str = "JPEG", size=(64, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"icc_profile": icc} if icc is not None else {}
    Image.new("RGB", size, RED).save(path, fmt, **extra)
    return path


def mean_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image, np.float64).reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_pixels_in_another_colour_space_are_converted_to_srgb(tmp_path, fmt):
    plain = load_image(red_photo(tmp_path / f"plain.{fmt.lower()}", None, fmt))
    swapped = load_image(red_photo(tmp_path / f"swapped.{fmt.lower()}", swapped_profile(), fmt))
    r, g, _ = mean_rgb(plain)
    assert r > 180 and g < 60
    r, g, _ = mean_rgb(swapped)
    assert g > 150 and r < 100, "red in the swapped space is green in sRGB"


def test_an_srgb_profile_leaves_the_pixels_exactly_as_they_are(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    plain, tagged = tmp_path / "plain.png", tmp_path / "tagged.png"
    Image.fromarray(pixels).save(plain)
    Image.fromarray(pixels).save(tagged, icc_profile=srgb_profile())
    with Image.open(tagged) as opened:
        assert profile_of(opened) is not None
    assert np.array_equal(np.asarray(load_image(tagged)), pixels)
    assert np.array_equal(np.asarray(load_image(plain)), pixels)


def test_a_damaged_or_mismatched_profile_is_ignored_with_a_message(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="resnet_desktop.core.imaging.colour")
    damaged = load_image(red_photo(tmp_path / "damaged.jpg", b"not an icc profile" * 20))
    assert mean_rgb(damaged)[0] > 180
    assert "damaged colour profile" in caplog.text
    grey = Image.new("L", (32, 32), 128)
    path = tmp_path / "grey.png"
    grey.save(path, icc_profile=srgb_profile())
    assert np.asarray(load_image(path)).max() == 128
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(cmyk, icc_profile=srgb_profile())
    r, g, b = mean_rgb(load_image(cmyk))
    assert r > 200 and g < 40 and b < 40, "an RGB profile on CMYK pixels is not applied"
    assert "'RGB' colour profile on a CMYK image is ignored" in caplog.text


def test_pasted_bytes_are_converted_too(tmp_path):
    data = red_photo(tmp_path / "swapped.png", swapped_profile(), "PNG").read_bytes()
    r, g, _ = mean_rgb(image_from_bytes(data))
    assert g > 150 and r < 100


def test_an_image_without_rgb_or_cmyk_pixels_comes_back_unchanged():
    grey = Image.new("L", (4, 4), 7)
    assert convert_to_srgb(grey, swapped_profile()) is grey
    assert convert_to_srgb(grey, None) is grey


def test_decoding_threads_share_one_transform_safely(tmp_path):
    """The batch's workers convert at once with one cached transform; every image comes out
    the same and the colour model sees green."""
    icc = swapped_profile()
    folder = tmp_path / "photos"
    for i in range(24):
        red_photo(folder / f"{i:02d}.jpg", icc, size=(300 + i, 200))
    results: dict[int, np.ndarray] = {}

    def decode(i: int) -> None:
        results[i] = mean_rgb(load_image(folder / f"{i:02d}.jpg"))

    threads = [threading.Thread(target=decode, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    greens = [results[i][1] for i in range(24)]
    assert max(greens) - min(greens) < 2 and min(greens) > 150
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu", "colours", throughput=True)
    classifier.lanes = 2
    assert {r.label for r in BatchRun(classifier, folder)} == {"green"}

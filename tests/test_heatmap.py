"""Placing an activation map on the photo: the crop, the peak, the colours, the blend."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from resnet_desktop.core.imaging.crop_box import CropBox, crop_box
from resnet_desktop.core.imaging.heatmap import VIRIDIS, colourise, normalised, overlay, peak
from resnet_desktop.core.imaging.preprocess import crop_pixels
from resnet_desktop.core.models.manifest import Preprocessing


def _pre(resize: int = 256, size: int = 224) -> Preprocessing:
    return Preprocessing(input_size=size, resize=resize)


@pytest.mark.parametrize(("width", "height"), [(400, 300), (300, 400), (256, 256), (1000, 257)])
def test_crop_box_is_the_square_preprocessing_cuts(width, height):
    """Paint the box's pixels on a photo: preprocessing's crop sees only that colour."""
    pre = _pre()
    box = crop_box(width, height, pre)
    left, top, right, bottom = box.pixels(width, height)
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[top:bottom, left:right] = 200
    seen = crop_pixels(Image.fromarray(pixels), pre)
    # Bilinear resizing blurs the border by about one pixel; the inside is all the box.
    assert (seen[2:-2, 2:-2] == 200).all()
    assert right - left == pytest.approx((bottom - top), abs=1)


def test_peak_is_the_centre_of_the_strongest_cell_in_image_pixels():
    box = CropBox(0.25, 0.0, 0.75, 1.0)
    cam = np.zeros((4, 4), np.float32)
    cam[1, 3] = 5.0
    # Column 3 of 4 is the crop's last quarter: x fraction 0.25 + 0.875 * 0.5.
    assert peak(cam, box, 800, 400) == (int(0.6875 * 800), int(0.375 * 400))


def test_normalised_spans_zero_to_one_and_a_flat_map_is_zero():
    cam = np.array([[-2.0, 0.0], [2.0, 6.0]], np.float32)
    np.testing.assert_allclose(normalised(cam), [[0.0, 0.25], [0.5, 1.0]])
    assert not normalised(np.full((3, 3), 4.0)).any()


def test_colourise_is_smooth_and_uses_the_viridis_ends():
    cam = np.array([[0.0, 1.0]], np.float32)
    colours = colourise(cam, 64, 8)
    assert colours.shape == (8, 64, 3) and colours.dtype == np.uint8
    assert tuple(VIRIDIS[0]) == (0x44, 0x01, 0x54) and tuple(VIRIDIS[255]) == (0xfd, 0xe7, 0x25)
    assert tuple(colours[4, 0]) == tuple(VIRIDIS[0])
    assert tuple(colours[4, -1]) == tuple(VIRIDIS[255])
    # Upsampled, not blocky: many distinct colours between the two cells.
    assert len({tuple(c) for c in colours[4]}) > 20


def test_overlay_blends_inside_the_crop_and_dims_outside():
    photo = Image.new("RGB", (200, 100), (100, 100, 100))
    box = CropBox(0.25, 0.0, 0.75, 1.0)
    cam = np.ones((7, 7), np.float32)  # flat: level 0 everywhere
    result = np.asarray(overlay(photo, cam, box, opacity=0.5, outside=0.5)).astype(int)
    assert result.shape == (100, 200, 3)
    assert (result[:, :50] == 50).all() and (result[:, 150:] == 50).all()
    expected = np.rint(100 * 0.5 + VIRIDIS[0].astype(float) * 0.5).astype(int)
    assert (result[:, 50:150] == expected).all()
    untouched = np.asarray(overlay(photo, cam, box, opacity=0.0, outside=1.0))
    assert (untouched == 100).all()

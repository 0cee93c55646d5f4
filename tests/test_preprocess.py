"""preprocess() against an independent copy of the ONNX Model Zoo's reference preprocessing."""

from __future__ import annotations

import os

import numpy as np
import pytest
import skimage.data
from PIL import Image

from resnet_desktop.core.imaging.preprocess import (
    crop_origin,
    crop_pixels,
    output_shape,
    preprocess,
    preprocess_batch,
    resized_size,
)
from resnet_desktop.core.models.manifest import Preprocessing

SKIMAGE_DATA = os.path.dirname(skimage.data.__file__)
ZOO_MEAN = [0.485, 0.456, 0.406]
ZOO_STD = [0.229, 0.224, 0.225]


def zoo_reference(image, min_len=256, crop=224, mean=ZOO_MEAN, std=ZOO_STD):
    """The zoo's imagenet_preprocess.py ``preprocess``, step by step, sizes made parameters."""
    ratio = float(min_len) / min(image.size[0], image.size[1])
    if image.size[0] > image.size[1]:
        new_size = (int(round(ratio * image.size[0])), min_len)  # noqa: RUF046 (as the zoo)
    else:
        new_size = (min_len, int(round(ratio * image.size[1])))  # noqa: RUF046
    pixels = np.array(image.resize(new_size, Image.BILINEAR))
    h, w, _ = pixels.shape
    start_x = w // 2 - crop // 2
    start_y = h // 2 - crop // 2
    pixels = pixels[start_y:start_y + crop, start_x:start_x + crop, :]
    img_data = pixels.transpose(2, 0, 1).astype("float32")
    mean_vec = np.array(mean)
    stddev_vec = np.array(std)
    norm = np.zeros(img_data.shape).astype("float32")
    for i in range(img_data.shape[0]):
        norm[i, :, :] = (img_data[i, :, :] / 255 - mean_vec[i]) / stddev_vec[i]
    return norm


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Natural content at any size: the chelsea photo resized, plus a little noise."""
    with Image.open(os.path.join(SKIMAGE_DATA, "chelsea.png")) as original:
        base = original.convert("RGB")
    pixels = np.asarray(base.resize(size, Image.BICUBIC)).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-6, 7, pixels.shape, dtype=np.int16)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


SIZES = [
    (640, 480),    # landscape
    (480, 640),    # portrait
    (300, 300),    # square
    (100, 60),     # smaller than resize: upscaled
    (333, 517),    # odd sizes
    (1000, 700),   # round() and int() disagree on the long side: 366 vs 365
    (257, 256),
    (1001, 999),
]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_matches_zoo_reference(size):
    image = photo(size)
    got = preprocess(image, Preprocessing())
    want = zoo_reference(image)
    assert got.shape == (3, 224, 224)
    assert got.dtype == np.float32
    assert got.flags.c_contiguous
    assert np.abs(got - want).max() < 1e-5


def test_real_photos_match_zoo_reference():
    for name in ("coffee.png", "chelsea.png"):
        with Image.open(os.path.join(SKIMAGE_DATA, name)) as original:
            image = original.convert("RGB")
        assert np.abs(preprocess(image, Preprocessing()) - zoo_reference(image)).max() < 1e-5


def test_other_sizes_and_normalisation_match_reference():
    image = photo((500, 377))
    pre = Preprocessing(input_size=299, resize=342, mean=(127.0,) * 3, std=(128.0,) * 3)
    want = zoo_reference(image, 342, 299, mean=[127 / 255] * 3, std=[128 / 255] * 3)
    assert np.abs(preprocess(image, pre) - want).max() < 1e-5


def test_nhwc_is_the_transpose():
    image = photo((400, 300))
    got = preprocess(image, Preprocessing(layout="NHWC"))
    assert got.shape == (224, 224, 3)
    assert got.flags.c_contiguous
    assert np.abs(got - zoo_reference(image).transpose(1, 2, 0)).max() < 1e-5


def test_bgr_keeps_each_mean_with_its_colour():
    red = Image.new("RGB", (300, 300), (255, 0, 0))
    rgb = preprocess(red, Preprocessing())
    bgr = preprocess(red, Preprocessing(color="BGR"))
    # By hand: red channel (1 - 0.485) / 0.229, green (0 - 0.456) / 0.224, blue -0.406 / 0.225.
    expect_r, expect_g, expect_b = (1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225
    np.testing.assert_allclose(rgb[:, 0, 0], [expect_r, expect_g, expect_b], atol=1e-5)
    np.testing.assert_allclose(bgr[:, 0, 0], [expect_b, expect_g, expect_r], atol=1e-5)
    image = photo((350, 260))
    np.testing.assert_allclose(preprocess(image, Preprocessing(color="BGR")),
                               zoo_reference(image)[::-1], atol=1e-5)
    nhwc_bgr = preprocess(image, Preprocessing(color="BGR", layout="NHWC"))
    np.testing.assert_allclose(nhwc_bgr, zoo_reference(image)[::-1].transpose(1, 2, 0),
                               atol=1e-5)


def test_zoo_size_rules_not_torchvision():
    assert resized_size(500, 375, 256) == (341, 256)
    assert resized_size(375, 500, 256) == (256, 341)
    assert resized_size(1000, 700, 256) == (366, 256)  # torchvision: int(365.7) = 365
    assert resized_size(300, 300, 256) == (256, 256)
    assert resized_size(50, 20, 256) == (640, 256)
    assert crop_origin(341, 256, 224) == (58, 16)
    assert crop_origin(343, 256, 224) == (59, 16)  # torchvision: round(59.5) = 60


def test_non_rgb_input_is_converted():
    grey = photo((320, 240)).convert("L")
    got = preprocess(grey, Preprocessing())
    assert np.abs(got - zoo_reference(grey.convert("RGB"))).max() < 1e-5


def test_extreme_aspect_ratio_resamples_only_the_crop():
    strip = photo((4000, 30))
    got = preprocess(strip, Preprocessing())
    # Same pixels as the reference up to one 8-bit level (1 / 255 / 0.224 = 0.0175).
    assert np.abs(got - zoo_reference(strip)).max() < 0.02
    line = Image.new("RGB", (1, 200_000), (10, 200, 30))
    assert crop_pixels(line, Preprocessing()).shape == (224, 224, 3)


def test_batch_stacks_in_order():
    images = [photo((400, 300), 1), photo((256, 512), 2), photo((224, 224), 3)]
    pre = Preprocessing()
    batch = preprocess_batch(images, pre)
    assert batch.shape == (3, 3, 224, 224)
    assert batch.dtype == np.float32
    assert batch.flags.c_contiguous
    for i, image in enumerate(images):
        np.testing.assert_array_equal(batch[i], preprocess(image, pre))
    from_generator = preprocess_batch((im for im in images), Preprocessing(layout="NHWC"))
    assert from_generator.shape == (3, 224, 224, 3)
    assert preprocess_batch([], pre).shape == (0, 3, 224, 224)
    assert output_shape(Preprocessing(input_size=160, resize=183, layout="NHWC")) == (160, 160, 3)


def test_resize_smaller_than_crop_is_refused():
    with pytest.raises(ValueError, match="smaller than input_size"):
        preprocess(photo((300, 300)), Preprocessing(input_size=224, resize=200))

"""Camera frames to RGB: pixel formats, stride padding, brightness, saving; the rate meter."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat

from resnet_desktop.core.foundation.errors import ImageError
from resnet_desktop.gui.camera.frames import (
    DARK_LUMINANCE,
    frame_to_qimage,
    is_dark,
    mean_luminance,
    save_rgb,
)
from resnet_desktop.gui.camera.live import RateMeter
from resnet_desktop.gui.widgets.image_convert import qimage_to_pil

pytestmark = pytest.mark.gui

PixelFormat = QVideoFrameFormat.PixelFormat
RED_YUV = (81, 90, 240)
"""Pure red in BT.601 limited-range YCbCr."""


def yuv_frame(fmt: PixelFormat, width: int, height: int, yuv: tuple[int, int, int]) -> QVideoFrame:
    """A frame in a camera's own pixel format, filled with one colour."""
    y, u, v = yuv
    frame = QVideoFrame(QVideoFrameFormat(QSize(width, height), fmt))
    assert frame.map(QVideoFrame.MapMode.WriteOnly)
    if fmt == PixelFormat.Format_NV12:
        np.asarray(frame.bits(0))[:] = y
        chroma = np.asarray(frame.bits(1)).reshape(-1, 2)
        chroma[:, 0], chroma[:, 1] = u, v
    elif fmt == PixelFormat.Format_YUV420P:
        np.asarray(frame.bits(0))[:] = y
        np.asarray(frame.bits(1))[:] = u
        np.asarray(frame.bits(2))[:] = v
    elif fmt == PixelFormat.Format_YUYV:
        packed = np.asarray(frame.bits(0)).reshape(-1, 4)
        packed[:] = (y, u, y, v)
    else:
        raise AssertionError(fmt)
    frame.unmap()
    return frame


def solid_image(colour: QColor, width: int = 64, height: int = 48,
                fmt: QImage.Format = QImage.Format.Format_RGB32) -> QImage:
    image = QImage(width, height, fmt)
    image.fill(colour)
    return image


@pytest.mark.parametrize("fmt", [PixelFormat.Format_NV12, PixelFormat.Format_YUV420P,
                                 PixelFormat.Format_YUYV])
def test_yuv_camera_frames_become_rgb(qapp, fmt):
    frame = yuv_frame(fmt, 64, 48, RED_YUV)
    rgb = np.asarray(qimage_to_pil(frame_to_qimage(frame)))
    assert rgb.shape == (48, 64, 3)
    r, g, b = rgb.reshape(-1, 3).mean(axis=0)
    assert r > 230 and g < 30 and b < 30


@pytest.mark.parametrize("fmt", [QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32,
                                 QImage.Format.Format_RGBX8888, QImage.Format.Format_BGR888])
def test_rgb_frames_keep_their_colours(qapp, fmt):
    image = solid_image(QColor(10, 200, 30), fmt=fmt)
    rgb = np.asarray(qimage_to_pil(frame_to_qimage(QVideoFrame(image))))
    assert rgb.shape == (48, 64, 3)
    assert tuple(rgb[0, 0]) == (10, 200, 30)


def test_padded_rows_are_not_read_as_pixels(qapp):
    # 33 RGB888 pixels are 99 bytes; Qt pads each row to 100.
    image = QImage(33, 5, QImage.Format.Format_RGB888)
    image.fill(QColor(0, 0, 255))
    image.setPixelColor(32, 4, QColor(255, 255, 0))
    assert image.bytesPerLine() > 33 * 3
    rgb = np.asarray(qimage_to_pil(image))
    assert rgb.shape == (5, 33, 3)
    assert tuple(rgb[4, 32]) == (255, 255, 0)
    assert tuple(rgb[0, 0]) == (0, 0, 255)


def test_an_empty_frame_is_none(qapp):
    assert frame_to_qimage(QVideoFrame()) is None


def test_darkness(qapp):
    assert is_dark(solid_image(QColor(0, 0, 0)))
    assert is_dark(solid_image(QColor(5, 5, 8)))
    assert not is_dark(solid_image(QColor(255, 0, 0)))
    assert not is_dark(solid_image(QColor(40, 40, 40)))
    assert mean_luminance(solid_image(QColor(255, 255, 255))) == pytest.approx(255, abs=0.5)
    assert mean_luminance(QImage()) < DARK_LUMINANCE


def test_save_round_trip_and_bad_names(qapp, tmp_path):
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :15] = (255, 0, 0)
    with Image.open(save_rgb(pixels, tmp_path / "snap.png")) as saved:
        assert np.array_equal(np.asarray(saved), pixels)
    with Image.open(save_rgb(pixels, tmp_path / "snap.JPG")) as saved:
        assert saved.format == "JPEG"

    with pytest.raises(ImageError, match=r"snap\.gifx: cannot save as \.gifx"):
        save_rgb(pixels, tmp_path / "snap.gifx")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ImageError, match="cannot be saved"):
        save_rgb(pixels, blocker / "snap.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder", "snap.JPG",
                                                          "snap.png"]


def test_rate_meter_counts_events_in_its_window():
    meter = RateMeter(window=2.0)
    assert meter.rate(now=0.0) == 0.0
    for i in range(11):
        meter.tick(now=10.0 + i * 0.1)  # 10 per second for one second
    assert meter.rate(now=11.0) == pytest.approx(10.0)
    assert meter.rate(now=12.5) == pytest.approx(5 / 2.0)  # older ticks fell out, rate decays
    assert meter.rate(now=20.0) == 0.0
    meter.tick(now=30.0)
    meter.reset()
    assert meter.rate(now=30.0) == 0.0

"""Small GUI helpers: texts, the confidence rule, settings location, pixel conversion, errors."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage

from resnet_desktop.core.foundation.errors import OfflineError
from resnet_desktop.core.keywords.confidence import is_confident
from resnet_desktop.gui import error_hook
from resnet_desktop.gui.settings import INI_NAME, app_settings, read_str_list
from resnet_desktop.gui.widgets.formatting import (
    download_text,
    format_bytes,
    format_duration,
    format_percent,
    time_left,
)
from resnet_desktop.gui.widgets.image_convert import pil_to_qimage, qimage_to_rgb_array

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(("count", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (46_820_737, "46.8 MB"),
    (2_500_000_000, "2.5 GB"), (5e12, "5000.0 GB"),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "<1 s"), (45.4, "45 s"), (185, "3 min 05 s"), (3720, "1 h 02 min"),
    (float("inf"), "?"), (-1, "?"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_download_text_and_time_left():
    assert time_left(0, 0, 10.0) is None and time_left(5, 10, 0.0) is None
    assert time_left(50, 150, 10.0) == 10.0
    assert download_text("ResNet-50 v2", 12_300_000, 102_442_452, 4_100_000) == \
        "ResNet-50 v2: 12.3 MB of 102.4 MB · 4.1 MB/s · 22 s left"
    assert download_text("m", 100, 0, 0.0) == "m: 100 B"


@pytest.mark.parametrize(("p", "text"), [
    (0.957, "95.7%"), (0.9999, "100%"), (0.0004, "<0.1%"), (0.0, "0.0%"), (0.0005, "0.1%"),
])
def test_format_percent(p, text):
    assert format_percent(p) == text


@pytest.mark.parametrize(("probabilities", "confident"), [
    ([0.9, 0.05], True), ([0.31, 0.1], True), ([0.29, 0.1], False), ([0.5, 0.46], False),
    ([0.5, 0.44], True), ([0.8], True), ([], False), ([0.1, 0.6, 0.2], True),
])
def test_confidence_rule(probabilities, confident):
    assert is_confident(probabilities) is confident


def test_settings_live_in_the_folder_named_by_the_environment(isolated_dirs):
    settings = app_settings()
    assert settings.format() == QSettings.Format.IniFormat
    assert settings.fileName() == str(isolated_dirs / "settings" / INI_NAME)
    settings.setValue("recent/images", ["a.png"])
    settings.sync()
    assert read_str_list(app_settings(), "recent/images") == ["a.png"]
    assert read_str_list(app_settings(), "missing") == []


def test_native_settings_without_the_override(monkeypatch):
    monkeypatch.delenv("RESNET_DESKTOP_SETTINGS")
    settings = app_settings()
    assert settings.organizationName() == "ResNetDesktop"
    assert settings.applicationName() == "ResNet Desktop"


def test_pixels_round_trip_between_pillow_and_qimage(qapp):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)  # odd width: padded rows
    qimage = pil_to_qimage(Image.fromarray(pixels))
    assert (qimage.width(), qimage.height()) == (5, 7)
    assert np.array_equal(qimage_to_rgb_array(qimage), pixels)


def test_transparent_qimages_are_composited_over_white(qapp):
    image = QImage(4, 3, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    assert qimage_to_rgb_array(image).min() == 255


def test_error_hook_logs_and_reports_one_line(qapp, qtbot, caplog):
    reporter = error_hook.ErrorReporter()
    previous = sys.excepthook
    uninstall = error_hook.install(reporter)
    try:
        with qtbot.waitSignal(reporter.reported) as reported:
            sys.excepthook(RuntimeError, RuntimeError("disk on fire\nmore"), None)
        assert reported.args[0] == ("Unexpected error (RuntimeError: disk on fire); details "
                                    "are in the log")
        with qtbot.waitSignal(reporter.reported, timeout=2000) as reported:
            thread = threading.Thread(target=lambda: (_ for _ in ()).throw(
                OfflineError("model x is not cached")))
            thread.start()
            thread.join()
        assert reported.args[0] == "model x is not cached"
    finally:
        uninstall()
    assert sys.excepthook is previous
    assert "disk on fire" in caplog.text


def test_the_icon_pngs_are_renders_of_the_svg(qapp):
    from resnet_desktop.gui.widgets.icon import (
        PNG_SIZES,
        app_icon,
        icons_dir,
        png_name,
        render_icon,
    )

    for size in PNG_SIZES:
        stored = QImage(str(icons_dir() / png_name(size)))
        assert (stored.width(), stored.height()) == (size, size)
        fresh = qimage_to_rgb_array(render_icon(size)).astype(int)
        assert np.abs(qimage_to_rgb_array(stored).astype(int) - fresh).mean() < 1.0, \
            "run `python -m resnet_desktop.gui.widgets.icon` after changing the SVG"
    assert not app_icon().isNull()

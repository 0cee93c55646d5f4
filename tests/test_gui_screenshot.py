"""``resnet-desktop --model … --image … --screenshot OUT.png``: a real PNG of a real result."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import modelgen
import numpy as np
import pytest
from PIL import Image

from resnet_desktop.gui import app

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parent.parent


def pixel_spread(path: Path) -> float:
    with Image.open(path) as image:
        return float(np.asarray(image.convert("L"), dtype=np.float32).std())


def test_screenshot_with_the_real_model_shows_espresso(shared_model, photos, tmp_path):
    out = tmp_path / "docs" / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "resnet_desktop", "-v", "--model", str(shared_model),
         "--image", str(photos["coffee"]), "--screenshot", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "the chart shows 'Coffee — " in proc.stderr  # the category over the leaf bars
    assert ": espresso 9" in proc.stderr
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.width >= 1000 and image.height >= 600
    assert pixel_spread(out) > 20  # a real picture, not a blank window
    assert not [p for p in out.parent.iterdir() if p.name != "shot.png"]  # no temp files left
    if os.name == "posix":  # the permissions of any file the user saves, not private ones
        umask = os.umask(0o022)
        os.umask(umask)
        assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_screenshot_in_process_with_a_generated_model(qapp, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="resnet_desktop.gui.screenshot")
    image = tmp_path / "green.png"
    Image.new("RGB", (120, 80), (0, 200, 0)).save(image)
    out = tmp_path / "shot.png"
    code = app.run(["--model", str(modelgen.colour_model(tmp_path / "m")), "--image", str(image),
                    "--screenshot", str(out)])
    assert code == 0
    assert "the chart shows 'green'" in caplog.text
    assert pixel_spread(out) > 10


def test_a_bad_model_fails_with_a_message(qapp, tmp_path, capsys):
    out = tmp_path / "shot.png"
    code = app.run(["--model", str(tmp_path / "nope.onnx"), "--screenshot", str(out)])
    assert code != 0
    err = capsys.readouterr().err
    assert "nope.onnx" in err and "not found" in err
    assert not out.exists()


def test_a_model_that_does_not_load_is_photographed_and_named(qapp, tmp_path, capsys):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00" * 64)
    image = tmp_path / "red.png"
    Image.new("RGB", (20, 20), (255, 0, 0)).save(image)
    out = tmp_path / "shot.png"
    code = app.run(["--model", str(broken), "--image", str(image), "--screenshot", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "the screenshot shows an error" in err and "broken.onnx" in err
    assert pixel_spread(out) > 10


def test_a_bad_image_is_photographed_and_named(qapp, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    out = tmp_path / "shot.png"
    code = app.run(["--model", str(modelgen.colour_model(tmp_path / "m")), "--image", str(notes),
                    "--screenshot", str(out)])
    assert code == 0
    assert "not a supported image" in capsys.readouterr().err
    assert pixel_spread(out) > 10


def test_unknown_options_are_refused(qapp, capsys):
    assert app.run(["--frobnicate"]) == 2
    assert "--frobnicate" in capsys.readouterr().err


def test_a_broken_catalog_is_a_message(qapp, tmp_path, monkeypatch, capsys):
    catalog = tmp_path / "models.json"
    catalog.write_text("{broken")
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(catalog))
    assert app.run(["--screenshot", str(tmp_path / "shot.png")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_the_window_opens_with_a_model_and_an_image_and_closes(qapp, tmp_path):
    """The ordinary start: no --screenshot; the test closes the window once the result shows."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_desktop.gui.main_window import MainWindow
    from resnet_desktop.gui.settings import app_settings, read_str_list

    image = tmp_path / "blue.png"
    Image.new("RGB", (30, 30), (0, 0, 255)).save(image)
    seen: list[str] = []

    def watch() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].chart.labels():
            seen.append(windows[0].chart.labels()[0])
            windows[0].close()
        else:
            QTimer.singleShot(20, watch)

    QTimer.singleShot(20, watch)
    QTimer.singleShot(20_000, qapp.quit)  # a safety net, never reached when all is well
    model = modelgen.colour_model(tmp_path / "m")
    assert app.run(["--model", str(model), "--image", str(image), "--provider", "cpu"]) == 0
    assert seen == ["blue"]
    assert app_settings().value("model/last") == str(model.resolve())
    assert read_str_list(app_settings(), "recent/images") == [str(image.resolve())]


def test_positional_images_size_and_an_offline_resnet(qapp, tmp_path, capsys, monkeypatch,
                                                      photos):
    """What a person sees when the chosen ResNet cannot be downloaded, at 800×600."""
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    out = tmp_path / "offline.png"
    code = app.run(["--model", "resnet50-v2-7", "--screenshot", str(out), "--size", "800x600",
                    str(photos["coffee"])])
    assert code == 0
    assert "the screenshot shows an error" in capsys.readouterr().err
    with Image.open(out) as image:
        assert image.size == (800, 600)


@pytest.mark.parametrize("tab", ["batch", "camera", "info"])
def test_any_tab_at_any_size(qapp, tmp_path, photos, tab, caplog):
    caplog.set_level(logging.INFO, logger="resnet_desktop.gui.screenshot")
    out = tmp_path / f"{tab}.png"
    code = app.run(["--screenshot", str(out), "--size", "900x640", "--tab", tab,
                    str(photos["coffee"])])
    assert code == 0
    assert "espresso" in caplog.text  # the image was classified before the tab was shown
    with Image.open(out) as image:
        assert image.size == (900, 640)
    assert pixel_spread(out) > 10


def test_the_info_tab_without_an_image_is_taken_once_the_facts_are_read(qapp, tmp_path,
                                                                        monkeypatch):
    """The Model Info panel is built when first needed: the screenshot still waits for the
    facts of the model that loads, instead of photographing "Reading …"."""
    from resnet_desktop.core.engine import Engine
    from resnet_desktop.gui.screenshot import ScreenshotTaker

    describe = Engine.describe

    def slow_describe(self: Engine, *args, **kwargs):
        time.sleep(0.5)  # longer than the screenshot's settling time
        return describe(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "describe", slow_describe)
    busy_at_grab: list[bool] = []
    grab = ScreenshotTaker._grab

    def recording_grab(self: ScreenshotTaker) -> None:
        busy_at_grab.append(self._window.info_panel.busy_computing)
        grab(self)

    monkeypatch.setattr(ScreenshotTaker, "_grab", recording_grab)
    assert app.run(["--screenshot", str(tmp_path / "info.png"), "--tab", "info"]) == 0
    assert busy_at_grab and not busy_at_grab[-1]


def test_a_bad_size_is_a_usage_error(qapp, tmp_path, capsys):
    assert app.run(["--screenshot", str(tmp_path / "x.png"), "--size", "800by600"]) == 2
    assert "'800by600' is not a size like 800x600" in capsys.readouterr().err


def test_a_tab_named_like_a_command_still_opens_the_window(qapp, tmp_path, photos):
    """``--tab info`` and ``--tab compare`` are values, not the info and compare commands."""
    from resnet_desktop.cli import main

    out = tmp_path / "compare.png"
    assert main(["--screenshot", str(out), "--tab", "compare", str(photos["coffee"])]) == 0
    assert pixel_spread(out) > 10

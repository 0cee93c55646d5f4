"""The Camera tab driven through the real Qt Multimedia pipeline, without a camera.

Frames go into the panel's QMediaCaptureSession through a QVideoFrameInput (the seam the panel
offers for this), reach its QVideoSink, and are classified by generated models in real ONNX
Runtime sessions.
"""

from __future__ import annotations

import json
from pathlib import Path

import modelgen
import numpy as np
import pytest
import shiboken6
from gui_helpers import MAX_BLOCKED_S, GuiProbe
from PIL import Image
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtMultimedia import (
    QCamera,
    QMediaDevices,
    QVideoFrame,
    QVideoFrameFormat,
    QVideoFrameInput,
)
from PySide6.QtWidgets import QApplication

from resnet_desktop.core.engine import Engine
from resnet_desktop.gui.camera import messages
from resnet_desktop.gui.camera.panel import CameraPanel, sent_snapshots_dir
from resnet_desktop.gui.camera.source import CameraState, choose_device
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

RED = QColor(255, 0, 0)
GREEN = QColor(0, 255, 0)
BLACK = QColor(0, 0, 0)


def write_model(folder: Path, name: str, labels: list[str], **manifest) -> Path:
    """A custom model: ``name.onnx`` + its labels file + sidecar manifest."""
    modelgen.write_labels(folder / f"{name}.txt", labels)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "labels": f"{name}.txt",
                                                     **manifest}), encoding="utf-8")
    return folder / f"{name}.onnx"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("camera-models")
    colour = write_model(folder, "colour", ["red", "green", "blue"], input_size=32, resize=32)
    modelgen.colour_classifier(colour)
    french = write_model(folder, "couleur", ["rouge", "vert", "bleu"], input_size=32, resize=32)
    modelgen.colour_classifier(french)
    # ~1 GFLOP at 224 px; at 448 px four times that, so even an idle fast machine needs
    # 50+ ms a frame, far slower than the 60 frames/s the live test sends.
    slow = write_model(folder, "slow", [f"class {i}" for i in range(10)], input_size=448,
                       resize=448)
    modelgen.resnet(slow, depth=50, width=32, num_classes=10, input_size=448)
    return {"colour": colour, "french": french, "slow": slow}


def frame(colour: QColor, width: int = 160, height: int = 120) -> QVideoFrame:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(colour)
    return QVideoFrame(image)


@pytest.fixture
def frame_input(qapp) -> QVideoFrameInput:
    return QVideoFrameInput()


@pytest.fixture
def panel(qtbot, frame_input, models):
    widget = CameraPanel(ModelService(Engine()), video_source=frame_input)
    widget.models.select(str(models["colour"]), "cpu")
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    yield widget
    assert widget.shutdown()


def send(qtbot, panel: CameraPanel, frame_input: QVideoFrameInput, colour: QColor,
         count: int = 1) -> None:
    """Send frames through the capture session and wait until the panel has them."""
    expected = panel.frames_received() + count
    for _ in range(count):
        assert frame_input.sendVideoFrame(frame(colour))
    qtbot.waitUntil(lambda: panel.frames_received() >= expected, timeout=5000)


def test_snapshot_of_a_red_frame_is_red(qtbot, panel, frame_input):
    assert panel.state() == CameraState.STARTING
    send(qtbot, panel, frame_input, RED, 2)
    assert panel.state() == CameraState.PREVIEWING
    assert panel.message() == ""
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000) as blocker:
        qtbot.mouseClick(panel.snapshot_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert result.ok and result.top[0].label == "red" and result.top[0].probability > 0.9
    assert result.model == "colour" and result.provider == "cpu"
    assert [p.label for p in result.top] == panel.chart.labels()[:len(result.top)]
    assert panel.chart.headline() == "red"
    assert panel.snapshot_image().pixelColor(0, 0) == RED
    assert panel.save_button.isEnabled() and panel.send_button.isEnabled()


def test_space_takes_a_snapshot(qtbot, panel, frame_input):
    send(qtbot, panel, frame_input, GREEN)
    panel.activateWindow()
    panel.live_button.setFocus()
    qtbot.waitUntil(panel.live_button.hasFocus)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000) as blocker:
        qtbot.keyClick(panel.live_button, Qt.Key.Key_Space)
    assert blocker.args[0].top[0].label == "green"
    assert not panel.live_button.isChecked()


def test_snapshot_waits_for_the_camera_to_warm_up(qtbot, panel, frame_input):
    panel.snapshot_wait_ms = 60_000
    send(qtbot, panel, frame_input, BLACK, 5)
    results = []
    panel.snapshot_classified.connect(results.append)
    panel.take_snapshot()
    assert panel.status() == messages.SNAPSHOT_WAITING
    send(qtbot, panel, frame_input, BLACK, 3)
    assert not panel.has_snapshot()
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000) as blocker:
        assert frame_input.sendVideoFrame(frame(RED))
    assert blocker.args[0].top[0].label == "red"
    assert panel.snapshot_image().pixelColor(10, 10) == RED
    assert len(results) == 1
    assert panel.status() == ""


def test_a_camera_that_stays_dark_still_gets_its_snapshot(qtbot, panel, frame_input):
    panel.snapshot_wait_ms = 100
    send(qtbot, panel, frame_input, BLACK, 3)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000):
        panel.take_snapshot()
    assert panel.status() == messages.SNAPSHOT_DARK
    assert panel.snapshot_image().pixelColor(0, 0) == BLACK


def test_a_yuv_camera_frame_is_classified_like_rgb(qtbot, panel, frame_input):
    yuv = QVideoFrame(QVideoFrameFormat(QSize(64, 48), QVideoFrameFormat.PixelFormat.Format_NV12))
    assert yuv.map(QVideoFrame.MapMode.WriteOnly)
    np.asarray(yuv.bits(0))[:] = 145  # pure green in BT.601 limited range: Y 145, Cb 54, Cr 34
    chroma = np.asarray(yuv.bits(1)).reshape(-1, 2)
    chroma[:, 0], chroma[:, 1] = 54, 34
    yuv.unmap()
    assert frame_input.sendVideoFrame(yuv)
    qtbot.waitUntil(lambda: panel.frames_received() == 1)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000) as blocker:
        panel.take_snapshot()
    assert blocker.args[0].top[0].label == "green"


def test_live_mode_drops_frames_under_load_and_the_gui_stays_responsive(
        qtbot, panel, frame_input, models):
    panel.models.select(str(models["slow"]), "cpu")
    send(qtbot, panel, frame_input, RED)
    live = []
    panel.live_classified.connect(live.append)
    with qtbot.waitSignal(panel.live_classified, timeout=20_000):
        panel.live_button.click()  # the first answer also waits for the model to load
    assert panel.live_button.isChecked()

    sent = 0
    feeder = QTimer(interval=15)  # ~60 frames/s, several times what the model sustains

    def feed() -> None:
        nonlocal sent
        sent += 1
        frame_input.sendVideoFrame(frame(RED if sent % 2 else GREEN, 320, 240))

    feeder.timeout.connect(feed)
    classified_before = len(live)
    with GuiProbe() as probe:
        feeder.start()
        qtbot.waitUntil(lambda: sent >= 120, timeout=20_000)
        feeder.stop()
    classified = len(live) - classified_before

    assert classified >= 2
    assert classified * 2 < sent, (classified, sent)
    assert panel.classifier().frames_dropped() > 0
    assert max(probe.blocked) < MAX_BLOCKED_S, probe.summary()  # CPU waits aside
    assert all(r.ok and r.model == "slow" for r in live)
    qtbot.waitUntil(lambda: "classifications/s" in panel.rate_label.text(), timeout=2000)
    assert panel.live_rate() > 0

    panel.live_button.click()
    assert not panel.classifier().is_live()
    assert panel.rate_label.text() == ""
    count = len(live)
    send(qtbot, panel, frame_input, RED, 3)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=20_000):
        panel.take_snapshot()  # a sentinel: it goes ahead of anything live still on its way
    assert len(live) == count  # no answers once live mode is off


def test_live_answers_follow_the_model(qtbot, panel, frame_input, models):
    send(qtbot, panel, frame_input, RED)
    with qtbot.waitSignal(panel.live_classified, timeout=10_000) as blocker:
        panel.set_live(True)
    assert blocker.args[0].top[0].label == "red"
    panel.models.select(str(models["french"]), "cpu")

    def french_answer(result) -> bool:
        return result.top[0].label == "rouge"

    with qtbot.waitSignal(panel.live_classified, timeout=10_000, check_params_cb=french_answer):
        send(qtbot, panel, frame_input, RED, 2)
    panel.set_live(False)


def test_changing_the_model_classifies_the_snapshot_again(qtbot, panel, frame_input, models):
    send(qtbot, panel, frame_input, RED)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000):
        panel.take_snapshot()
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000) as blocker:
        panel.models.select(str(models["french"]), "cpu")
    assert blocker.args[0].top[0].label == "rouge"
    assert panel.chart.headline() == "rouge"


def test_a_model_that_cannot_load_is_a_message(qtbot, panel, frame_input, tmp_path):
    panel.models.select(str(tmp_path / "missing.onnx"), "cpu")
    send(qtbot, panel, frame_input, RED)
    panel.take_snapshot()
    qtbot.waitUntil(lambda: "missing.onnx" in panel.status(), timeout=10_000)
    assert "not found" in panel.status()
    panel.set_live(True)
    send(qtbot, panel, frame_input, RED, 2)
    qtbot.waitUntil(lambda: not panel.live_button.isChecked(), timeout=10_000)


def test_save_and_send_the_snapshot(qtbot, panel, frame_input, tmp_path):
    assert panel.save_snapshot(tmp_path / "early.png") is None
    assert panel.status() == "Take a snapshot first."
    send(qtbot, panel, frame_input, RED)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000):
        panel.take_snapshot()

    saved = panel.save_snapshot(tmp_path / "red.jpg")
    assert saved == tmp_path / "red.jpg"
    with Image.open(saved) as image:
        assert image.format == "JPEG" and image.size == (160, 120)
        r, g, b = image.getpixel((80, 60))
        assert r > 240 and g < 15 and b < 15
    assert panel.save_snapshot(tmp_path / "red.xyz") is None
    assert "cannot save as .xyz" in panel.status()
    assert not (tmp_path / "red.xyz").exists()

    with qtbot.waitSignal(panel.snapshot_sent) as blocker:
        panel.send_button.click()
    sent = Path(blocker.args[0])
    assert sent.parent == sent_snapshots_dir() and sent.suffix == ".png"
    with Image.open(sent) as image:
        assert image.getpixel((0, 0)) == (255, 0, 0)


def test_mirror_flips_the_preview_only(qtbot, panel, frame_input):
    image = QImage(160, 120, QImage.Format.Format_RGB32)
    image.fill(RED)
    for x in range(80, 160):
        for y in range(120):
            image.setPixelColor(x, y, QColor(0, 0, 255))
    assert frame_input.sendVideoFrame(QVideoFrame(image))
    qtbot.waitUntil(lambda: panel.frames_received() == 1)

    def left_colour() -> QColor:
        grab = panel.preview.grab().toImage()
        return grab.pixelColor(grab.width() // 4, grab.height() // 2)

    assert left_colour() == RED
    panel.mirror_box.setChecked(True)
    assert left_colour() == QColor(0, 0, 255)
    with qtbot.waitSignal(panel.snapshot_classified, timeout=10_000):
        panel.take_snapshot()
    assert panel.snapshot_image().pixelColor(0, 0) == RED  # snapshots are not mirrored


def test_a_silent_camera_says_so_and_recovers(qtbot, panel, frame_input):
    panel.source.stall_timeout_ms = 300
    send(qtbot, panel, frame_input, RED)
    qtbot.waitUntil(lambda: panel.state() == CameraState.STALLED, timeout=5000)
    assert "No picture from the camera" in panel.message()
    assert "in use by another app" in panel.message()
    send(qtbot, panel, frame_input, GREEN)
    assert panel.state() == CameraState.PREVIEWING
    assert panel.message() == ""


def test_a_camera_error_during_preview_is_a_message(qtbot, models):
    camera = QCamera()  # no device on a test machine: it never delivers a frame
    widget = CameraPanel(ModelService(Engine()))
    qtbot.addWidget(widget)
    widget.show()
    try:
        widget.use_camera(camera)
        assert widget.state() == CameraState.STARTING
        assert widget.snapshot_button.isEnabled()
        with qtbot.waitSignal(widget.state_changed) as blocker:
            camera.errorOccurred.emit(QCamera.Error.CameraError, "Device or resource busy")
        assert blocker.args == [CameraState.ERROR]
        assert "Device or resource busy" in widget.message()
        assert "in use by another app" in widget.message()
        assert widget.retry_button.isVisible()
        assert not widget.snapshot_button.isEnabled()
        assert not widget.live_button.isEnabled()
        widget.take_snapshot()
        assert widget.status() == messages.NO_SOURCE
    finally:
        assert widget.shutdown()


def test_a_camera_unplugged_during_preview_is_a_message(qtbot):
    if QMediaDevices.videoInputs():
        pytest.skip("this machine has a camera")
    camera = QCamera()
    widget = CameraPanel(ModelService(Engine()))
    qtbot.addWidget(widget)
    widget.show()
    try:
        widget.use_camera(camera)
        assert widget.state() == CameraState.STARTING
        # What QMediaDevices says when a camera goes away: the list no longer has it.
        with qtbot.waitSignal(widget.state_changed) as blocker:
            widget.source.media_devices.videoInputsChanged.emit()
        assert blocker.args == [CameraState.NO_CAMERA]
        assert "was disconnected" in widget.message()
        assert "Plug it back in" in widget.message()
        assert not camera.isActive()
        assert not widget.snapshot_button.isEnabled()
    finally:
        assert widget.shutdown()


def test_no_camera_shows_its_message(qtbot):
    if QMediaDevices.videoInputs():
        pytest.skip("this machine has a camera")
    widget = CameraPanel(ModelService(Engine()))
    qtbot.addWidget(widget)
    widget.show()
    try:
        assert widget.state() == CameraState.NO_CAMERA
        assert widget.message() == messages.NO_CAMERA
        assert "notices it by itself" in widget.message()
        assert not widget.camera_box.isEnabled()
        assert widget.camera_box.currentText() == "No camera"
        assert not widget.snapshot_button.isEnabled()
        assert not widget.live_button.isEnabled()
        grab = widget.preview.grab().toImage()
        assert not grab.isNull()
    finally:
        assert widget.shutdown()


def test_permission_messages_say_how_to_grant_it():
    windows = messages.permission_denied("win32")
    assert "Let desktop apps access your camera" in windows
    assert "Settings > Privacy & security > Camera" in windows
    assert "System Settings > Privacy & Security > Camera" in messages.permission_denied("darwin")
    assert "video" in messages.permission_denied("linux")


def test_shutdown_is_prompt_while_live(qtbot, panel, frame_input):
    send(qtbot, panel, frame_input, RED)
    with qtbot.waitSignal(panel.live_classified, timeout=10_000):
        panel.set_live(True)
    assert panel.shutdown(timeout_ms=5000)  # True: the worker has stopped


def test_deleting_the_panel_without_shutdown_is_safe(qtbot, frame_input, models):
    """Deleting the tab mid-classification waits for the job and drops its answer."""
    widget = CameraPanel(ModelService(Engine()), video_source=frame_input)
    widget.models.select(str(models["colour"]), "cpu")
    widget.show()
    send(qtbot, widget, frame_input, RED)
    with qtbot.waitSignal(widget.live_classified, timeout=10_000):
        widget.set_live(True)
    classifier = widget.classifier()
    send(qtbot, widget, frame_input, RED, 2)
    shiboken6.delete(widget)
    assert not shiboken6.isValid(classifier)
    QApplication.processEvents()  # a late answer for the deleted tab must not crash


def test_the_camera_in_use_the_saved_one_the_default_then_the_first():
    a, b, c = b"a", b"b", b"c"
    assert choose_device([a, b, c], b, "63", c) == b, "the camera in use stays"
    assert choose_device([a, b, c], None, "63", a) == c, "then the one saved in the settings"
    assert choose_device([a, b, c], None, "not hex", b) == b, "then the OS default"
    assert choose_device([a, b], b"gone", "", b"gone too") == a, "then the first"

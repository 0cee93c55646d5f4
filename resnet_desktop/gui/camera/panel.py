"""The Camera tab: pick a webcam, watch the preview, classify a snapshot or the live picture.

Pieces: :class:`~resnet_desktop.gui.camera.preview.CameraPreview` paints the newest frame,
:class:`~resnet_desktop.gui.camera.live.CameraClassifier` classifies frames on its own thread
(live mode drops frames instead of queueing them), :mod:`camera_frames` turns frames into RGB
pixels and :mod:`camera_messages` holds the wording of every state.

Frames come from a ``QMediaCaptureSession`` into a ``QVideoSink`` the panel owns. The source is
a ``QCamera`` for a real device, or a ``QVideoFrameInput`` given to the constructor or to
:meth:`CameraPanel.use_frame_input` (tests, and any other program that produces frames): the
same pipeline either way.

The camera runs only while the tab is visible, so the webcam light goes off when the user looks
elsewhere.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import (
    QCameraPermission,
    QCoreApplication,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtMultimedia import (
    QCamera,
    QCameraDevice,
    QMediaCaptureSession,
    QMediaDevices,
    QVideoFrame,
    QVideoFrameInput,
    QVideoSink,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.paths import data_dir
from resnet_desktop.core.inference.results import Classification
from resnet_desktop.gui.camera import messages
from resnet_desktop.gui.camera.frames import SAVE_FILTER, frame_to_qimage, is_dark, save_rgb
from resnet_desktop.gui.camera.live import LIVE, CameraClassifier, FrameResult, RateMeter
from resnet_desktop.gui.camera.preview import CameraPreview
from resnet_desktop.gui.classify.top5_chart import Top5Chart
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array
from resnet_desktop.gui.workers.model_service import ModelService

log = logging.getLogger(__name__)

# States, as :meth:`CameraPanel.state` reports them.
NO_CAMERA = "no-camera"
PICK = "pick"
WAITING_PERMISSION = "waiting-permission"
PERMISSION_DENIED = "permission-denied"
STARTING = "starting"
PREVIEWING = "previewing"
STALLED = "stalled"
ERROR = "error"
STOPPED = "stopped"
"""The tab is hidden, so the camera is off."""

WARMUP_FRAMES = 90
"""Frames after which a dark picture is the scene itself, not a camera warming up."""
SNAPSHOT_WAIT_MS = 3000
STALL_TIMEOUT_MS = 5000
WATCHDOG_INTERVAL_MS = 250
RATE_INTERVAL_MS = 500
SENT_SNAPSHOTS_KEPT = 20
_THUMBNAIL_WIDTH = 240


def sent_snapshots_dir() -> Path:
    """Where snapshots sent to the main pane are written (only the newest few are kept)."""
    return data_dir() / "camera"


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]


class CameraPanel(QWidget):
    """The Camera tab; ``set_model`` follows the main window's model picker."""

    snapshot_sent = Signal(str)
    """Path of a PNG of the current snapshot, for the main window's ``show_image_path``."""
    snapshot_classified = Signal(object)
    """The :class:`Classification` of the newest snapshot."""
    live_classified = Signal(object)
    """The :class:`Classification` of a live frame."""
    state_changed = Signal(str)
    """One of the state names of this module (``NO_CAMERA``, ``PREVIEWING``...)."""

    def __init__(self, models: ModelService, parent: QWidget | None = None, *,
                 video_source: QVideoFrameInput | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.snapshot_wait_ms = SNAPSHOT_WAIT_MS
        """How long Snapshot waits for a bright frame while the camera warms up."""
        self.stall_timeout_ms = STALL_TIMEOUT_MS
        """Silence after which the preview says the camera stopped sending pictures."""
        self._state = ""
        self._settings = app_settings()
        self._camera: QCamera | None = None
        self._frame_input: QVideoFrameInput | None = None
        self._devices: list[QCameraDevice] = []
        self._device_id: bytes | None = None
        self._lost_id: bytes | None = None
        """A camera unplugged while in use: it starts again if it comes back."""
        self._active_since = 0.0
        self._last_frame_at: float | None = None
        self._frames_received = 0
        self._seen_bright = False
        self._latest: QVideoFrame | None = None
        self._snapshot_image: QImage | None = None
        self._snapshot_waiting = False
        self._live_dropped_base = 0
        self._rate = RateMeter()

        self._classifier = CameraClassifier(models, self)
        self._classifier.set_model(models.current_model(), models.current_provider())
        models.selection_changed.connect(self._on_selection_changed)
        self._classifier.snapshot_ready.connect(self._on_snapshot_ready)
        self._classifier.live_result_ready.connect(self._on_live_result)
        self._classifier.failed.connect(self._on_classify_failed)

        self._session = QMediaCaptureSession(self)
        self._sink = QVideoSink(self)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._media_devices = QMediaDevices(self)
        self._media_devices.videoInputsChanged.connect(self._refresh_cameras)

        self._build_ui()
        self._snapshot_timer = QTimer(self, singleShot=True)
        self._snapshot_timer.timeout.connect(self._on_snapshot_wait_over)
        self._watchdog = QTimer(self, interval=WATCHDOG_INTERVAL_MS)
        self._watchdog.timeout.connect(self._check_stall)
        self._rate_timer = QTimer(self, interval=RATE_INTERVAL_MS)
        self._rate_timer.timeout.connect(self._update_rate)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        if video_source is not None:
            self.use_frame_input(video_source)
        else:
            self._refresh_cameras()

    # -- layout ------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.camera_box = QComboBox()
        self.camera_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.camera_box.setMinimumContentsLength(16)
        self.camera_box.setAccessibleName("Camera")
        self.camera_box.activated.connect(self._on_camera_picked)
        self.mirror_box = QCheckBox("Mirror")
        self.mirror_box.setToolTip("Show the preview like a mirror (snapshots are not mirrored)")
        self.mirror_box.setChecked(bool(self._settings.value("camera/mirror", False, bool)))
        self.mirror_box.toggled.connect(self._on_mirror_toggled)
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(self.retry)
        self.retry_button.hide()
        label = QLabel("&Camera:")
        label.setBuddy(self.camera_box)
        top = QHBoxLayout()
        top.addWidget(label)
        top.addWidget(self.camera_box, 1)
        top.addWidget(self.mirror_box)
        top.addWidget(self.retry_button)

        self.preview = CameraPreview()
        self.preview.set_mirrored(self.mirror_box.isChecked())
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setToolTip("Classify the current picture (Space)")
        self.snapshot_button.clicked.connect(self.take_snapshot)
        self.live_button = QPushButton("Live")
        self.live_button.setCheckable(True)
        self.live_button.setToolTip("Classify the newest picture continuously, as fast as this "
                                    "computer can (pictures that arrive meanwhile are skipped)")
        self.live_button.toggled.connect(self.set_live)
        self.rate_label = QLabel()
        controls = QHBoxLayout()
        controls.addWidget(self.snapshot_button)
        controls.addWidget(self.live_button)
        controls.addWidget(self.rate_label, 1)
        left = QVBoxLayout()
        left.addLayout(top)
        left.addWidget(self.preview, 1)
        left.addLayout(controls)

        self.snapshot_view = QLabel("No snapshot yet")
        self.snapshot_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.snapshot_view.setMinimumSize(_THUMBNAIL_WIDTH, _THUMBNAIL_WIDTH * 3 // 4)
        self.snapshot_view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.result_caption = QLabel()
        self.chart = Top5Chart()
        self.chart.clear("Take a snapshot (Space) or turn on Live")
        self.save_button = QPushButton("Save snapshot…")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.send_button = QPushButton("Show in main pane")
        self.send_button.setToolTip("Open the snapshot in the main image pane")
        self.send_button.clicked.connect(self.send_snapshot)
        actions = QHBoxLayout()
        actions.addWidget(self.save_button)
        actions.addWidget(self.send_button)
        right = QVBoxLayout()
        right.addWidget(self.snapshot_view)
        right.addWidget(self.result_caption)
        right.addWidget(self.chart, 1)
        right.addLayout(actions)

        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer = QVBoxLayout(self)
        outer.addLayout(columns, 1)
        outer.addWidget(self.status_label)

        self._space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self._space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._space.activated.connect(self.take_snapshot)
        self._update_actions()

    # -- what the window and tests read ------------------------------------------------------

    def state(self) -> str:
        return self._state

    def message(self) -> str:
        """The text shown in place of the preview ('' while the picture shows)."""
        return self.preview.message()

    def status(self) -> str:
        return self.status_label.text()

    def classifier(self) -> CameraClassifier:
        return self._classifier

    def frames_received(self) -> int:
        return self._frames_received

    def has_snapshot(self) -> bool:
        return self._snapshot_image is not None

    def snapshot_image(self) -> QImage | None:
        """The current snapshot as a QImage (unmirrored), or None."""
        return self._snapshot_image

    def snapshot_result(self) -> Classification | None:
        return self.chart.result()

    def live_rate(self) -> float:
        """Live classifications per second over the last few seconds."""
        return self._rate.rate()

    # -- sources -----------------------------------------------------------------------------

    def use_frame_input(self, frame_input: QVideoFrameInput | None) -> None:
        """Take frames from ``frame_input`` instead of a camera; None goes back to cameras."""
        self._stop_camera()
        self._frame_input = frame_input
        if frame_input is None:
            self._session.setVideoFrameInput(None)
            self._refresh_cameras()
            return
        self._session.setVideoFrameInput(frame_input)
        self.camera_box.clear()
        self.camera_box.addItem("Frame input")
        self.camera_box.setEnabled(False)
        self._source_started()
        self._set_state(STARTING, "")

    def retry(self) -> None:
        """Start the chosen camera again (after an error or once permission was granted)."""
        self.status_label.clear()
        self._refresh_cameras()
        if self._state not in (STARTING, PREVIEWING) and self._current_device() is not None:
            self._start_camera()

    @Slot()
    def _refresh_cameras(self) -> None:
        """Re-read the camera list (QMediaDevices says when it changes) and act on it."""
        if self._frame_input is not None:
            return
        self._devices = list(QMediaDevices.videoInputs())
        ids = [bytes(d.id()) for d in self._devices]
        self.camera_box.blockSignals(True)
        self.camera_box.clear()
        for device in self._devices:
            self.camera_box.addItem(device.description())
        if not self._devices:
            self.camera_box.addItem("No camera")
        self.camera_box.setEnabled(bool(self._devices))
        self.camera_box.blockSignals(False)

        if self._camera is not None and self._device_id not in ids:
            name = self._camera.cameraDevice().description()
            log.warning("camera %r was disconnected", name)
            self._stop_camera()
            self.set_live(False)
            self._lost_id = self._device_id
            self._set_state(PICK if ids else NO_CAMERA, messages.disconnected(name, bool(ids)))
        if not ids:
            self._device_id = None
            if self._state != NO_CAMERA:
                self._set_state(NO_CAMERA, messages.NO_CAMERA)
            return
        came_back = self._lost_id in ids
        if came_back:
            self._device_id, self._lost_id = self._lost_id, None
        elif self._device_id not in ids:
            saved = self._settings.value("camera/device", "", str)
            saved_id = bytes.fromhex(saved) if _is_hex(saved) else None
            default = bytes(QMediaDevices.defaultVideoInput().id())
            self._device_id = next((i for i in (saved_id, default) if i in ids), ids[0])
        self.camera_box.setCurrentIndex(ids.index(self._device_id))
        if self._camera is None and (came_back or self._state in ("", NO_CAMERA, STOPPED)):
            self._start_if_visible()
        elif self._state == PICK and not self.preview.message():
            self._set_state(PICK, messages.PICK_CAMERA)

    def _current_device(self) -> QCameraDevice | None:
        for device in self._devices:
            if bytes(device.id()) == self._device_id:
                return device
        return None

    def _device_name(self, device_id: bytes | None) -> str:
        if self._camera is not None and bytes(self._camera.cameraDevice().id()) == device_id:
            return self._camera.cameraDevice().description()
        device = self._current_device()
        return device.description() if device is not None else ""

    def _on_camera_picked(self, index: int) -> None:
        if not 0 <= index < len(self._devices):
            return
        self._device_id = bytes(self._devices[index].id())
        self._settings.setValue("camera/device", self._device_id.hex())
        self._lost_id = None
        self._stop_camera()
        self._start_if_visible()

    def _start_if_visible(self) -> None:
        if self.isVisible():
            self._start_camera()
        else:
            self._set_state(STOPPED, "")

    def use_camera(self, camera: QCamera) -> None:
        """Preview ``camera``, one the caller made (a chosen format, say); the caller keeps it.

        Where the OS has not yet been asked for camera permission, it is asked, and the
        camera picked in the list starts once it is granted.
        """
        self._frame_input = None
        self._session.setVideoFrameInput(None)
        self._stop_camera()
        if self._camera_allowed():
            self._attach_camera(camera)

    def _start_camera(self) -> None:
        device = self._current_device()
        if device is None or self._frame_input is not None or not self._camera_allowed():
            return
        self._stop_camera()
        self._attach_camera(QCamera(device, self))

    def _camera_allowed(self) -> bool:
        """True when the OS lets the app use cameras; otherwise ask, or say how to allow it."""
        app = QCoreApplication.instance()
        if app is None:
            return True
        permission = QCameraPermission()
        status = app.checkPermission(permission)
        if status == Qt.PermissionStatus.Undetermined:
            self._set_state(WAITING_PERMISSION, messages.WAITING_FOR_PERMISSION)
            app.requestPermission(permission, self, self._on_permission_result)
            return False
        if status == Qt.PermissionStatus.Denied:
            self._on_permission_denied()
            return False
        return True

    def _attach_camera(self, camera: QCamera) -> None:
        camera.errorOccurred.connect(self._on_camera_error)
        self._camera = camera
        self._device_id = bytes(camera.cameraDevice().id())
        self._session.setCamera(camera)
        self._source_started()
        name = camera.cameraDevice().description()
        self._set_state(STARTING, messages.starting(name))
        log.info("starting camera %r", name)
        camera.start()

    def _on_permission_result(self, permission) -> None:
        if permission.status() == Qt.PermissionStatus.Granted:
            self._start_camera()
        else:
            self._on_permission_denied()

    def _on_permission_denied(self) -> None:
        self._stop_camera()
        self._set_state(PERMISSION_DENIED, messages.permission_denied())

    def _stop_camera(self) -> None:
        camera, self._camera = self._camera, None
        self._watchdog.stop()
        self._cancel_snapshot_wait()
        self._latest = None
        self.preview.clear_frame()
        if camera is None:
            return
        camera.errorOccurred.disconnect(self._on_camera_error)
        camera.stop()
        self._session.setCamera(None)
        if camera.parent() is self:
            camera.deleteLater()

    def _source_started(self) -> None:
        self._active_since = time.monotonic()
        self._last_frame_at = None
        self._frames_received = 0
        self._seen_bright = False
        self._latest = None
        self.preview.clear_frame()
        self._watchdog.start()

    @Slot(QCamera.Error, str)
    def _on_camera_error(self, error: QCamera.Error, text: str) -> None:
        """QCamera.errorOccurred: busy, unplugged, refused by the driver... say so, stop."""
        if error == QCamera.Error.NoError:
            return
        name = self._device_name(self._device_id)
        log.warning("camera %r failed: %s", name, text)
        self._stop_camera()
        self.set_live(False)
        self._set_state(ERROR, messages.camera_error(name, text))

    def _check_stall(self) -> None:
        if self._state not in (STARTING, PREVIEWING):
            return
        since = self._last_frame_at if self._last_frame_at is not None else self._active_since
        silence = time.monotonic() - since
        if silence * 1000 >= self.stall_timeout_ms:
            log.warning("no camera frame for %.1f s", silence)
            self._cancel_snapshot_wait()
            self._set_state(STALLED, messages.stalled(silence))

    # -- frames ------------------------------------------------------------------------------

    @Slot(QVideoFrame)
    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid() or (self._camera is None and self._frame_input is None):
            return
        self._frames_received += 1
        self._last_frame_at = time.monotonic()
        self._latest = frame
        self.preview.set_frame(frame)
        if self._state in (STARTING, STALLED):
            self._set_state(PREVIEWING, "")
        if not self._seen_bright and (self._snapshot_waiting
                                      or self._frames_received <= WARMUP_FRAMES):
            image = self.preview.current_image()
            self._seen_bright = image is not None and not is_dark(image)
        if self._snapshot_waiting and self._is_warm():
            self._snap(frame)
        if self._classifier.is_live():
            self._classifier.offer_live_frame(frame)

    def _is_warm(self) -> bool:
        return self._seen_bright or self._frames_received > WARMUP_FRAMES

    # -- snapshot ----------------------------------------------------------------------------

    def take_snapshot(self) -> None:
        """Classify the current picture; while the camera warms up, wait for a real one."""
        if self._camera is None and self._frame_input is None:
            self.status_label.setText(messages.NO_SOURCE)
            return
        if self.live_button.isChecked():
            self.live_button.setChecked(False)
        if self._latest is not None and self._is_warm():
            self._snap(self._latest)
            return
        self._snapshot_waiting = True
        self._snapshot_timer.start(self.snapshot_wait_ms)
        self.status_label.setText(messages.SNAPSHOT_WAITING)

    def _on_snapshot_wait_over(self) -> None:
        if not self._snapshot_waiting:
            return
        self._snapshot_waiting = False
        if self._latest is None:
            self.status_label.setText(messages.NO_FRAMES_YET)
            return
        self._snap(self._latest, note=messages.SNAPSHOT_DARK)

    def _cancel_snapshot_wait(self) -> None:
        self._snapshot_waiting = False
        self._snapshot_timer.stop()

    def _snap(self, frame: QVideoFrame, note: str = "") -> None:
        self._cancel_snapshot_wait()
        image = self.preview.current_image() if frame is self._latest else None
        image = image if image is not None else frame_to_qimage(frame)
        if image is None:
            self.status_label.setText(messages.NO_FRAMES_YET)
            return
        self._snapshot_image = image
        self._show_thumbnail()
        self.status_label.setText(note)
        self.result_caption.setText("Snapshot · classifying…")
        self._classifier.classify_snapshot(image=image)
        self._update_actions()

    def _show_thumbnail(self) -> None:
        image = self._snapshot_image
        if image is None:
            return
        pixmap = QPixmap.fromImage(image).scaled(
            self.snapshot_view.width(), self.snapshot_view.height(),
            Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.snapshot_view.setPixmap(pixmap)

    def _on_snapshot_ready(self, result: FrameResult) -> None:
        classification = result.classification
        self.chart.set_result(classification)
        when = datetime.now().strftime("%H:%M:%S")
        self.result_caption.setText(f"Snapshot {when} · {classification.model} · "
                                    f"{classification.ms:.0f} ms")
        self.snapshot_classified.emit(classification)

    def save_snapshot(self, path: str | Path | None = None) -> Path | None:
        """Save the snapshot (a file dialog asks where when ``path`` is None); None if not."""
        if self._snapshot_image is None:
            self.status_label.setText("Take a snapshot first.")
            return None
        if path is None:
            folder = self._settings.value("camera/save_dir", "", str) or \
                QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save snapshot", str(Path(folder) / f"snapshot-{_stamp()}.png"),
                SAVE_FILTER)
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        try:
            save_rgb(qimage_to_rgb_array(self._snapshot_image), path)
        except ResNetDesktopError as exc:
            self.status_label.setText(str(exc))
            return None
        self._settings.setValue("camera/save_dir", str(path.parent))
        self.status_label.setText(f"Saved {path.name}")
        return path

    def send_snapshot(self) -> Path | None:
        """Write the snapshot to the app's data folder and emit :attr:`snapshot_sent`."""
        if self._snapshot_image is None:
            self.status_label.setText("Take a snapshot first.")
            return None
        folder = sent_snapshots_dir()
        path = folder / f"snapshot-{_stamp()}.png"
        try:
            save_rgb(qimage_to_rgb_array(self._snapshot_image), path)
        except ResNetDesktopError as exc:
            self.status_label.setText(str(exc))
            return None
        _prune(folder, SENT_SNAPSHOTS_KEPT)
        self.snapshot_sent.emit(str(path))
        return path

    def _on_save_clicked(self) -> None:
        self.save_snapshot()

    # -- live mode ---------------------------------------------------------------------------

    def set_live(self, on: bool) -> None:
        """Classify the newest frame continuously (the Live button follows)."""
        on = bool(on)
        if self.live_button.isChecked() != on:
            self.live_button.setChecked(on)  # comes back here through ``toggled``
            return
        if on == self._classifier.is_live():
            return
        if on:
            self._rate.reset()
            self._live_dropped_base = self._classifier.frames_dropped()
            self._classifier.start_live()
            self._rate_timer.start()
            self.rate_label.setText("Live: starting…")
            self.result_caption.setText("Live")
            if self._latest is not None:
                self._classifier.offer_live_frame(self._latest)
        else:
            self._classifier.stop_live()
            self._rate_timer.stop()
            self.rate_label.clear()

    def _on_live_result(self, result: FrameResult) -> None:
        self._rate.tick()
        self.chart.set_result(result.classification)
        self.live_classified.emit(result.classification)

    def _update_rate(self) -> None:
        dropped = self._classifier.frames_dropped() - self._live_dropped_base
        self.rate_label.setText(f"Live: {self._rate.rate():.1f} classifications/s · "
                                f"{dropped} frames skipped")

    # -- model -------------------------------------------------------------------------------

    @Slot(str, str)
    def _on_selection_changed(self, model_id: str, provider: str) -> None:
        """Follow the app's model; the current snapshot is classified again."""
        if (model_id, provider) == self._classifier.model():
            return
        self._classifier.set_model(model_id, provider)
        if self._snapshot_image is not None and not self._classifier.is_live():
            self.result_caption.setText("Snapshot · classifying…")
            self._classifier.classify_snapshot(image=self._snapshot_image)

    def _on_classify_failed(self, kind: str, message: str) -> None:
        self.status_label.setText(message)
        if kind == LIVE:
            self.set_live(False)
        else:
            self.result_caption.setText("Snapshot")
            self.chart.clear(message)

    # -- state and visibility ----------------------------------------------------------------

    def _set_state(self, state: str, message: str) -> None:
        self.preview.set_message(message)
        self.retry_button.setVisible(state in (ERROR, PERMISSION_DENIED))
        if state != self._state:
            log.debug("camera panel: %s -> %s", self._state or "-", state)
            self._state = state
            self._update_actions()
            self.state_changed.emit(state)

    def _update_actions(self) -> None:
        running = self._state in (STARTING, PREVIEWING, STALLED)
        self.snapshot_button.setEnabled(running)
        self.live_button.setEnabled(running or self.live_button.isChecked())
        has_snapshot = self._snapshot_image is not None
        self.save_button.setEnabled(has_snapshot)
        self.send_button.setEnabled(has_snapshot)

    def _on_mirror_toggled(self, on: bool) -> None:
        self.preview.set_mirrored(on)
        self._settings.setValue("camera/mirror", bool(on))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._frame_input is None and self._camera is None and \
                self._state in (STOPPED, PERMISSION_DENIED) and self._current_device():
            self._start_camera()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if self._camera is not None:
            self._stop_camera()
            self._set_state(STOPPED, "")

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the camera and the classifier thread; the window calls this when it closes."""
        self._stop_camera()
        self._rate_timer.stop()
        return self._classifier.shutdown(timeout_ms)


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` sent snapshots."""
    try:
        files = sorted(folder.glob("snapshot-*.png"), key=lambda p: p.stat().st_mtime,
                       reverse=True)
    except OSError:
        return
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError as exc:
            log.debug("cannot delete %s: %s", old, exc)

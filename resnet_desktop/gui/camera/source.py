"""Where the Camera tab's frames come from, and the state of that source.

:class:`CameraSource` owns the ``QMediaCaptureSession`` and the ``QVideoSink`` that frames
arrive in. The source is a ``QCamera`` for a real device (with the OS permission, hot-plugging,
driver errors and a watchdog for a camera that stops sending pictures), or a
``QVideoFrameInput`` (tests, and any other program that produces frames): the same pipeline
either way. It says what happens through signals and never touches a widget; the panel shows
its :class:`CameraState` and message and decides what the frames are for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import (
    QCameraPermission,
    QCoreApplication,
    QObject,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtMultimedia import (
    QCamera,
    QCameraDevice,
    QMediaCaptureSession,
    QMediaDevices,
    QVideoFrame,
    QVideoFrameInput,
    QVideoSink,
)

from resnet_desktop.gui.camera import messages

log = logging.getLogger(__name__)

STALL_TIMEOUT_MS = 5000
WATCHDOG_INTERVAL_MS = 250
DEVICE_KEY = "camera/device"


class CameraState(StrEnum):
    """What the Camera tab's source is doing."""

    NONE = ""
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

    @property
    def running(self) -> bool:
        return self in (CameraState.STARTING, CameraState.PREVIEWING, CameraState.STALLED)


def choose_device(ids: list[bytes], current: bytes | None, saved_hex: str,
                  default: bytes) -> bytes:
    """The camera to use from ``ids`` (not empty): the current one while it is there, else the
    one saved in the settings, else the OS default, else the first."""
    if current in ids:
        return current
    saved = bytes.fromhex(saved_hex) if _is_hex(saved_hex) else None
    return next((i for i in (saved, default) if i in ids), ids[0])


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)


class CameraSource(QObject):
    """The frames' source; ``is_visible`` says whether the tab shows (the camera runs only
    then, so the webcam light goes off when the user looks elsewhere)."""

    state_changed = Signal(object, str)
    """(CameraState, the message to show in place of the preview, '' when the picture shows)."""
    frame_arrived = Signal(QVideoFrame)
    """A valid frame from the current source."""
    started = Signal()
    """A new source started: frames from before are gone."""
    stopped = Signal()
    """The camera stopped (hidden tab, unplugged, error, another camera chosen)."""
    devices_changed = Signal(list, int, bool)
    """(names for the camera list, index of the one in use or -1, whether the list is usable)."""

    def __init__(self, settings: QSettings, is_visible: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stall_timeout_ms = STALL_TIMEOUT_MS
        """Silence after which the preview says the camera stopped sending pictures."""
        self._settings = settings
        self._is_visible = is_visible
        self.state = CameraState.NONE
        self._message = ""
        self._camera: QCamera | None = None
        self._frame_input: QVideoFrameInput | None = None
        self._devices: list[QCameraDevice] = []
        self._device_id: bytes | None = None
        self._lost_id: bytes | None = None
        """A camera unplugged while in use: it starts again if it comes back."""
        self._active_since = 0.0
        self._last_frame_at: float | None = None
        self._session = QMediaCaptureSession(self)
        self._sink = QVideoSink(self)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self.media_devices = QMediaDevices(self)
        """The OS's camera list; ``videoInputsChanged`` says when cameras come and go."""
        self.media_devices.videoInputsChanged.connect(self.refresh)
        self._watchdog = QTimer(self, interval=WATCHDOG_INTERVAL_MS)
        self._watchdog.timeout.connect(self._check_stall)

    @property
    def active(self) -> bool:
        """True while a camera or a frame input is the source."""
        return self._camera is not None or self._frame_input is not None

    # -- choosing the source -----------------------------------------------------------------

    def use_frame_input(self, frame_input: QVideoFrameInput | None) -> None:
        """Take frames from ``frame_input`` instead of a camera; None goes back to cameras."""
        self.stop()
        self._frame_input = frame_input
        if frame_input is None:
            self._session.setVideoFrameInput(None)
            self.refresh()
            return
        self._session.setVideoFrameInput(frame_input)
        self.devices_changed.emit(["Frame input"], 0, False)
        self._source_started()
        self._set_state(CameraState.STARTING, "")

    def use_camera(self, camera: QCamera) -> None:
        """Preview ``camera``, one the caller made (a chosen format, say); the caller keeps it.
        Where the OS has not yet been asked for camera permission, it is asked, and the camera
        picked in the list starts once it is granted."""
        self._frame_input = None
        self._session.setVideoFrameInput(None)
        self.stop()
        if self._camera_allowed():
            self._attach(camera)

    def pick(self, index: int) -> None:
        """The user chose the ``index``-th camera of the list."""
        if not 0 <= index < len(self._devices):
            return
        self._device_id = bytes(self._devices[index].id())
        self._settings.setValue(DEVICE_KEY, self._device_id.hex())
        self._lost_id = None
        self.stop()
        self._start_if_visible()

    def retry(self) -> None:
        """Start the chosen camera again (after an error or once permission was granted)."""
        self.refresh()
        if self.state not in (CameraState.STARTING, CameraState.PREVIEWING) and \
                self._current_device() is not None:
            self.start()

    @Slot()
    def refresh(self) -> None:
        """Re-read the camera list (QMediaDevices says when it changes) and act on it."""
        if self._frame_input is not None:
            return
        self._devices = list(QMediaDevices.videoInputs())
        ids = [bytes(d.id()) for d in self._devices]
        if self._camera is not None and self._device_id not in ids:
            self._on_disconnected(bool(ids))
        if not ids:
            self._device_id = None
            self.devices_changed.emit(["No camera"], -1, False)
            if self.state != CameraState.NO_CAMERA:
                self._set_state(CameraState.NO_CAMERA, messages.NO_CAMERA)
            return
        came_back = self._lost_id in ids
        if came_back:
            self._device_id, self._lost_id = self._lost_id, None
        self._device_id = choose_device(ids, self._device_id,
                                        self._settings.value(DEVICE_KEY, "", str),
                                        bytes(QMediaDevices.defaultVideoInput().id()))
        self.devices_changed.emit([d.description() for d in self._devices],
                                  ids.index(self._device_id), True)
        if self._camera is None and (came_back or self.state in (
                CameraState.NONE, CameraState.NO_CAMERA, CameraState.STOPPED)):
            self._start_if_visible()
        elif self.state == CameraState.PICK and not self._message:
            self._set_state(CameraState.PICK, messages.PICK_CAMERA)

    def _on_disconnected(self, others: bool) -> None:
        assert self._camera is not None
        name = self._camera.cameraDevice().description()
        log.warning("camera %r was disconnected", name)
        self.stop()
        self._lost_id = self._device_id
        self._set_state(CameraState.PICK if others else CameraState.NO_CAMERA,
                        messages.disconnected(name, others))

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the camera chosen in the list (asking for permission if needed)."""
        device = self._current_device()
        if device is None or self._frame_input is not None or not self._camera_allowed():
            return
        self.stop()
        self._attach(QCamera(device, self))

    def stop(self) -> None:
        """Stop the camera (a frame input keeps going); ``stopped`` follows."""
        camera, self._camera = self._camera, None
        self._watchdog.stop()
        self.stopped.emit()
        if camera is None:
            return
        camera.errorOccurred.disconnect(self._on_camera_error)
        camera.stop()
        self._session.setCamera(None)
        if camera.parent() is self:
            camera.deleteLater()

    def shown(self) -> None:
        """The tab became visible: a camera stopped by hiding it (or waiting for permission)
        starts again."""
        if not self.active and self.state in (CameraState.STOPPED,
                                              CameraState.PERMISSION_DENIED) \
                and self._current_device():
            self.start()

    def hidden(self) -> None:
        """The tab is hidden: the camera goes off."""
        if self._camera is not None:
            self.stop()
            self._set_state(CameraState.STOPPED, "")

    # -- internals ---------------------------------------------------------------------------

    def _current_device(self) -> QCameraDevice | None:
        return next((d for d in self._devices if bytes(d.id()) == self._device_id), None)

    def _device_name(self) -> str:
        if self._camera is not None:
            return self._camera.cameraDevice().description()
        device = self._current_device()
        return device.description() if device is not None else ""

    def _start_if_visible(self) -> None:
        if self._is_visible():
            self.start()
        else:
            self._set_state(CameraState.STOPPED, "")

    def _camera_allowed(self) -> bool:
        """True when the OS lets the app use cameras; otherwise ask, or say how to allow it."""
        app = QCoreApplication.instance()
        if app is None:
            return True
        permission = QCameraPermission()
        status = app.checkPermission(permission)
        if status == Qt.PermissionStatus.Undetermined:
            self._set_state(CameraState.WAITING_PERMISSION, messages.WAITING_FOR_PERMISSION)
            app.requestPermission(permission, self, self._on_permission_result)
            return False
        if status == Qt.PermissionStatus.Denied:
            self._on_permission_denied()
            return False
        return True

    def _on_permission_result(self, permission) -> None:
        if permission.status() == Qt.PermissionStatus.Granted:
            self.start()
        else:
            self._on_permission_denied()

    def _on_permission_denied(self) -> None:
        self.stop()
        self._set_state(CameraState.PERMISSION_DENIED, messages.permission_denied())

    def _attach(self, camera: QCamera) -> None:
        camera.errorOccurred.connect(self._on_camera_error)
        self._camera = camera
        self._device_id = bytes(camera.cameraDevice().id())
        self._session.setCamera(camera)
        self._source_started()
        name = camera.cameraDevice().description()
        self._set_state(CameraState.STARTING, messages.starting(name))
        log.info("starting camera %r", name)
        camera.start()

    def _source_started(self) -> None:
        self._active_since = time.monotonic()
        self._last_frame_at = None
        self.started.emit()
        self._watchdog.start()

    @Slot(QCamera.Error, str)
    def _on_camera_error(self, error: QCamera.Error, text: str) -> None:
        """QCamera.errorOccurred: busy, unplugged, refused by the driver... say so, stop."""
        if error == QCamera.Error.NoError:
            return
        name = self._device_name()
        log.warning("camera %r failed: %s", name, text)
        self.stop()
        self._set_state(CameraState.ERROR, messages.camera_error(name, text))

    def _check_stall(self) -> None:
        if self.state not in (CameraState.STARTING, CameraState.PREVIEWING):
            return
        since = self._last_frame_at if self._last_frame_at is not None else self._active_since
        silence = time.monotonic() - since
        if silence * 1000 >= self.stall_timeout_ms:
            log.warning("no camera frame for %.1f s", silence)
            self._set_state(CameraState.STALLED, messages.stalled(silence))

    @Slot(QVideoFrame)
    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid() or not self.active:
            return
        self._last_frame_at = time.monotonic()
        if self.state in (CameraState.STARTING, CameraState.STALLED):
            self._set_state(CameraState.PREVIEWING, "")
        self.frame_arrived.emit(frame)

    def _set_state(self, state: CameraState, message: str) -> None:
        if state != self.state:
            log.debug("camera: %s -> %s", self.state or "-", state)
        self.state, self._message = state, message
        self.state_changed.emit(state, message)

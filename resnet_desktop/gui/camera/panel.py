"""The Camera tab: pick a webcam, watch the preview, classify a snapshot or the live picture.

Pieces: :class:`~resnet_desktop.gui.camera.preview.CameraPreview` paints the newest frame,
:class:`~resnet_desktop.gui.camera.live.CameraClassifier` classifies frames in the background
(live mode drops frames instead of queueing them), :mod:`~resnet_desktop.gui.camera.frames`
turns frames into RGB pixels and :mod:`~resnet_desktop.gui.camera.messages` holds the wording
of every state.

Frames come from :class:`~resnet_desktop.gui.camera.source.CameraSource`: a camera, or a
``QVideoFrameInput`` given to the constructor or to :meth:`CameraPanel.use_frame_input` (tests,
and any other program that produces frames). The camera runs only while the tab is visible, so
the webcam light goes off when the user looks elsewhere.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QHideEvent, QImage, QKeySequence, QPixmap, QShortcut, QShowEvent
from PySide6.QtMultimedia import (
    QCamera,
    QVideoFrame,
    QVideoFrameInput,
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
from resnet_desktop.gui.camera import messages
from resnet_desktop.gui.camera.frames import SAVE_FILTER, frame_to_qimage, is_dark, save_rgb
from resnet_desktop.gui.camera.live import LIVE, CameraClassifier, FrameResult, RateMeter
from resnet_desktop.gui.camera.preview import CameraPreview
from resnet_desktop.gui.camera.source import CameraSource, CameraState
from resnet_desktop.gui.classify.top5_chart import Top5Chart
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array
from resnet_desktop.gui.workers.model_service import ModelService

log = logging.getLogger(__name__)

WARMUP_FRAMES = 90
"""Frames after which a dark picture is the scene itself, not a camera warming up."""
SNAPSHOT_WAIT_MS = 3000
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
    state_changed = Signal(object)
    """The source's new :class:`CameraState`."""

    def __init__(self, models: ModelService, parent: QWidget | None = None, *,
                 video_source: QVideoFrameInput | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.snapshot_wait_ms = SNAPSHOT_WAIT_MS
        """How long Snapshot waits for a bright frame while the camera warms up."""
        self._state = CameraState.NONE
        self._settings = app_settings()
        self._frames_received = 0
        self._seen_bright = False
        self._latest: QVideoFrame | None = None
        self._snapshot_image: QImage | None = None
        self._live_dropped_base = 0
        self._rate = RateMeter()

        self._classifier = CameraClassifier(models, self)
        self._classifier.set_model(models.current_model(), models.current_provider())
        models.selection_changed.connect(self._on_selection_changed)
        self._classifier.snapshot_ready.connect(self._on_snapshot_ready)
        self._classifier.live_result_ready.connect(self._on_live_result)
        self._classifier.failed.connect(self._on_classify_failed)

        self.source = CameraSource(self._settings, self.isVisible, self)
        self.source.frame_arrived.connect(self._on_frame)
        self.source.started.connect(self._on_source_started)
        self.source.stopped.connect(self._on_source_stopped)
        self.source.state_changed.connect(self._on_source_state)
        self.source.devices_changed.connect(self._show_devices)

        self._build_ui()
        self._snapshot_timer = QTimer(self, singleShot=True)
        """Runs while Snapshot waits for a bright frame (the camera warming up)."""
        self._snapshot_timer.timeout.connect(self._on_snapshot_wait_over)
        self._rate_timer = QTimer(self, interval=RATE_INTERVAL_MS)
        self._rate_timer.timeout.connect(self._update_rate)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        if video_source is not None:
            self.use_frame_input(video_source)
        else:
            self.source.refresh()

    # -- layout ------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.camera_box = QComboBox()
        self.camera_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.camera_box.setMinimumContentsLength(16)
        self.camera_box.setAccessibleName("Camera")
        self.camera_box.activated.connect(lambda index: self.source.pick(index))
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
        # Small enough that the whole tab fits an 800×600 window; larger when there is room.
        self.snapshot_view.setMinimumSize(_THUMBNAIL_WIDTH * 2 // 3, _THUMBNAIL_WIDTH // 2)
        self.snapshot_view.setSizePolicy(QSizePolicy.Policy.Preferred,
                                         QSizePolicy.Policy.Preferred)
        self.result_caption = QLabel()
        self.chart = Top5Chart()
        self.save_button = QPushButton("Save snapshot…")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.send_button = QPushButton("Show in main pane")
        self.send_button.setToolTip("Open the snapshot in the main image pane")
        self.send_button.clicked.connect(self.send_snapshot)
        actions = QVBoxLayout()
        actions.addWidget(self.save_button)
        actions.addWidget(self.send_button)
        actions.addStretch(1)
        snapshot_row = QHBoxLayout()
        snapshot_row.addWidget(self.snapshot_view, 1)
        snapshot_row.addLayout(actions)
        right = QVBoxLayout()
        right.addLayout(snapshot_row)
        right.addWidget(self.result_caption)
        right.addWidget(self.chart, 1)

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

    def state(self) -> CameraState:
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

    def live_rate(self) -> float:
        """Live classifications per second over the last few seconds."""
        return self._rate.rate()

    # -- sources -----------------------------------------------------------------------------

    def use_frame_input(self, frame_input: QVideoFrameInput | None) -> None:
        """Take frames from ``frame_input`` instead of a camera; None goes back to cameras."""
        self.source.use_frame_input(frame_input)

    def use_camera(self, camera: QCamera) -> None:
        """Preview ``camera``, one the caller made (a chosen format, say); the caller keeps it."""
        self.source.use_camera(camera)

    def retry(self) -> None:
        """Start the chosen camera again (after an error or once permission was granted)."""
        self.status_label.clear()
        self.source.retry()

    def _show_devices(self, names: list[str], current: int, usable: bool) -> None:
        self.camera_box.blockSignals(True)
        self.camera_box.clear()
        self.camera_box.addItems(names)
        if current >= 0:
            self.camera_box.setCurrentIndex(current)
        self.camera_box.setEnabled(usable)
        self.camera_box.blockSignals(False)

    def _on_source_started(self) -> None:
        self._frames_received = 0
        self._seen_bright = False
        self._latest = None
        self.preview.clear_frame()

    def _on_source_stopped(self) -> None:
        self._cancel_snapshot_wait()
        self._latest = None
        self.preview.clear_frame()

    # -- frames ------------------------------------------------------------------------------

    @Slot(QVideoFrame)
    def _on_frame(self, frame: QVideoFrame) -> None:
        self._frames_received += 1
        self._latest = frame
        self.preview.set_frame(frame)
        if not self._seen_bright and (self._snapshot_timer.isActive()
                                      or self._frames_received <= WARMUP_FRAMES):
            image = self.preview.current_image()
            self._seen_bright = image is not None and not is_dark(image)
        if self._snapshot_timer.isActive() and self._is_warm():
            self._snap(frame)
        if self._classifier.is_live():
            self._classifier.offer_live_frame(frame)

    def _is_warm(self) -> bool:
        return self._seen_bright or self._frames_received > WARMUP_FRAMES

    # -- snapshot ----------------------------------------------------------------------------

    def take_snapshot(self) -> None:
        """Classify the current picture; while the camera warms up, wait for a real one."""
        if not self.source.active:
            self.status_label.setText(messages.NO_SOURCE)
            return
        if self.live_button.isChecked():
            self.live_button.setChecked(False)
        if self._latest is not None and self._is_warm():
            self._snap(self._latest)
            return
        self._snapshot_timer.start(self.snapshot_wait_ms)
        self.status_label.setText(messages.SNAPSHOT_WAITING)

    def _on_snapshot_wait_over(self) -> None:
        if self._latest is None:
            self.status_label.setText(messages.NO_FRAMES_YET)
            return
        self._snap(self._latest, note=messages.SNAPSHOT_DARK)

    def _cancel_snapshot_wait(self) -> None:
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

    def _on_source_state(self, state: CameraState, message: str) -> None:
        self.preview.set_message(message)
        self.retry_button.setVisible(state in (CameraState.ERROR, CameraState.PERMISSION_DENIED))
        if state in (CameraState.ERROR, CameraState.PICK, CameraState.NO_CAMERA):
            self.set_live(False)  # the camera went away
        if state == CameraState.STALLED:
            self._cancel_snapshot_wait()
        if state != self._state:
            self._state = state
            self._update_actions()
            self.state_changed.emit(state)

    def _update_actions(self) -> None:
        running = self._state.running
        self.snapshot_button.setEnabled(running)
        self.live_button.setEnabled(running or self.live_button.isChecked())
        if self.chart.result() is None and not self.chart.is_pending():
            # The hint names only what can be done now.
            self.chart.clear("Take a snapshot (Space) or turn on Live" if running
                             else "Snapshots and Live start once a camera is on")
        has_snapshot = self._snapshot_image is not None
        self.save_button.setEnabled(has_snapshot)
        self.send_button.setEnabled(has_snapshot)

    def _on_mirror_toggled(self, on: bool) -> None:
        self.preview.set_mirrored(on)
        self._settings.setValue("camera/mirror", bool(on))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.source.shown()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.source.hidden()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the camera and the classifier thread; the window calls this when it closes."""
        self.source.stop()
        self._rate_timer.stop()
        return self._classifier.shutdown(timeout_ms)


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

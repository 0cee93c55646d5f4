"""Classifying camera frames without ever letting frames queue up.

Shape: napari's status checker, on the app's one :class:`TaskRunner`. For every frame in live
mode :class:`CameraClassifier` drops the frame into a one-place slot (replacing, and counting as
dropped, a frame no job has taken yet) and, unless a live job is already on its way, queues one.
That job takes whatever frame is newest when it starts; when its answer is back, the next job
is queued if a newer frame has arrived. So at most one live job is ever queued or running, the
classification rate is whatever the machine sustains and memory never grows with the camera's
frame rate. A snapshot is a job of its own that goes ahead of live ones.

Frames travel as ``QVideoFrame`` (shared, no copy) and are converted to RGB on the worker, so
the GUI thread never pays for a pixel-format conversion it does not display. Answers for a
superseded snapshot, or for live frames after live mode stopped or the model changed, are
dropped. The model comes from the app's :class:`ModelService`. Nothing here touches a widget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame

from resnet_desktop.core.engine import (
    CancelToken,
    Classification,
    Classifier,
    ModelError,
    ResNetDesktopError,
)
from resnet_desktop.gui.camera.frames import frame_to_qimage
from resnet_desktop.gui.widgets.image_convert import qimage_to_pil
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import Report, TaskRunner

log = logging.getLogger(__name__)

SNAPSHOT = "snapshot"
LIVE = "live"
TOP_K = 5
_SNAPSHOT_PRIORITY = 1


@dataclass(frozen=True)
class FrameResult:
    """The answer to one :class:`FrameJob`."""

    id: int
    kind: str
    classification: Classification


class RateMeter:
    """Events per second over the last ``window`` seconds (Qt-free; the clock is injectable)."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = now - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


class _NewestFrame:
    """The newest live frame no job has taken yet (the GUI thread puts, a job takes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: QVideoFrame | None = None
        self.dropped = 0

    def put(self, frame: QVideoFrame) -> None:
        with self._lock:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame

    def take(self) -> QVideoFrame | None:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame

    def waiting(self) -> bool:
        with self._lock:
            return self._frame is not None

    def clear(self) -> None:
        with self._lock:
            self._frame = None


class _Classifiers:
    """The classifier for (model, provider); only the runner's one thread uses it."""

    def __init__(self, models: ModelService) -> None:
        self._models = models
        self._key: tuple[str, str] | None = None
        self._classifier: Classifier | None = None

    def classify(self, model: str, provider: str, image: QImage | None,
                 cancel: CancelToken) -> Classification:
        if image is None:
            raise ResNetDesktopError("The camera sent an empty frame.")
        classifier = self._get(model, provider, cancel)
        return self._models.engine.classify_image(classifier, qimage_to_pil(image), TOP_K)

    def _get(self, model: str, provider: str, cancel: CancelToken) -> Classifier:
        if (model, provider) != self._key or self._classifier is None:
            try:
                self._classifier = self._models.load(model, provider, cancel)
            except ResNetDesktopError:
                raise
            except Exception as exc:  # ORT and OS errors reach the user as one line
                log.exception("loading %s failed", model)
                raise ModelError(f"{model}: cannot be loaded ({exc})") from exc
            self._key = (model, provider)
        return self._classifier


class CameraClassifier(QObject):
    """Numbers camera jobs, keeps live frames from queueing, drops stale answers."""

    snapshot_ready = Signal(object)
    """A :class:`FrameResult` for the newest snapshot."""
    live_result_ready = Signal(object)
    """A :class:`FrameResult` of live mode (only while live mode is on, for the current model)."""
    failed = Signal(str, str)
    """(kind, message) for the newest snapshot or for live mode."""

    def __init__(self, models: ModelService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._classifiers = _Classifiers(models)
        self._newest = _NewestFrame()
        self._runner = TaskRunner(self, "classifying the camera picture")
        self._runner.job_returned.connect(self._on_returned)
        self._runner.job_failed.connect(self._on_failed)
        self._runner.job_cancelled.connect(self._on_cancelled)
        self._model = ""
        self._provider = "auto"
        self._snapshot_job: int | None = None
        self._live_job: int | None = None
        self._live = False

    # -- requests --------------------------------------------------------------------------

    def set_model(self, model: str, provider: str = "auto") -> None:
        """Classify with ``model`` from now on; live answers from the old model are dropped."""
        if (model, provider) == (self._model, self._provider):
            return
        self._runner.cancel()  # the old model's download stops; its answers are not shown
        self._model, self._provider = model, provider
        if self._live_job is not None:  # its answer would be the old model's
            self._runner.forget(self._live_job)
            self._live_job = None
            self._queue_live()

    def model(self) -> tuple[str, str]:
        return self._model, self._provider

    def classify_snapshot(self, *, frame: QVideoFrame | None = None,
                          image: QImage | None = None) -> int:
        """Classify one frame or image ahead of any live frame; returns the job id."""
        if self._snapshot_job is not None:
            self._runner.forget(self._snapshot_job)
        model, provider = self._model, self._provider

        def job(_report: Report, cancel: CancelToken) -> Classification:
            picture = image if image is not None else (
                frame_to_qimage(frame) if frame is not None else None)
            return self._classifiers.classify(model, provider, picture, cancel)

        self._snapshot_job = self._runner.submit(job, priority=_SNAPSHOT_PRIORITY)
        return self._snapshot_job

    def start_live(self) -> None:
        self._live = True

    def stop_live(self) -> None:
        self._live = False
        self._newest.clear()
        if self._live_job is not None:
            self._runner.forget(self._live_job)
            self._live_job = None

    def is_live(self) -> bool:
        return self._live

    def offer_live_frame(self, frame: QVideoFrame) -> bool:
        """Hand the newest frame to live mode, replacing one no job has taken yet; False when
        live mode is off or no model is chosen."""
        if not self._live or not self._model:
            return False
        self._newest.put(frame)
        if self._live_job is None:
            self._queue_live()
        return True

    # -- state -------------------------------------------------------------------------------

    def frames_dropped(self) -> int:
        """Live frames replaced by a newer one before a job could take them."""
        return self._newest.dropped

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop live mode, cancel a download and wait for a classification in progress."""
        self._live = False
        self._newest.clear()
        finished = self._runner.shutdown(timeout_ms)
        if not finished:
            log.warning("the camera classifier is still busy after %d ms", timeout_ms)
        return finished

    # -- internals -------------------------------------------------------------------------

    def _queue_live(self) -> None:
        if not self._newest.waiting():
            return
        model, provider = self._model, self._provider

        def job(_report: Report, cancel: CancelToken) -> Classification | None:
            frame = self._newest.take()
            if frame is None:
                return None
            return self._classifiers.classify(model, provider, frame_to_qimage(frame), cancel)

        self._live_job = self._runner.submit(job)

    def _kind(self, job: int) -> str | None:
        if job == self._snapshot_job:
            self._snapshot_job = None
            return SNAPSHOT
        if job == self._live_job:
            self._live_job = None
            return LIVE
        return None

    def _on_returned(self, job: int, result: Classification | None) -> None:
        kind = self._kind(job)
        if kind == SNAPSHOT and result is not None:
            self.snapshot_ready.emit(FrameResult(job, SNAPSHOT, result))
        elif kind == LIVE:
            if result is not None and self._live:
                self.live_result_ready.emit(FrameResult(job, LIVE, result))
            if self._live:
                self._queue_live()

    def _on_failed(self, job: int, message: str) -> None:
        kind = self._kind(job)
        if kind is not None:
            self.failed.emit(kind, message)

    def _on_cancelled(self, job: int) -> None:
        if self._kind(job) == LIVE and self._live:
            self._queue_live()

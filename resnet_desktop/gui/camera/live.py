"""Classifying camera frames on a dedicated thread that never lets frames queue up.

Shape: napari's status checker. :class:`CameraClassifier` lives on the GUI thread; for every
frame in live mode it drops the frame into a one-place slot (replacing, and counting as dropped,
any frame the worker has not taken yet) and sets an "update needed" flag. :class:`FrameWorker`,
alone on its QThread, sleeps on that flag, takes whatever frame is newest, converts and
classifies it, and goes back to sleep. So the classification rate is whatever the machine
sustains and memory never grows with the camera's frame rate. A snapshot has its own slot and
goes first.

Frames travel as ``QVideoFrame`` (shared, no copy) and are converted to RGB on the worker, so
the GUI thread never pays for a pixel-format conversion it does not display. Every job has an
id; answers for a superseded snapshot, or for live frames after live mode stopped or the model
changed, are dropped. Nothing here touches a widget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame

from resnet_desktop.core.engine import (
    Cancelled,
    CancelToken,
    Classification,
    Classifier,
    ResNetDesktopError,
)
from resnet_desktop.core.imaging.decode import image_from_array
from resnet_desktop.gui.camera.frames import frame_to_qimage
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array
from resnet_desktop.gui.workers.model_service import ModelService

log = logging.getLogger(__name__)

SNAPSHOT = "snapshot"
LIVE = "live"
TOP_K = 5


@dataclass(frozen=True)
class FrameJob:
    """Classify one frame (or an already converted image) with ``model`` on ``provider``."""

    id: int
    kind: str
    model: str
    provider: str
    frame: QVideoFrame | None = field(default=None, compare=False, repr=False)
    image: QImage | None = field(default=None, compare=False, repr=False)
    cancel: CancelToken = field(default_factory=CancelToken, compare=False, repr=False)


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


class _FrameSlots:
    """The newest snapshot job and the newest live job, plus the flag the worker sleeps on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._snapshot: FrameJob | None = None
        self._live: FrameJob | None = None
        self._stopping = False
        self.dropped = 0
        self.cancel = CancelToken()
        """The current model's token: a model change or a stop cancels its download."""

    def put_snapshot(self, job: FrameJob) -> None:
        with self._condition:
            self._snapshot = job
            self._condition.notify()

    def offer_live(self, job: FrameJob) -> None:
        with self._condition:
            if self._live is not None:
                self.dropped += 1
            self._live = job
            self._condition.notify()

    def clear_live(self) -> None:
        with self._condition:
            self._live = None

    def stop(self) -> None:
        self.cancel.cancel()
        with self._condition:
            self._stopping = True
            self._snapshot = self._live = None
            self._condition.notify()

    def take(self) -> FrameJob | None:
        """Block until there is a job (snapshot first) and take it; None when stopping."""
        with self._condition:
            while not self._stopping and self._snapshot is None and self._live is None:
                self._condition.wait()
            if self._stopping:
                return None
            if self._snapshot is not None:
                job, self._snapshot = self._snapshot, None
            else:
                job, self._live = self._live, None
            return job


class FrameWorker(QObject):
    """Runs :meth:`run` on its own QThread until the slots are stopped."""

    result_ready = Signal(object)
    """A :class:`FrameResult`."""
    failed = Signal(int, str, str)
    """(job id, kind, message)."""

    def __init__(self, models: ModelService, slots: _FrameSlots) -> None:
        super().__init__()
        self._models = models
        self._engine = models.engine
        self._slots = slots
        self._classifier: Classifier | None = None
        self._loaded: tuple[str, str] | None = None
        self.classified = 0
        """How many frames were actually classified (dropped ones never are)."""

    @Slot()
    def run(self) -> None:
        while (job := self._slots.take()) is not None:
            try:
                self._process(job)
            except Exception as exc:  # an unexpected error must not end the thread
                log.exception("camera job %d failed", job.id)
                self.failed.emit(job.id, job.kind, f"Classification failed: {exc}")

    def _process(self, job: FrameJob) -> None:
        classifier = self._classifier_for(job)
        if classifier is None:
            return
        image = job.image if job.image is not None else (
            frame_to_qimage(job.frame) if job.frame is not None else None)
        if image is None:
            self.failed.emit(job.id, job.kind, "The camera sent an empty frame.")
            return
        try:
            pil = image_from_array(qimage_to_rgb_array(image))
        except ResNetDesktopError as exc:
            self.failed.emit(job.id, job.kind, str(exc))
            return
        result = self._engine.classify_image(classifier, pil, TOP_K)
        self.classified += 1
        self.result_ready.emit(FrameResult(job.id, job.kind, result))

    def _classifier_for(self, job: FrameJob) -> Classifier | None:
        key = (job.model, job.provider)
        if key == self._loaded and self._classifier is not None:
            return self._classifier
        try:
            classifier = self._models.load(job.model, job.provider, job.cancel)
        except Cancelled:
            return None
        except ResNetDesktopError as exc:
            self.failed.emit(job.id, job.kind, str(exc))
            return None
        except Exception as exc:  # ORT and OS errors must reach the user, not kill the thread
            log.exception("loading %s failed", job.model)
            self.failed.emit(job.id, job.kind, f"{job.model}: cannot be loaded ({exc})")
            return None
        self._classifier, self._loaded = classifier, key
        return classifier


def _stop_thread(slots: _FrameSlots, thread: QThread, timeout_ms: int = 2000) -> bool:
    """Stop the worker (a classification in progress finishes first) and wait for it."""
    slots.stop()
    if not shiboken6.isValid(thread):  # Qt already destroyed it with its parent at exit
        return True
    thread.quit()
    finished = thread.wait(timeout_ms)
    if not finished:
        log.warning("the camera classifier is still busy after %d ms", timeout_ms)
    return finished


class CameraClassifier(QObject):
    """The GUI thread's handle on the frame worker: numbers jobs and drops stale answers."""

    snapshot_ready = Signal(object)
    """A :class:`FrameResult` for the newest snapshot."""
    live_result_ready = Signal(object)
    """A :class:`FrameResult` of live mode (only while live mode is on, for the current model)."""
    failed = Signal(str, str)
    """(kind, message) for the newest snapshot or for live mode."""

    def __init__(self, models: ModelService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._slots = _FrameSlots()
        self._next_id = 0
        self._model = ""
        self._provider = "auto"
        self._latest_snapshot = 0
        self._live_since: int | None = None
        """Live answers to jobs older than this id are stale (live turned off, model changed)."""
        self._thread = QThread()
        self._thread.setObjectName("camera-classifier")
        self._worker = FrameWorker(models, self._slots)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._worker.deleteLater)
        self._worker.result_ready.connect(self._on_result_ready)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()
        self._stopped = False
        # A parent deleted without shutdown() must not leave the thread running (Qt aborts when
        # a running QThread is destroyed); the callable holds no reference to ``self``.
        self.destroyed.connect(partial(_stop_thread, self._slots, self._thread))

    # -- requests --------------------------------------------------------------------------

    def set_model(self, model: str, provider: str = "auto") -> None:
        """Classify with ``model`` from now on; live answers from the old model are dropped."""
        if (model, provider) == (self._model, self._provider):
            return
        self._slots.cancel.cancel()
        self._slots.cancel = CancelToken()
        self._model, self._provider = model, provider
        if self._live_since is not None:
            self._live_since = self._next_id + 1

    def model(self) -> tuple[str, str]:
        return self._model, self._provider

    def classify_snapshot(self, *, frame: QVideoFrame | None = None,
                          image: QImage | None = None) -> int:
        """Classify one frame or image ahead of any live frame; returns the job id."""
        job = self._job(SNAPSHOT, frame, image)
        self._latest_snapshot = job.id
        self._slots.put_snapshot(job)
        return job.id

    def start_live(self) -> None:
        if self._live_since is None:
            self._live_since = self._next_id + 1

    def stop_live(self) -> None:
        self._live_since = None
        self._slots.clear_live()

    def is_live(self) -> bool:
        return self._live_since is not None

    def offer_live_frame(self, frame: QVideoFrame) -> int | None:
        """Hand the newest frame to live mode, replacing one the worker has not taken yet."""
        if self._live_since is None or not self._model:
            return None
        job = self._job(LIVE, frame, None)
        self._slots.offer_live(job)
        return job.id

    # -- state -------------------------------------------------------------------------------

    def frames_dropped(self) -> int:
        """Live frames replaced by a newer one before the worker could take them."""
        return self._slots.dropped

    def frames_classified(self) -> int:
        return self._worker.classified

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the worker (a classification in progress finishes) and wait for it."""
        if self._stopped:
            return self._thread.isFinished()
        self._stopped = True
        self._live_since = None
        return _stop_thread(self._slots, self._thread, timeout_ms)

    def worker_thread(self) -> QThread:
        return self._thread

    # -- internals -------------------------------------------------------------------------

    def _job(self, kind: str, frame: QVideoFrame | None, image: QImage | None) -> FrameJob:
        self._next_id += 1
        return FrameJob(self._next_id, kind, self._model, self._provider, frame=frame,
                        image=image, cancel=self._slots.cancel)

    def _is_current(self, job_id: int, kind: str) -> bool:
        if kind == SNAPSHOT:
            return job_id == self._latest_snapshot
        return self._live_since is not None and job_id >= self._live_since

    @Slot(object)
    def _on_result_ready(self, result: FrameResult) -> None:
        if not self._is_current(result.id, result.kind):
            log.debug("dropping stale %s result %d", result.kind, result.id)
            return
        if result.kind == SNAPSHOT:
            self.snapshot_ready.emit(result)
        else:
            self.live_result_ready.emit(result)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        if self._is_current(job_id, kind):
            self.failed.emit(kind, message)

"""One long-lived worker that owns model loading (downloads included) and the ONNX Runtime session.

Shape: a single-worker executor fed immutable requests (napari's slicer, Anki's serialised
task). :class:`InferenceService` lives on the GUI thread: it numbers requests, posts them to a
mailbox and wakes :class:`InferenceWorker`, which lives on its own QThread. The mailbox keeps
only the newest pending request of each kind, so images dropped faster than inference are
coalesced and the newest wins; a newer model request cancels the download of an older one.
Answers come back by signals; the service drops answers to requests that a newer one has
superseded, so a stale result is never shown. Models are loaded (and downloaded) by the app's
:class:`ModelService`, which shows downloads in the status bar. No widget is touched here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from resnet_desktop.core.engine import (
    Cancelled,
    CancelToken,
    Classification,
    Classifier,
    Engine,
    ModelRef,
    ProviderStatus,
    ResNetDesktopError,
)
from resnet_desktop.core.imaging.decode import image_from_array
from resnet_desktop.gui.widgets.image_convert import qimage_to_rgb_array
from resnet_desktop.gui.workers.model_service import ModelService

log = logging.getLogger(__name__)

TOP_K = 5


@dataclass(frozen=True)
class LoadRequest:
    """Load ``model`` (catalog id or ``.onnx`` path) on ``provider``, downloading if needed."""

    id: int
    model: str
    provider: str
    cancel: CancelToken = field(default_factory=CancelToken, compare=False, repr=False)


@dataclass(frozen=True)
class ClassifyRequest:
    """Classify one image: a file (decoded by the worker) or a QImage."""

    id: int
    path: Path | None = None
    image: QImage | None = field(default=None, compare=False, repr=False)
    top_k: int = TOP_K


@dataclass(frozen=True)
class LoadedModel:
    """What the window shows about the model that now answers classifications."""

    model: str
    """The string that was asked for: a catalog id or an ``.onnx`` path."""
    ref: ModelRef
    provider: ProviderStatus
    model_path: Path
    num_classes: int
    input_size: int

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def license(self) -> str | None:
        if self.ref.manifest.license:
            return self.ref.manifest.license
        return self.ref.entry.license if self.ref.entry is not None else None


class _Mailbox:
    """The newest pending request of each kind, shared by the GUI thread and the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._load: LoadRequest | None = None
        self._classify: ClassifyRequest | None = None
        self.stopping = False

    def put_load(self, request: LoadRequest) -> None:
        with self._lock:
            self._load = request

    def put_classify(self, request: ClassifyRequest | None) -> None:
        with self._lock:
            self._classify = request

    def take_load(self) -> LoadRequest | None:
        with self._lock:
            request, self._load = self._load, None
            return request

    def take_classify(self) -> ClassifyRequest | None:
        with self._lock:
            request, self._classify = self._classify, None
            return request

    def has_load(self) -> bool:
        with self._lock:
            return self._load is not None


class InferenceWorker(QObject):
    """Runs on its own QThread; use it through :class:`InferenceService`."""

    model_loading = Signal(int, object, bool)
    """(request id, ModelRef, needs a download)."""
    model_loaded = Signal(int, object)
    """(request id, LoadedModel)."""
    load_cancelled = Signal(int, object)
    """(request id, ModelRef or None)."""
    load_failed = Signal(int, str)
    result_ready = Signal(int, object)
    """(request id, Classification); a bad image is a Classification with ``error`` set."""
    classify_failed = Signal(int, str)

    def __init__(self, models: ModelService, mailbox: _Mailbox) -> None:
        super().__init__()
        self._models = models
        self._engine = models.engine
        self._mailbox = mailbox
        self._classifier: Classifier | None = None

    @Slot()
    def drain(self) -> None:
        """Handle everything pending: the newest model request first, then the newest image."""
        while not self._mailbox.stopping:
            load = self._mailbox.take_load()
            if load is not None:
                self._load(load)
                continue
            if self._classifier is None:
                return  # the pending image waits for a model
            request = self._mailbox.take_classify()
            if request is None:
                return
            self._classify(request)

    def _load(self, request: LoadRequest) -> None:
        ref: ModelRef | None = None
        try:
            ref = self._engine.resolve(request.model)
            needs_download = not self._engine.is_ready(ref)
            self.model_loading.emit(request.id, ref, needs_download)
            classifier = self._models.load(ref, request.provider, request.cancel)
        except Cancelled:
            self.load_cancelled.emit(request.id, ref)
            return
        except ResNetDesktopError as exc:
            self.load_failed.emit(request.id, str(exc))
            return
        except Exception as exc:  # ORT and OS errors must reach the user, not kill the thread
            log.exception("loading %s failed", request.model)
            self.load_failed.emit(request.id, f"{request.model}: cannot be loaded ({exc})")
            return
        self._classifier = classifier
        self.model_loaded.emit(request.id, LoadedModel(
            request.model, ref, classifier.provider, classifier.model_path,
            classifier.io.num_classes, classifier.io.input_size))

    def _classify(self, request: ClassifyRequest) -> None:
        classifier = self._classifier
        assert classifier is not None
        try:
            if request.path is not None:
                result = self._engine.classify_file(classifier, request.path, request.top_k)
            else:
                result = self._classify_image(classifier, request.image, request.top_k)
        except Exception as exc:  # e.g. an ONNX Runtime error at run time
            log.exception("classification failed")
            self.classify_failed.emit(request.id, f"Classification failed: {exc}")
            return
        self.result_ready.emit(request.id, result)

    def _classify_image(self, classifier: Classifier, image: QImage,
                        top_k: int) -> Classification:
        if image is None or image.isNull():
            return Classification(None, classifier.model_id, error="The image is empty.")
        try:
            image = image_from_array(qimage_to_rgb_array(image))
        except ResNetDesktopError as exc:
            return Classification(None, classifier.model_id, error=str(exc))
        return self._engine.classify_image(classifier, image, top_k)


class InferenceService(QObject):
    """The GUI thread's handle on the worker: numbers requests and drops stale answers.

    Every ``load_model`` and ``classify_*`` call returns its request id; the signals below
    carry it. Only answers to the newest model request and the newest image are emitted.
    """

    model_loading = Signal(int, object, bool)
    """(request id, ModelRef, needs a download): loading has started."""
    model_loaded = Signal(int, object)
    """(request id, LoadedModel)."""
    load_cancelled = Signal(int, object)
    """(request id, ModelRef or None): the download was cancelled; its partial file is kept."""
    result_ready = Signal(int, object)
    """(request id, Classification) for the newest image only."""
    load_failed = Signal(int, str)
    """(request id, message): the newest model request failed; the previous model stays."""
    classify_failed = Signal(int, str)
    """(request id, message): the newest image could not be classified (a bug, not a bad file:
    a file that is not an image gives a Classification with ``error`` set)."""
    failed = Signal(int, str)
    """Either of the two above."""
    _wake = Signal()

    def __init__(self, models: ModelService | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.models = models if models is not None else ModelService(parent=self)
        self.engine: Engine = self.models.engine
        self._mailbox = _Mailbox()
        self._next_id = 0
        self._latest_load: LoadRequest | None = None
        self._latest_classify_id = 0
        self._answered_classify_id = 0
        self._loaded: LoadedModel | None = None
        self._thread = QThread()
        self._thread.setObjectName("inference-worker")
        self._worker = InferenceWorker(self.models, self._mailbox)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.drain)
        self._worker.model_loading.connect(self._on_model_loading)
        self._worker.model_loaded.connect(self._on_model_loaded)
        self._worker.load_cancelled.connect(self._on_load_cancelled)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.result_ready.connect(self._on_result_ready)
        self._worker.classify_failed.connect(self._on_classify_failed)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()
        self._stopped = False

    # -- requests ------------------------------------------------------------------------------

    def load_model(self, model: str, provider: str = "auto") -> int:
        """Load ``model`` (catalog id or ``.onnx`` path); cancels an older model's download."""
        if self._latest_load is not None:
            self._latest_load.cancel.cancel()
        request = LoadRequest(self._new_id(), str(model), provider)
        self._latest_load = request
        self._mailbox.put_load(request)
        self._wake.emit()
        return request.id

    def classify_path(self, path: Path, top_k: int = TOP_K) -> int:
        return self._post(ClassifyRequest(self._new_id(), path=Path(path), top_k=top_k))

    def classify_image(self, image: QImage, top_k: int = TOP_K) -> int:
        """Classify an image that has no file (pasted, a camera frame); the image is copied."""
        return self._post(ClassifyRequest(self._new_id(), image=image.copy(), top_k=top_k))

    def forget_image(self) -> None:
        """The current image went away: drop its pending request and any answer still coming."""
        self._mailbox.put_classify(None)
        self._latest_classify_id = self._new_id()
        self._answered_classify_id = self._latest_classify_id

    def cancel_download(self) -> None:
        """Cancel the current model request; a partial download stays for resuming."""
        if self._latest_load is not None:
            self._latest_load.cancel.cancel()

    # -- state -----------------------------------------------------------------------------------

    def loaded_model(self) -> LoadedModel | None:
        """The model that answers classifications now (None before the first load)."""
        return self._loaded

    def is_loading(self) -> bool:
        return self._latest_load is not None

    def has_pending_classification(self) -> bool:
        """True while the newest image has no answer yet."""
        return self._answered_classify_id < self._latest_classify_id

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Cancel everything, stop the thread and wait for it; True if it stopped in time.

        A download stops at its next chunk and keeps its partial file; an inference in
        progress finishes its one image first.
        """
        if self._stopped:  # called again: wait longer for the one in progress
            return self._thread.wait(timeout_ms)
        self._stopped = True
        self._mailbox.stopping = True
        self._mailbox.put_classify(None)
        if self._latest_load is not None:
            self._latest_load.cancel.cancel()
        self._thread.quit()
        finished = self._thread.wait(timeout_ms)
        if not finished:
            log.warning("the inference thread is still busy after %d ms", timeout_ms)
        return finished

    # -- internals -------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _post(self, request: ClassifyRequest) -> int:
        self._latest_classify_id = request.id
        self._mailbox.put_classify(request)
        self._wake.emit()
        return request.id

    def _is_current_load(self, request_id: int) -> bool:
        return self._latest_load is not None and self._latest_load.id == request_id

    def _on_model_loading(self, request_id: int, ref: ModelRef, needs_download: bool) -> None:
        if self._is_current_load(request_id):
            self.model_loading.emit(request_id, ref, needs_download)

    def _on_model_loaded(self, request_id: int, loaded: LoadedModel) -> None:
        self._loaded = loaded
        if self._is_current_load(request_id):
            self._latest_load = None
            self.model_loaded.emit(request_id, loaded)

    def _on_load_cancelled(self, request_id: int, ref: ModelRef | None) -> None:
        if self._is_current_load(request_id):
            self._latest_load = None
            self.load_cancelled.emit(request_id, ref)

    def _on_load_failed(self, request_id: int, message: str) -> None:
        if self._is_current_load(request_id):
            self._latest_load = None
            self.load_failed.emit(request_id, message)
            self.failed.emit(request_id, message)

    def _on_result_ready(self, request_id: int, result: Classification) -> None:
        if request_id < self._latest_classify_id:
            log.debug("dropping stale result %d (newest is %d)", request_id,
                      self._latest_classify_id)
            return
        self._answered_classify_id = request_id
        self.result_ready.emit(request_id, result)

    def _on_classify_failed(self, request_id: int, message: str) -> None:
        if request_id < self._latest_classify_id:
            return
        self._answered_classify_id = request_id
        self.classify_failed.emit(request_id, message)
        self.failed.emit(request_id, message)

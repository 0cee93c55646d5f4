"""The Classify tab's background work: load the chosen model, classify the image on screen.

Shape: a single-worker executor fed immutable requests (napari's slicer, Anki's serialised
task), built on the app's one :class:`TaskRunner`: its one thread owns the ONNX Runtime session,
so loads and classifications run in order. :class:`InferenceService` lives on the GUI thread
and numbers every request. An image that arrives while another is still queued replaces it
(images dropped faster than inference are coalesced and the newest wins); a newer model request
cancels an older one's download. Answers to a request that a newer one has superseded are
dropped, so a stale result is never shown. Models are loaded (and downloaded) by the app's
:class:`ModelService`, which shows downloads in the status bar. No widget is touched here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from resnet_desktop.core.engine import (
    CancelToken,
    Engine,
    ModelError,
    ModelRef,
    ProviderStatus,
    ResNetDesktopError,
)
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import Report, TaskRunner

if TYPE_CHECKING:
    from resnet_desktop.core.engine import Classification, Classifier

log = logging.getLogger(__name__)

TOP_K = 5


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


@dataclass(frozen=True)
class _Request:
    """One request: load a model, or classify a file or an image that has no file."""

    id: int
    model: str = ""
    provider: str = "auto"
    path: Path | None = None
    image: QImage | None = None
    top_k: int = TOP_K
    with_cam: bool = False
    """Also compute the class activation maps (``Classification.cam``) in the same run."""


class _NoModel:
    """A classification that ran before any model had loaded: it waits for the next one."""


class _Session:
    """The loaded classifier; only the runner's one thread reads or writes it."""

    def __init__(self, models: ModelService) -> None:
        self.models = models
        self.classifier: Classifier | None = None

    def load(self, request: _Request, report: Report, cancel: CancelToken) -> LoadedModel:
        ref = self.models.resolve(request.model)
        report((ref, not self.models.engine.is_ready(ref)))
        try:
            classifier = self.models.load(ref, request.provider, cancel)
        except ResNetDesktopError:
            raise
        except Exception as exc:  # ORT and OS errors reach the user as one line
            log.exception("loading %s failed", request.model)
            raise ModelError(f"{request.model}: cannot be loaded ({exc})") from exc
        self.classifier = classifier
        return LoadedModel(request.model, ref, classifier.provider, classifier.model_path,
                           classifier.io.num_classes, classifier.io.input_size)

    def classify(self, request: _Request, _report: Report,
                 _cancel: CancelToken) -> Classification | _NoModel:
        try:
            return self._classify(request)
        except Exception as exc:  # e.g. an ONNX Runtime error at run time: a bug, not a file
            log.exception("classification failed")
            raise ResNetDesktopError(f"Classification failed: {exc}") from exc

    def _classify(self, request: _Request) -> Classification | _NoModel:
        # On the worker, after the first paint: numpy and Pillow load with the first image.
        from resnet_desktop.core.engine import Classification
        from resnet_desktop.gui.widgets.image_convert import qimage_to_pil

        classifier = self.classifier
        if classifier is None:
            return _NoModel()
        engine = self.models.engine
        if request.path is not None:
            return engine.classify_file(classifier, request.path, request.top_k,
                                        with_cam=request.with_cam)
        image = request.image
        if image is None or image.isNull():
            return Classification(None, classifier.model_id, error="The image is empty.")
        try:
            picture = qimage_to_pil(image)
        except ResNetDesktopError as exc:
            return Classification(None, classifier.model_id, error=str(exc))
        return engine.classify_image(classifier, picture, request.top_k,
                                     with_cam=request.with_cam)


class InferenceService(QObject):
    """The GUI thread's handle on the Classify tab's worker: numbers requests, drops stale
    answers. Every ``load_model`` and ``classify_*`` call returns its request id; the signals
    carry it. Only answers to the newest model request and the newest image are emitted."""

    model_loading = Signal(int, object, bool)
    """(request id, ModelRef, needs a download): loading has started."""
    model_loaded = Signal(int, object)
    """(request id, LoadedModel)."""
    load_cancelled = Signal(int, object)
    """(request id, ModelRef or None): the download was cancelled; its partial file is kept."""
    result_ready = Signal(int, object)
    """(request id, Classification) for the newest image only."""
    provider_changed = Signal(object)
    """The :class:`LoadedModel` again, with the provider that now runs: a GPU provider failed
    during a run and ONNX Runtime moved the session to the CPU."""
    load_failed = Signal(int, str)
    """(request id, message): the newest model request failed; the previous model stays."""
    classify_failed = Signal(int, str)
    """(request id, message): the newest image could not be classified (a bug, not a bad file:
    a file that is not an image gives a Classification with ``error`` set)."""
    failed = Signal(int, str)
    """Either of the two above."""

    def __init__(self, models: ModelService | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.models = models if models is not None else ModelService(parent=self)
        self.engine: Engine = self.models.engine
        self._session = _Session(self.models)
        self._runner = TaskRunner(self, "classification")
        self._runner.job_progressed.connect(self._on_progressed)
        self._runner.job_returned.connect(self._on_returned)
        self._runner.job_failed.connect(self._on_failed)
        self._runner.job_cancelled.connect(self._on_cancelled)
        self._next_id = 0
        self._load: tuple[int, _Request] | None = None
        """(job id, request) of the newest model request until it is answered."""
        self._load_ref: ModelRef | None = None
        self._classify: tuple[int, _Request] | None = None
        """(job id, request) of the newest image until it is answered."""
        self._parked: _Request | None = None
        """The newest image while no model is loaded or loading."""
        self._loaded: LoadedModel | None = None
        self._with_cam = False
        self._stopped = False

    # -- requests ------------------------------------------------------------------------------

    def load_model(self, model: str, provider: str = "auto") -> int:
        """Load ``model`` (catalog id or ``.onnx`` path); cancels an older model's download."""
        if self._load is not None:
            self._runner.forget(self._load[0])
        if self._classify is not None and self._runner.withdraw(self._classify[0]):
            self._parked, self._classify = self._classify[1], None  # the new model answers it
        request = _Request(self._new_id(), model=str(model), provider=provider)
        job = self._runner.submit(lambda report, cancel: self._session.load(request, report,
                                                                           cancel))
        self._load, self._load_ref = (job, request), None
        if self._parked is not None:
            parked, self._parked = self._parked, None
            self._post(parked)
        return request.id

    def set_with_cam(self, on: bool) -> None:
        """Ask for class activation maps with every classification from now on."""
        self._with_cam = on

    def classify_path(self, path: Path, top_k: int = TOP_K) -> int:
        return self._post(_Request(self._new_id(), path=Path(path), top_k=top_k,
                                   with_cam=self._with_cam))

    def classify_image(self, image: QImage, top_k: int = TOP_K) -> int:
        """Classify an image that has no file (pasted, a camera frame); the image is copied."""
        return self._post(_Request(self._new_id(), image=image.copy(), top_k=top_k,
                                   with_cam=self._with_cam))

    def forget_image(self) -> None:
        """The current image went away: drop its pending request and any answer still coming."""
        self._parked = None
        if self._classify is not None:
            self._runner.forget(self._classify[0])
            self._classify = None

    # -- state -----------------------------------------------------------------------------------

    def loaded_model(self) -> LoadedModel | None:
        """The model that answers classifications now (None before the first load)."""
        return self._loaded

    def is_loading(self) -> bool:
        return self._load is not None

    def has_pending_classification(self) -> bool:
        """True while the newest image has no answer yet."""
        return self._classify is not None or self._parked is not None

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Cancel everything and wait for the worker; True if it stopped in time. Called again,
        it waits again.

        A download stops at its next chunk and keeps its partial file; an inference in
        progress finishes its one image first.
        """
        self._stopped = True
        self._parked = None
        self._load = self._classify = None
        finished = self._runner.shutdown(timeout_ms)
        if not finished:
            log.warning("the inference thread is still busy after %d ms", timeout_ms)
        return finished

    # -- internals -------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _post(self, request: _Request) -> int:
        if self._stopped:
            return request.id
        if self._classify is not None:  # a newer image: the older one's answer is stale
            self._runner.forget(self._classify[0])
            self._classify = None
        if self._loaded is None and self._load is None:
            self._parked = request
            return request.id
        self._parked = None
        job = self._runner.submit(lambda report, cancel: self._session.classify(request, report,
                                                                               cancel))
        self._classify = (job, request)
        return request.id

    def _answer_to(self, slot: tuple[int, _Request] | None, job: int) -> _Request | None:
        return slot[1] if slot is not None and slot[0] == job else None

    def _on_progressed(self, job: int, payload: tuple[ModelRef, bool]) -> None:
        request = self._answer_to(self._load, job)
        if request is not None:
            self._load_ref = payload[0]
            self.model_loading.emit(request.id, *payload)

    def _on_returned(self, job: int, result: object) -> None:
        if (request := self._answer_to(self._load, job)) is not None:
            assert isinstance(result, LoadedModel)
            self._loaded, self._load = result, None
            self.model_loaded.emit(request.id, result)
        elif (request := self._answer_to(self._classify, job)) is not None:
            self._classify = None
            if isinstance(result, _NoModel):  # the load failed: wait for the next model
                self._parked = request
                return
            self._follow_provider(result)
            self.result_ready.emit(request.id, result)

    def _follow_provider(self, result: Classification) -> None:
        loaded, classifier = self._loaded, self._session.classifier
        if (loaded is None or classifier is None or not result.provider
                or result.provider == loaded.provider.active):
            return
        # The worker replaced the classifier's status (one assignment) before this answer.
        self._loaded = replace(loaded, provider=classifier.provider)
        self.provider_changed.emit(self._loaded)

    def _on_failed(self, job: int, message: str) -> None:
        if (request := self._answer_to(self._load, job)) is not None:
            self._load = None
            self.load_failed.emit(request.id, message)
            self.failed.emit(request.id, message)
        elif (request := self._answer_to(self._classify, job)) is not None:
            self._classify = None
            self.classify_failed.emit(request.id, message)
            self.failed.emit(request.id, message)

    def _on_cancelled(self, job: int) -> None:
        if (request := self._answer_to(self._load, job)) is not None:
            self._load = None
            self.load_cancelled.emit(request.id, self._load_ref)

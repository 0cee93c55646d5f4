"""The Classify tab's flows: load the chosen model, classify the image on screen, show the answer.

The window composes the widgets (pane, picker, chart) and the status bar; this controller wires
them to the :class:`InferenceService` and owns every multi-step flow between them, so the window
itself only lays things out. What the status bar should say comes out as signals.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from resnet_desktop.core.engine import (
    DownloadProblem,
    ModelRef,
    ResNetDesktopError,
    format_bytes,
)
from resnet_desktop.gui.classify.image_pane import ImagePane, ImageSource
from resnet_desktop.gui.classify.model_problem import ModelProblemView
from resnet_desktop.gui.classify.top5_chart import Top5Chart
from resnet_desktop.gui.models.picker import ModelPicker
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.workers.inference import InferenceService, LoadedModel

if TYPE_CHECKING:  # its module imports numpy, which the first paint does without
    from resnet_desktop.core.engine import Classification

log = logging.getLogger(__name__)

LAST_MODEL_KEY = "model/last"
PROVIDER_KEY = "model/provider"


class ClassifyController(QObject):
    """Loads the picker's model and classifies the pane's image; ``remember=False`` writes no
    settings."""

    model_changed = Signal(str, str)
    """(model, provider policy) once a model has loaded: a catalog id or an ``.onnx`` path."""
    model_loaded = Signal(object)
    """The :class:`LoadedModel` that answers from now on."""
    result_shown = Signal(object)
    """The :class:`Classification` now on the chart."""
    timing_changed = Signal(str)
    """The last inference time as text ('' when there is none)."""
    image_shown = Signal(str)
    """The path of a file now on screen (for the Recent menu)."""
    message = Signal(str, bool, int)
    """(text, is an error, milliseconds to show it or 0) for the status bar."""

    def __init__(self, service: InferenceService, pane: ImagePane, picker: ModelPicker,
                 chart: Top5Chart, parent: QObject | None = None, *,
                 remember: bool = True) -> None:
        super().__init__(parent)
        self.service = service
        self.pane = pane
        self.picker = picker
        self.chart = chart
        self._remember = remember
        self._load_requested = False
        self._requested_model = ""
        self._download_problem: DownloadProblem | None = None
        """The last failed download of the model this tab asked for, until its load fails."""
        self.problem = ModelProblemView(chart)
        self.problem.place_in_card(chart)
        self.problem.hide()
        self.problem.retry_requested.connect(self._retry)
        self.problem.model_chosen.connect(self.select_model)
        self.problem.import_requested.connect(picker.add_model_requested)
        service.models.download_failed.connect(self._on_download_failed)
        pane.image_loading.connect(self._on_image_loading)
        pane.image_changed.connect(self._on_image_changed)
        pane.image_failed.connect(self._on_image_failed)
        picker.model_selected.connect(self.load)
        service.model_loading.connect(self._on_model_loading)
        service.model_loaded.connect(self._on_model_loaded)
        service.load_cancelled.connect(self._revert_picker)
        service.load_failed.connect(self._on_load_failed)
        service.result_ready.connect(self._on_result_ready)
        service.classify_failed.connect(self._on_classify_failed)

    def loaded_model(self) -> LoadedModel | None:
        """The model that answers now, with the provider that actually runs it."""
        return self.service.loaded_model()

    def load(self, model: str, provider: str) -> None:
        self._load_requested = True
        self._requested_model = model
        self._download_problem = None
        self.service.load_model(model, provider)

    def shown_problem(self) -> DownloadProblem | None:
        """The download problem the card shows now (None when it shows results)."""
        return self.problem.problem() if self.problem.isVisible() else None

    def select_model(self, model: str, provider: str | None = None) -> bool:
        """Select ``model`` (catalog id or ``.onnx`` path) and load it, as if the user chose it."""
        if provider is not None:
            self.picker.select_provider(provider)
        if not self.picker.select_model(model):
            return False
        self.load(self.picker.current_model(), provider or self.picker.current_provider())
        return True

    def start(self, download: bool = False) -> None:
        """Load the selected model now if that needs no download (or ``download`` is true);
        otherwise it downloads when the first image arrives."""
        model = self.picker.current_model()
        if not model:
            return
        engine = self.service.engine
        try:
            ready = engine.is_ready(engine.resolve(model))
        except Exception as exc:  # a stale custom model: say so, load nothing
            self._say(str(exc), error=True)
            return
        if ready or download:
            self.load(model, self.picker.current_provider())
        else:
            entry = engine.catalog.get(model)
            size = f" ({format_bytes(entry.bytes)})" if entry else ""
            self.chart.clear(f"{self.picker.combo.currentText()} is not downloaded yet{size}; "
                             "it downloads when you classify an image.")

    # -- flows -----------------------------------------------------------------------------------

    def _say(self, text: str, *, error: bool = False, timeout_ms: int = 0) -> None:
        self.message.emit(text, error, timeout_ms)

    def _classify(self, source: ImageSource) -> None:
        if not self._load_requested and self.picker.current_model():
            self.load(self.picker.current_model(), self.picker.current_provider())
        if source.path is not None:
            self.service.classify_path(source.path)
        elif source.image is not None:
            self.service.classify_image(source.image)

    def _on_image_loading(self, _source: ImageSource) -> None:
        self.service.forget_image()
        self.chart.set_pending(True)

    def _on_image_changed(self, source: ImageSource) -> None:
        if source.path is not None:
            self.image_shown.emit(str(source.path))
        if self.loaded_model() is None and not self.service.is_loading() and self._load_requested \
                and self.shown_problem() is None:  # the card already says what happened
            self._say("No model is loaded; choose one in the model list.", error=True)
        self._classify(source)

    def _on_image_failed(self, _source: ImageSource, message: str) -> None:
        self.service.forget_image()
        self.chart.clear("No result for this file.")
        self.timing_changed.emit("")
        self._say(message, error=True)

    def _on_model_loading(self, _request_id: int, ref: ModelRef, needs_download: bool) -> None:
        self._hide_problem()
        self._say(f"{'Downloading' if needs_download else 'Loading'} {ref.name}…")

    def _on_model_loaded(self, _request_id: int, loaded: LoadedModel) -> None:
        self._hide_problem()
        self.picker.refresh()
        self.picker.select_model(loaded.model)
        self.model_loaded.emit(loaded)
        if loaded.provider.fallback_reason:
            self._say(f"{loaded.name} runs on the CPU: {loaded.provider.fallback_reason}",
                      error=True)
        else:
            self._say(f"{loaded.name} loaded; running on {loaded.provider.display}.",
                      timeout_ms=8000)
        if self._remember:
            settings = app_settings()
            settings.setValue(LAST_MODEL_KEY, loaded.model)
            settings.setValue(PROVIDER_KEY, loaded.provider.requested)
        self.model_changed.emit(loaded.model, loaded.provider.requested)
        self._show_current_image()

    def _show_current_image(self) -> None:
        """After a model loaded: classify the image on screen, or clear the waiting note."""
        source = self.pane.current_source()
        if source is not None and self.pane.has_image() and \
                not self.service.has_pending_classification():
            self._classify(source)
        elif source is None and self.chart.result() is None:
            self.chart.clear()

    def _on_download_failed(self, problem: DownloadProblem) -> None:
        if problem.model_id == self._requested_model:
            self._download_problem = problem

    def _on_load_failed(self, _request_id: int, message: str) -> None:
        problem, self._download_problem = self._download_problem, None
        if problem is not None:
            self._show_problem(problem)
        else:
            self._say(message, error=True)
            if self.loaded_model() is None:
                self.chart.clear(message)
        self._revert_picker()

    def _show_problem(self, problem: DownloadProblem) -> None:
        """The card says what happened and offers Retry, the models here, and Import."""
        self.chart.clear(" ")
        self.problem.show_problem(problem, self._local_models())
        self._say(problem.status, error=True)

    def _hide_problem(self) -> None:
        if self.problem.isVisible():
            self.problem.hide()
            if self.chart.result() is None:
                self.chart.clear()

    def _local_models(self) -> list[tuple[str, str]]:
        """(model, title) of every model usable without a download: cached and built-in
        catalog models, then the user's own files."""
        engine = self.service.engine
        models = [(cached.id, engine.catalog.get(cached.id).name)
                  for cached in engine.cache.list()]
        for path in self.picker.custom_models():
            try:
                ref = engine.resolve(path)
            except ResNetDesktopError:  # a custom model whose file went away: not offered
                continue
            models.append((path, ref.name))
        return models

    def _retry(self, model: str) -> None:
        self.select_model(model)

    def _revert_picker(self, *_args) -> None:
        self.picker.refresh()
        loaded = self.loaded_model()
        if loaded is not None:
            self.picker.select_model(loaded.model)
            self.picker.select_provider(loaded.provider.requested)

    def _on_result_ready(self, _request_id: int, result: Classification) -> None:
        self._hide_problem()
        if not result.ok:
            self.chart.clear("No result for this image.")
            self.pane.show_message(result.error or "This image cannot be classified.",
                                   error=True)
            self._say(result.error or "", error=True)
            return
        self.chart.set_result(result)
        self.timing_changed.emit(f"{result.ms:.1f} ms")
        self.result_shown.emit(result)

    def _on_classify_failed(self, _request_id: int, message: str) -> None:
        self.chart.clear("No result for this image.")
        self._say(message, error=True)

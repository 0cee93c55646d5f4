"""The one owner of "which model" and "get me that model" for every tab.

:class:`ModelService` lives on the GUI thread and holds the app's model selection (a catalog id
or an ``.onnx`` path, and a provider policy): the picker changes it, and every tab observes
:attr:`ModelService.selection_changed` instead of keeping a model choice of its own.

It is also the only GUI code that loads or downloads a model. Tabs' background workers call
:meth:`ModelService.load` from their own threads; a model that is not cached downloads once,
however many tabs ask for it at the same time (the others wait for it), and every download
reports to the same signals, which the status-bar download bar shows, with one Cancel for all.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from resnet_desktop.core.engine import Engine, ModelRef, download_problem
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled, DownloadError
from resnet_desktop.gui.workers.task_runner import throttled

if TYPE_CHECKING:  # their modules import numpy, which the first paint does without
    from resnet_desktop.core.engine import Classifier
    from resnet_desktop.core.operations.compare import CompareModel

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.05


class ModelService(QObject):
    """The current model selection, and loading (downloads included) for every tab."""

    selection_changed = Signal(str, str)
    """(model, provider policy): the model every tab uses from now on."""
    download_started = Signal(str, object, object)
    """(model name, bytes in all or 0, bytes already here from an earlier try)."""
    download_progressed = Signal(object, object, float)
    """(bytes done, bytes in all, bytes per second), at most every 50 ms."""
    download_ended = Signal(str, str, object)
    """(model name, "done" | "cancelled" | "failed", bytes kept for resuming)."""
    download_failed = Signal(object)
    """The :class:`DownloadProblem` of a failed download (before the load reports its error):
    a short headline and what to do, with the full error as its detail."""

    def __init__(self, engine: Engine | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine if engine is not None else Engine()
        self._model = self.engine.default_model
        self._provider = "auto"
        self._lock = threading.Lock()
        self._model_locks: dict[str, threading.Lock] = {}
        self._waiting: set[CancelToken] = set()
        """Tokens of every load now downloading or waiting for a download: Cancel stops them."""
        self._downloads = 0

    # -- the selection -----------------------------------------------------------------------

    def current_model(self) -> str:
        return self._model

    def current_provider(self) -> str:
        return self._provider

    def select(self, model: str | Path, provider: str | None = None) -> None:
        """Make ``model`` (and ``provider``, if given) the app's model; tabs follow."""
        selection = (str(model), provider if provider is not None else self._provider)
        if selection == (self._model, self._provider):
            return
        self._model, self._provider = selection
        self.selection_changed.emit(*selection)

    # -- loading (any thread) ----------------------------------------------------------------

    def resolve(self, model: str | Path | ModelRef) -> ModelRef:
        return model if isinstance(model, ModelRef) else self.engine.resolve(model)

    def load(self, model: str | Path | ModelRef, provider: str, cancel: CancelToken, *,
             throughput: bool = False) -> Classifier:
        """Download ``model`` if needed, then open (or reuse) its session; blocks, so call it
        from a worker thread. Raises ``Cancelled`` or a ``ResNetDesktopError`` as the engine
        does."""
        ref = self.resolve(model)
        if not self.engine.is_ready(ref):
            self._download(ref, cancel)
        return self.engine.load(ref, provider, cancel=cancel, throughput=throughput)

    def fetch(self, model: str | Path | ModelRef, cancel: CancelToken) -> ModelRef:
        """Download ``model`` if needed, like :meth:`load`, without opening a session."""
        ref = self.resolve(model)
        if not self.engine.is_ready(ref):
            self._download(ref, cancel)
        return ref

    def compare_model(self, model: str, provider: str) -> CompareModel:
        """``model`` for a comparison: downloaded through this service (the status-bar bar and
        its Cancel), then opened on a session of its own, which the comparison releases before
        the next model loads, so memory holds one compared model at a time (the tabs' shared
        sessions are not used: ResNet-152 and 101 together are over 400 MB)."""
        compared = self.engine.compare_model(model, provider)

        def load(_progress: object, cancel: CancelToken) -> Classifier:
            self.fetch(model, cancel)
            return compared.load(None, cancel)

        return dataclasses.replace(compared, load=load)

    def is_downloading(self) -> bool:
        with self._lock:
            return self._downloads > 0

    def cancel_downloads(self) -> None:
        """Stop every download (and the loads waiting for one); partial files stay."""
        with self._lock:
            tokens = list(self._waiting)
        for token in tokens:
            token.cancel()

    # -- internals ---------------------------------------------------------------------------

    def _download(self, ref: ModelRef, cancel: CancelToken) -> None:
        with self._lock:
            model_lock = self._model_locks.setdefault(ref.id, threading.Lock())
            self._waiting.add(cancel)
        try:
            while not model_lock.acquire(timeout=_LOCK_POLL_S):  # another tab downloads it
                cancel.raise_if_cancelled()
            try:
                if not self.engine.is_ready(ref):
                    self._fetch(ref, cancel)
            finally:
                model_lock.release()
        finally:
            with self._lock:
                self._waiting.discard(cancel)

    def _fetch(self, ref: ModelRef, cancel: CancelToken) -> None:
        cache = self.engine.cache
        total = ref.entry.bytes if ref.entry is not None else 0
        with self._lock:
            self._downloads += 1
        self.download_started.emit(ref.name, total, cache.partial_bytes(ref.id))
        outcome = "failed"
        try:
            self.engine.model_file(ref, progress=throttled(self.download_progressed.emit),
                                   cancel=cancel)
            outcome = "done"
        except Cancelled:
            outcome = "cancelled"
            raise
        except DownloadError as exc:
            self.download_failed.emit(download_problem(exc, ref.id, ref.name))
            raise
        finally:
            with self._lock:
                self._downloads -= 1
            log.info("download of %s: %s", ref.id, outcome)
            self.download_ended.emit(ref.name, outcome, cache.partial_bytes(ref.id))

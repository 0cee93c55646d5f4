"""The Batch tab's background work: one worker QObject on its own QThread.

The worker owns everything slow: loading the model (downloading it if needed), running
:class:`~resnet_desktop.core.batch.run.BatchRun`, planning and writing XMP sidecars, undoing them.
It never touches a widget. Results come back in chunks (every 100 ms or 256 records), so a
batch running at hundreds of images per second costs the GUI thread a few model updates a
second, not one per image.

:class:`BatchController` lives on the GUI thread: it hands requests to the worker (queued
signals), holds the cancel and pause tokens, and re-emits the worker's answers only for the
current request; answers to a request that a newer one replaced are dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from resnet_desktop.core.batch.results_store import open_results_store
from resnet_desktop.core.batch.run import (
    BatchOptions,
    BatchProgress,
    BatchRecord,
    BatchRun,
    model_fingerprint,
)
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.foundation.cancel import CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import Cancelled, ResNetDesktopError
from resnet_desktop.core.foundation.hashing import sha256_file_remembered
from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last
from resnet_desktop.core.sidecars.xmp import (
    SidecarChange,
    SidecarNaming,
    plan_sidecars,
    write_sidecars,
)

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1
CHUNK_RECORDS = 256


@dataclass(frozen=True)
class BatchRequest:
    id: int
    folder: Path
    model: str
    provider: str
    options: BatchOptions
    cancel: CancelToken
    pause: PauseToken


@dataclass(frozen=True)
class LoadedBatchModel:
    """The model a batch runs: id, weights checksum, provider that actually runs."""

    model_id: str
    sha256: str
    provider: str
    provider_display: str
    fallback_reason: str | None = None


@dataclass(frozen=True)
class SidecarPlanRequest:
    id: int
    records: tuple[BatchRecord, ...]
    min_confidence: float
    naming: SidecarNaming


@dataclass(frozen=True)
class SidecarWriteRequest:
    id: int
    folder: Path
    changes: tuple[SidecarChange, ...]
    model: str
    cancel: CancelToken


@dataclass(frozen=True)
class UndoRequest:
    id: int
    folder: Path


class BatchWorker(QObject):
    """Runs on the controller's QThread; every signal carries the request id."""

    model_loaded = Signal(int, object)
    """(id, LoadedBatchModel)"""
    download_progressed = Signal(int, int, int, float)
    """(id, bytes done, bytes total, bytes/s)"""
    records_ready = Signal(int, object, object)
    """(id, a list of BatchRecord, BatchProgress after them)"""
    completed = Signal(int, object)
    """(id, final BatchProgress)"""
    cancelled = Signal(int, object)
    """(id, BatchProgress when it stopped)"""
    failed = Signal(int, str)
    """(id, one-line message)"""
    sidecars_planned = Signal(int, object, object)
    """(id, tuple of SidecarChange, SidecarPreview)"""
    sidecars_written = Signal(int, object)
    """(id, SidecarReport)"""
    sidecars_undone = Signal(int, object)
    """(id, UndoReport)"""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine

    @Slot(object)
    def run_batch(self, request: BatchRequest) -> None:
        progress = BatchProgress()
        store = None
        try:
            if request.cancel.cancelled:
                raise Cancelled()
            ref = self._engine.resolve(request.model)
            # A session of its own, built for throughput (see core.inference.throughput_layout).
            classifier = self._engine.load(
                ref, request.provider, cancel=request.cancel, throughput=True,
                progress=lambda done, total, rate: self.download_progressed.emit(
                    request.id, done, total, rate))
            sha = ref.entry.sha256 if ref.entry is not None else sha256_file_remembered(
                classifier.model_path)
            status = classifier.provider
            self.model_loaded.emit(request.id, LoadedBatchModel(
                classifier.model_id, sha, status.active, status.display, status.fallback_reason))
            store = open_results_store()
            run = BatchRun(classifier, request.folder, request.options, store=store,
                           model_key=model_fingerprint(sha, classifier.manifest),
                           cancel=request.cancel, pause=request.pause)
            progress = run.progress
            chunk: list[BatchRecord] = []
            last = time.perf_counter()
            try:
                for record in run:
                    chunk.append(record)
                    now = time.perf_counter()
                    if len(chunk) >= CHUNK_RECORDS or now - last >= CHUNK_SECONDS \
                            or request.pause.paused:
                        self.records_ready.emit(request.id, chunk, replace(progress))
                        chunk, last = [], now
            finally:
                if chunk:
                    self.records_ready.emit(request.id, chunk, replace(progress))
        except Cancelled:
            self.cancelled.emit(request.id, replace(progress))
            return
        except ResNetDesktopError as exc:
            self.failed.emit(request.id, str(exc))
            return
        except Exception as exc:  # a bug must reach the user as a message, not kill the thread
            log.exception("batch failed")
            self.failed.emit(request.id, f"The batch failed: {exc}")
            return
        finally:
            if store is not None:
                store.close()
        self.completed.emit(request.id, replace(progress))

    @Slot(object)
    def plan_sidecars(self, request: SidecarPlanRequest) -> None:
        try:
            changes, preview = plan_sidecars(request.records, request.min_confidence,
                                             request.naming)
        except Exception as exc:
            log.exception("planning sidecars failed")
            self.failed.emit(request.id, f"Cannot prepare the sidecars: {exc}")
            return
        self.sidecars_planned.emit(request.id, tuple(changes), preview)

    @Slot(object)
    def write_sidecars(self, request: SidecarWriteRequest) -> None:
        try:
            with UndoJournal.start(request.folder) as journal:
                report = write_sidecars(request.changes, journal, model=request.model,
                                        cancel=request.cancel)
        except Cancelled:
            self.failed.emit(request.id, "Writing sidecars was cancelled; Undo reverts the "
                                         "ones already written")
            return
        except (OSError, ResNetDesktopError) as exc:
            self.failed.emit(request.id, f"Cannot write sidecars: {exc}")
            return
        self.sidecars_written.emit(request.id, report)

    @Slot(object)
    def undo_sidecars(self, request: UndoRequest) -> None:
        try:
            report = undo_last(request.folder)
        except (OSError, ResNetDesktopError) as exc:
            self.failed.emit(request.id, str(exc))
            return
        self.sidecars_undone.emit(request.id, report)


class BatchController(QObject):
    """The GUI thread's handle on the worker thread; signals carry no ids (stale ones are
    dropped here)."""

    model_loaded = Signal(object)
    download_progressed = Signal(int, int, float)
    records_ready = Signal(object, object)
    completed = Signal(object)
    cancelled = Signal(object)
    failed = Signal(str)
    sidecars_planned = Signal(object, object)
    sidecars_written = Signal(object)
    sidecars_undone = Signal(object)
    busy_changed = Signal(bool)

    _run_batch = Signal(object)
    _plan_sidecars = Signal(object)
    _write_sidecars = Signal(object)
    _undo_sidecars = Signal(object)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next_id = 0
        self._current = 0
        self._busy = False
        self._cancel: CancelToken | None = None
        self._pause = PauseToken()
        self._thread = QThread(self)
        self._thread.setObjectName("batch-worker")
        self._worker = BatchWorker(engine)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._run_batch.connect(self._worker.run_batch)
        self._plan_sidecars.connect(self._worker.plan_sidecars)
        self._write_sidecars.connect(self._worker.write_sidecars)
        self._undo_sidecars.connect(self._worker.undo_sidecars)
        # Slots of this object (not lambdas), so the calls are queued onto the GUI thread.
        w = self._worker
        w.model_loaded.connect(self._on_model_loaded)
        w.download_progressed.connect(self._on_download_progressed)
        w.records_ready.connect(self._on_records_ready)
        w.completed.connect(self._on_completed)
        w.cancelled.connect(self._on_cancelled)
        w.failed.connect(self._on_failed)
        w.sidecars_planned.connect(self._on_sidecars_planned)
        w.sidecars_written.connect(self._on_sidecars_written)
        w.sidecars_undone.connect(self._on_sidecars_undone)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def paused(self) -> bool:
        return self._pause.paused

    @property
    def holding(self) -> bool:
        """True once a paused batch has actually stopped (every record so far was sent)."""
        return self._pause.holding

    def _new_request(self) -> int:
        if self._cancel is not None:
            self._cancel.cancel()
        self._pause.resume()
        self._next_id += 1
        self._current = self._next_id
        self._cancel = CancelToken()
        self._pause = PauseToken()
        self._set_busy(True)
        return self._current

    def start(self, folder: Path, model: str, provider: str, options: BatchOptions) -> int:
        request_id = self._new_request()
        self._run_batch.emit(BatchRequest(request_id, Path(folder), model, provider, options,
                                          self._cancel, self._pause))
        return request_id

    def plan_sidecars(self, records: list[BatchRecord], min_confidence: float,
                      naming: SidecarNaming) -> int:
        request_id = self._new_request()
        self._plan_sidecars.emit(SidecarPlanRequest(request_id, tuple(records), min_confidence,
                                                    naming))
        return request_id

    def write_sidecars(self, folder: Path, changes: tuple[SidecarChange, ...],
                       model: str) -> int:
        request_id = self._new_request()
        self._write_sidecars.emit(SidecarWriteRequest(request_id, Path(folder), changes, model,
                                                      self._cancel))
        return request_id

    def undo_sidecars(self, folder: Path) -> int:
        request_id = self._new_request()
        self._undo_sidecars.emit(UndoRequest(request_id, Path(folder)))
        return request_id

    def pause(self) -> None:
        self._pause.pause()

    def resume(self) -> None:
        self._pause.resume()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
        self._pause.resume()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel, stop the thread and wait for it (call before the window goes away)."""
        self.cancel()
        self._current = -1
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _finish(self, request_id: int) -> bool:
        if request_id != self._current:
            return False
        self._cancel = None
        self._set_busy(False)
        return True

    @Slot(int, object)
    def _on_model_loaded(self, request_id: int, model: LoadedBatchModel) -> None:
        if request_id == self._current:
            self.model_loaded.emit(model)

    @Slot(int, int, int, float)
    def _on_download_progressed(self, request_id: int, done: int, total: int,
                                rate: float) -> None:
        if request_id == self._current:
            self.download_progressed.emit(done, total, rate)

    @Slot(int, object, object)
    def _on_records_ready(self, request_id: int, records: list, progress: BatchProgress) -> None:
        if request_id == self._current:
            self.records_ready.emit(records, progress)

    @Slot(int, object)
    def _on_completed(self, request_id: int, progress: BatchProgress) -> None:
        if self._finish(request_id):
            self.completed.emit(progress)

    @Slot(int, object)
    def _on_cancelled(self, request_id: int, progress: BatchProgress) -> None:
        if self._finish(request_id):
            self.cancelled.emit(progress)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        if self._finish(request_id):
            self.failed.emit(message)

    @Slot(int, object, object)
    def _on_sidecars_planned(self, request_id: int, changes: tuple, preview: object) -> None:
        if self._finish(request_id):
            self.sidecars_planned.emit(changes, preview)

    @Slot(int, object)
    def _on_sidecars_written(self, request_id: int, report: object) -> None:
        if self._finish(request_id):
            self.sidecars_written.emit(report)

    @Slot(int, object)
    def _on_sidecars_undone(self, request_id: int, report: object) -> None:
        if self._finish(request_id):
            self.sidecars_undone.emit(report)

"""The Batch tab's background jobs, run by its :class:`TaskRunner`; none touches a widget.

A batch is the core's one "tag a folder" operation (:func:`tag_folder`, the same as
``resnet-desktop tag``) on a model the :class:`ModelService` loads. Its records come back in
chunks (every 100 ms or 256 records, and at once when paused), so a batch running at hundreds
of images per second costs the GUI thread a few table updates a second, not one per image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from resnet_desktop.core.engine import (
    BatchOptions,
    BatchProgress,
    BatchRecord,
    Cancelled,
    CancelToken,
    PauseToken,
    ResNetDesktopError,
    SidecarNaming,
    TaggingModel,
    TagRequest,
    TagResult,
    TagSink,
    UndoReport,
    undo_last,
)
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.vocabulary import Vocabulary
from resnet_desktop.core.operations.tag_folder import tag_folder, write_planned_sidecars
from resnet_desktop.core.sidecars.embedded import EmbedReport, write_planned_keywords
from resnet_desktop.core.sidecars.xmp import (
    SidecarChange,
    SidecarPreview,
    SidecarReport,
    plan_sidecars,
)
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import Report

CHUNK_SECONDS = 0.1
CHUNK_RECORDS = 256

_Report = TypeVar("_Report", SidecarReport, EmbedReport)


@dataclass(frozen=True)
class RecordsChunk:
    """Records that arrived since the last chunk, and the progress after them."""

    records: tuple[BatchRecord, ...]
    progress: BatchProgress


@dataclass(frozen=True)
class SidecarPlan:
    changes: tuple[SidecarChange, ...]
    preview: SidecarPreview


class _ChunkingSink(TagSink):
    """Hands records to ``report`` in chunks; ``report`` also hears the model once loaded."""

    def __init__(self, report: Report, pause: PauseToken) -> None:
        self._report = report
        self._pause = pause
        self._chunk: list[BatchRecord] = []
        self._progress = BatchProgress()
        self._last = time.perf_counter()

    def model_loaded(self, model: TaggingModel) -> None:
        self._report(model)

    def record_done(self, record: BatchRecord, progress: BatchProgress) -> None:
        self._chunk.append(record)
        self._progress = progress
        now = time.perf_counter()
        if len(self._chunk) >= CHUNK_RECORDS or now - self._last >= CHUNK_SECONDS \
                or self._pause.paused:
            self.flush()
            self._last = now

    def flush(self) -> None:
        if self._chunk:
            self._report(RecordsChunk(tuple(self._chunk), replace(self._progress)))
            self._chunk = []


def run_batch(models: ModelService, folder: Path, model: str, provider: str,
              options: BatchOptions, pause: PauseToken, report: Report,
              cancel: CancelToken) -> TagResult:
    """Load the model on a throughput session, then tag ``folder``; reports a
    :class:`TaggingModel` first, then :class:`RecordsChunk` s."""
    ref = models.resolve(model)
    classifier = models.load(ref, provider, cancel, throughput=True)
    sink = _ChunkingSink(report, pause)
    try:
        return tag_folder(classifier, TagRequest(folder, options), sink,
                          model_sha256=ref.entry.sha256 if ref.entry is not None else None,
                          cancel=cancel, pause=pause)
    finally:
        sink.flush()


def plan(records: tuple[BatchRecord, ...], min_confidence: float, naming: SidecarNaming,
         vocabulary: Vocabulary) -> SidecarPlan:
    changes, preview = plan_sidecars(records, min_confidence, naming,
                                     KeywordPolicy(min_confidence, vocabulary))
    return SidecarPlan(tuple(changes), preview)


def write(folder: Path, changes: tuple[SidecarChange, ...], model: str, _report: Report,
          cancel: CancelToken) -> SidecarReport:
    """The planned keywords written into sidecars."""
    return _writing("sidecars", "Undo reverts the ones already written",
                    lambda: write_planned_sidecars(folder, changes, model, cancel))


def embed(folder: Path, changes: tuple[SidecarChange, ...], model: str, _report: Report,
          cancel: CancelToken) -> EmbedReport:
    """The planned keywords written into the image files (sidecars for other formats)."""
    return _writing("keywords", "Undo restores the files already written",
                    lambda: write_planned_keywords(folder, changes, model, cancel))


def _writing(what: str, after_cancel: str, write_all: Callable[[], _Report]) -> _Report:
    """``write_all()``, with a cancel or a failure as one message for the panel."""
    try:
        return write_all()
    except Cancelled as exc:
        raise ResNetDesktopError(f"Writing {what} was cancelled; {after_cancel}") from exc
    except (OSError, ResNetDesktopError) as exc:
        raise ResNetDesktopError(f"Cannot write {what}: {exc}") from exc


def undo(folder: Path) -> UndoReport:
    try:
        return undo_last(folder)
    except OSError as exc:
        raise ResNetDesktopError(str(exc)) from exc

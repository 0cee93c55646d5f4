"""A tagging sink that keeps what it hears, for tests of the "tag a folder" operation."""

from __future__ import annotations

from resnet_desktop.core.batch.run import BatchProgress, BatchRecord
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.operations.tag_folder import TaggingModel, TagSink


class RecordingSink(TagSink):
    """Keeps every event in order; cancels ``cancel`` after ``cancel_after`` records."""

    def __init__(self, cancel: CancelToken | None = None, cancel_after: int = 0) -> None:
        self.events: list[tuple[str, object]] = []
        self.cancel, self.cancel_after = cancel, cancel_after

    def model_loaded(self, model: TaggingModel) -> None:
        self.events.append(("model", model))

    def record_done(self, record: BatchRecord, progress: BatchProgress) -> None:
        self.events.append(("record", (record.path, progress.done)))
        if self.cancel is not None and progress.done == self.cancel_after:
            self.cancel.cancel()

    def sidecar_failed(self, message: str) -> None:
        self.events.append(("sidecar_failed", message))

"""Run one core function at a time off the GUI thread: progress, result, error, cancel.

The third shape of background work in STYLE.md (superqt's workers): a function runs on a
thread of the runner's own single-thread pool with a :class:`CancelToken` it checks
cooperatively. Its answers come back to the GUI thread by signals carrying the job id; a job
that a newer :meth:`TaskRunner.start` superseded is cancelled and its answers are dropped here,
so views only ever see the current job. The function must never touch a widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled, ResNetDesktopError

log = logging.getLogger(__name__)

Report = Callable[[Any], None]
Job = Callable[[Report, CancelToken], Any]
"""``job(report, cancel)``: call ``report(payload)`` for progress; return the result."""


class _Relay(QObject):
    """Lives on the GUI thread; the pool thread emits through it (queued across threads)."""

    progressed = Signal(int, object)
    returned = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)


class _Run(QRunnable):
    def __init__(self, relay: _Relay, job_id: int, job: Job, token: CancelToken,
                 what: str) -> None:
        super().__init__()
        self._relay = relay
        self._id = job_id
        self._job = job
        self._token = token
        self._what = what

    def run(self) -> None:
        try:
            result = self._job(lambda payload: self._emit("progressed", payload), self._token)
        except Cancelled:
            self._emit("cancelled")
            return
        except ResNetDesktopError as exc:
            self._emit("failed", str(exc))
            return
        except Exception as exc:  # a bug or an OS error must reach the user, not kill the thread
            log.exception("%s failed", self._what)
            self._emit("failed", f"{self._what} failed: {exc}")
            return
        if self._token.cancelled:
            self._emit("cancelled")
        else:
            self._emit("returned", result)

    def _emit(self, name: str, *payload: Any) -> None:
        try:
            getattr(self._relay, name).emit(self._id, *payload)
        except RuntimeError:  # the owning widget is gone; nobody is listening any more
            self._token.cancel()


class TaskRunner(QObject):
    """At most one running job; :meth:`start` cancels the previous one."""

    progressed = Signal(object)
    """A progress payload of the current job (whatever the job reports)."""
    returned = Signal(object)
    """The current job's result."""
    failed = Signal(str)
    """The current job's one-line error message."""
    cancelled = Signal()
    """The current job stopped because it was cancelled."""
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, what: str = "the background task") -> None:
        super().__init__(parent)
        self._what = what
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progressed)
        self._relay.returned.connect(self._on_returned)
        self._relay.failed.connect(self._on_failed)
        self._relay.cancelled.connect(self._on_cancelled)
        self._current = 0
        self._token: CancelToken | None = None
        app = QCoreApplication.instance()
        if app is not None:  # quitting must not wait for a long validation to finish
            app.aboutToQuit.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self._token is not None

    @property
    def current_id(self) -> int:
        return self._current

    def start(self, job: Job) -> int:
        """Run ``job`` after cancelling any current one; returns the new job's id."""
        if self._token is not None:
            self._token.cancel()
        self._current += 1
        self._token = CancelToken()
        self._pool.start(_Run(self._relay, self._current, job, self._token, self._what))
        self.busy_changed.emit(True)
        return self._current

    def cancel(self) -> None:
        """Ask the current job to stop; ``cancelled`` follows when it has."""
        if self._token is not None:
            self._token.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for the thread (call before the owner goes away)."""
        self.cancel()
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)

    def _finish(self, job_id: int) -> bool:
        if job_id != self._current:
            return False  # a superseded job: its answer is stale
        self._token = None
        self.busy_changed.emit(False)
        return True

    @Slot(int, object)
    def _on_progressed(self, job_id: int, payload: object) -> None:
        if job_id == self._current and self._token is not None:
            self.progressed.emit(payload)

    @Slot(int, object)
    def _on_returned(self, job_id: int, result: object) -> None:
        if self._finish(job_id):
            self.returned.emit(result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._finish(job_id):
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if self._finish(job_id):
            self.cancelled.emit()

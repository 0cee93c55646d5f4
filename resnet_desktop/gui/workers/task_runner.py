"""The app's one shape of background work: superqt workers on a runner's own threads.

A job is a plain function ``job(report, cancel)`` that runs on a thread of the runner's pool
(a superqt worker, so ``started``/``returned``/``errored``/``finished`` come from superqt),
calls ``report(payload)`` for progress and checks its :class:`CancelToken` cooperatively. The
runner turns the outcome into one of four signals on the GUI thread: ``progressed``,
``returned``, ``failed`` (a one-line message) or ``cancelled``.

Every job has an id. :meth:`TaskRunner.start` supersedes the current job: its token is
cancelled, it is taken off the queue if it has not started, and anything it still says is
dropped, so views only see the newest job (the Classify tab's images, the Batch tab's runs,
the validate dialog). :meth:`TaskRunner.submit` adds a job without superseding any: each job's
own answers arrive (the camera's live frames). The job must never touch a widget.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal, Slot

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled, ResNetDesktopError

if TYPE_CHECKING:
    from superqt.utils import FunctionWorker

log = logging.getLogger(__name__)

Report = Callable[[Any], None]
Job = Callable[[Report, CancelToken], Any]
"""``job(report, cancel)``: call ``report(payload)`` for progress; return the result."""
_JOB_ID = "job_id"

PROGRESS_INTERVAL_S = 0.05
"""How often a worker's (done, total, rate) progress reaches the GUI thread at most."""
Progress = Callable[[int, int, float], None]


def throttled(emit: Progress, interval_s: float = PROGRESS_INTERVAL_S) -> Progress:
    """``emit``, called for the first step, then at most every ``interval_s`` seconds, and
    always for the last step (``done >= total``): a loop over thousands of images or chunks
    costs the GUI thread a few updates a second, and its bar still ends full. Make one per job
    (it keeps the time of the last call)."""
    last: float | None = None

    def progress(done: int, total: int, rate: float) -> None:
        nonlocal last
        now = time.monotonic()
        if last is None or now - last >= interval_s or done >= total:
            last = now
            emit(done, total, rate)

    return progress


class _Progress(QObject):
    """Lives on the GUI thread; jobs report progress through it (queued across threads)."""

    progressed = Signal(int, object)

    def report(self, job_id: int, payload: object) -> None:
        with contextlib.suppress(RuntimeError):  # the runner is gone; nobody listens any more
            self.progressed.emit(job_id, payload)


def _boxed(job: Job, report: Report, token: CancelToken) -> tuple[Any]:
    # Boxed: superqt raises a returned exception, and a job may return one on purpose.
    return (job(report, token),)


@cache
def _worker_class() -> type[FunctionWorker]:
    """The worker class, made at the first job: importing superqt loads all of its widgets and
    qtpy (about 0.15 s), which the window's first paint does not need."""
    from superqt.utils import FunctionWorker

    class _Worker(FunctionWorker):
        """One job on a superqt worker; its signals carry the job id as a Qt property."""

        def __init__(self, job_id: int, job: Job, token: CancelToken,
                     progress: _Progress) -> None:
            super().__init__(_boxed, job, partial(progress.report, job_id), token)
            self.signals.setProperty(_JOB_ID, job_id)
            self.job_id = job_id
            self.token = token

    return _Worker


class TaskRunner(QObject):
    """Runs jobs on ``threads`` threads (one by default: jobs run in order)."""

    progressed = Signal(object)
    """A progress payload of a live job (whatever the job reports)."""
    returned = Signal(object)
    """A live job's result."""
    failed = Signal(str)
    """A live job's one-line error message."""
    cancelled = Signal()
    """A live job stopped because it was cancelled."""
    busy_changed = Signal(bool)
    job_progressed = Signal(int, object)
    """(job id, payload): the same as :attr:`progressed`, with the id :meth:`submit` gave."""
    job_returned = Signal(int, object)
    """(job id, result): the same as :attr:`returned`, with the id."""
    job_failed = Signal(int, str)
    """(job id, message): the same as :attr:`failed`, with the id."""
    job_cancelled = Signal(int)
    """(job id): the same as :attr:`cancelled`, with the id."""

    def __init__(self, parent: QObject | None = None, what: str = "the background task", *,
                 threads: int = 1) -> None:
        super().__init__(parent)
        self._what = what
        self._pool = QThreadPool(self)
        self._progress = _Progress(self)
        self._progress.progressed.connect(self._on_progressed)
        self._pool.setMaxThreadCount(threads)
        self._next_id = 0
        self._workers: dict[int, FunctionWorker] = {}
        """Every job queued or running, kept alive until superqt says it finished."""
        self._live: set[int] = set()
        """Jobs whose answers are still wanted."""
        app = QCoreApplication.instance()
        if app is not None:  # quitting must not wait for a long validation to finish
            app.aboutToQuit.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def start(self, job: Job, *, priority: int = 0) -> int:
        """Run ``job`` instead of the current one(s), which are cancelled; returns its id."""
        for job_id in list(self._live):
            self.forget(job_id)
        return self.submit(job, priority=priority)

    def submit(self, job: Job, *, priority: int = 0, token: CancelToken | None = None) -> int:
        """Queue ``job`` beside the others (a higher ``priority`` runs first); returns its id."""
        self._next_id += 1
        worker = _worker_class()(self._next_id, job,
                                 token if token is not None else CancelToken(), self._progress)
        # The runner, not the pool, owns the worker: with auto-delete the pool frees it as soon
        # as it has run, before ``finished`` reaches this thread, and a later tryTake on it
        # (forget, withdraw) would touch a deleted object. _on_finished lets it go.
        worker.setAutoDelete(False)
        signals = worker.signals
        signals.returned.connect(self._on_returned)
        signals.errored.connect(self._on_errored)
        signals.finished.connect(self._on_finished)
        signals.warned.connect(self._on_warned)
        was_busy = self.busy
        self._workers[worker.job_id] = worker
        self._live.add(worker.job_id)
        self._pool.start(worker, priority)
        if not was_busy:
            self.busy_changed.emit(True)
        return worker.job_id

    def withdraw(self, job_id: int) -> bool:
        """Drop a job that has not started yet; True if it was still queued."""
        worker = self._workers.get(job_id)
        if job_id not in self._live or worker is None or not self._pool.tryTake(worker):
            return False
        del self._workers[job_id]
        self._finish(job_id)
        return True

    def forget(self, job_id: int) -> None:
        """Cancel ``job_id`` and drop whatever it still says."""
        worker = self._workers.get(job_id)
        if job_id in self._live and worker is not None:
            worker.token.cancel()
            if self._pool.tryTake(worker):
                del self._workers[job_id]
            self._finish(job_id)

    def cancel(self) -> None:
        """Ask every job to stop; ``cancelled`` follows for each when it has."""
        for job_id in self._live:
            self._workers[job_id].token.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel, drop queued jobs and wait for the running one (before the owner goes away)."""
        self.cancel()
        self._pool.clear()
        self._live.clear()
        finished = self._pool.waitForDone(timeout_ms)
        if finished:
            self._workers.clear()
        return finished

    # -- answers (GUI thread) ----------------------------------------------------------------

    def _sender_id(self) -> int | None:
        sender = self.sender()
        job_id = sender.property(_JOB_ID) if sender is not None else None
        return job_id if job_id in self._live else None

    def _finish(self, job_id: int) -> FunctionWorker | None:
        if job_id not in self._live:
            return None
        self._live.discard(job_id)
        if not self._live:
            self.busy_changed.emit(False)
        return self._workers.get(job_id)

    @Slot()
    def _on_finished(self) -> None:
        sender = self.sender()
        if sender is not None:
            self._workers.pop(sender.property(_JOB_ID), None)

    @Slot(tuple)
    def _on_warned(self, showwarning_args: tuple) -> None:
        """superqt catches a job's warnings; they go to the log rather than nowhere."""
        message, category, filename, lineno = showwarning_args[:4]
        log.warning("%s:%s: %s: %s", filename, lineno, category.__name__, message)

    @Slot(int, object)
    def _on_progressed(self, job_id: int, payload: object) -> None:
        if job_id in self._live:
            self.progressed.emit(payload)
            self.job_progressed.emit(job_id, payload)

    @Slot(object)
    def _on_returned(self, boxed: tuple[Any]) -> None:
        (result,) = boxed
        job_id = self._sender_id()
        if job_id is None:
            return
        worker = self._finish(job_id)
        if worker is not None and worker.token.cancelled:
            self.cancelled.emit()
            self.job_cancelled.emit(job_id)
            return
        self.returned.emit(result)
        self.job_returned.emit(job_id, result)

    @Slot(object)
    def _on_errored(self, exc: BaseException) -> None:
        job_id = self._sender_id()
        if job_id is None:
            return
        self._finish(job_id)
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
            self.job_cancelled.emit(job_id)
            return
        if isinstance(exc, ResNetDesktopError):
            message = str(exc)
        else:  # a bug or an OS error must reach the user as a message, with the trace logged
            log.error("%s failed", self._what, exc_info=exc)
            message = f"{self._what} failed: {exc}"
        self.failed.emit(message)
        self.job_failed.emit(job_id, message)

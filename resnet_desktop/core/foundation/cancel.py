"""Cooperative cancellation and pausing shared between a caller (GUI, CLI) and long-running
core work."""

from __future__ import annotations

import threading
import time

from resnet_desktop.core.foundation.errors import Cancelled


class CancelToken:
    """A thread-safe flag that core loops check between chunks, images and batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on cancel; True if cancelled."""
        return self._event.wait(timeout)


class _NeverCancelled(CancelToken):
    """The shared default token: cancelling it would cancel every caller's work, so it refuses."""

    def cancel(self) -> None:
        raise TypeError("NEVER is shared by every caller and cannot be cancelled; pass the work "
                        "a CancelToken of its own")


NEVER: CancelToken = _NeverCancelled()
"""A token nobody can cancel, for callers that do not need cancellation."""


class PauseToken:
    """A thread-safe pause switch that the pipeline checks between images."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._waiting = 0

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def holding(self) -> bool:
        """True while a pipeline is actually blocked on this token (it has stopped)."""
        return self._waiting > 0

    def wait_while_paused(self, cancel: CancelToken, *, holds: bool = True) -> float:
        """Block while paused (waking on cancel); returns the seconds spent waiting.

        ``holds=False`` is for helper threads (the pipeline's workers): their waiting does not
        make :attr:`holding` true, which means the pipeline's consumer has stopped.
        """
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        if holds:
            self._waiting += 1
        try:
            while not self._running.wait(0.05):
                if cancel.cancelled:
                    break
        finally:
            if holds:
                self._waiting -= 1
        return time.perf_counter() - start

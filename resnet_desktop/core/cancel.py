"""Cooperative cancellation shared between a caller (GUI, CLI) and long-running core work."""

from __future__ import annotations

import threading

from resnet_desktop.core.errors import Cancelled


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


NEVER = CancelToken()
"""A token nobody cancels, for callers that do not need cancellation."""

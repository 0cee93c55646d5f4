"""Unexpected exceptions are logged and shown as one short line, never as a crash or a dialog."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Signal

from resnet_desktop.core.foundation.errors import ResNetDesktopError

log = logging.getLogger(__name__)


class ErrorReporter(QObject):
    """Carries error lines from any thread to the GUI thread (a queued signal)."""

    reported = Signal(str)


def short_message(exc: BaseException) -> str:
    if isinstance(exc, ResNetDesktopError):
        return str(exc)
    detail = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
    return f"Unexpected error ({text}); details are in the log"


def install(reporter: ErrorReporter) -> Callable[[], None]:
    """Route ``sys.excepthook`` and ``threading.excepthook`` to the log and ``reporter``.

    Returns a function that puts the previous hooks back.
    """
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous_hook(exc_type, exc, tb)
            return
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
        with contextlib.suppress(RuntimeError):  # the reporter is gone (the app is closing)
            reporter.reported.emit(short_message(exc))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook

    def uninstall() -> None:
        sys.excepthook = previous_hook
        threading.excepthook = previous_thread_hook

    return uninstall

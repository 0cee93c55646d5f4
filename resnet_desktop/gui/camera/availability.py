"""Qt Multimedia may be missing at run time; the window starts anyway and the Camera tab says so.

PySide6's Qt Multimedia links system libraries that a desktop usually has but a minimal Linux
may not (``libpulse.so.0`` from Debian's ``libpulse0``). Its import failing must not stop the
rest of the app: the window asks :func:`qt_multimedia_problem` before it imports the camera
panel, and shows :class:`CameraUnavailable` in its place when there is a problem.
"""

from __future__ import annotations

import importlib
import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from resnet_desktop.core.foundation.errors import first_line

log = logging.getLogger(__name__)

_PACKAGES = {"libpulse.so": "libpulse0 on Debian and Ubuntu, pulseaudio-libs on Fedora"}


def qt_multimedia_problem() -> str | None:
    """Why the camera cannot work here (a sentence for the user), or None when it can."""
    try:
        importlib.import_module("PySide6.QtMultimedia")
    except ImportError as exc:
        detail = first_line(exc)
        hint = next((f" ({package})" for library, package in _PACKAGES.items()
                     if library in detail), "")
        log.warning("the camera is unavailable: Qt Multimedia cannot be loaded: %s", detail)
        return (f"The camera needs Qt Multimedia, which cannot be loaded here: {detail}. "
                f"Install the missing library{hint} and restart the app.")
    return None


class CameraUnavailable(QLabel):
    """The Camera tab's page when Qt Multimedia cannot be loaded: the reason, selectable."""

    def __init__(self, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(reason, parent)
        self.setObjectName("camera_unavailable")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setMargin(24)

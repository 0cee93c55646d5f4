"""Whether Qt can open a window here, checked before ``QApplication`` is made.

On Linux and the BSDs, a ``QApplication`` with no display to connect to aborts the process with
several lines about platform plugins. Checking the environment first turns that into one line
that says what is missing. Only the X11 plugin (xcb, Qt's default) is decided here; any other
platform named in ``-platform`` or ``QT_QPA_PLATFORM`` (offscreen, wayland, vnc, ...) is left
for Qt to try.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence


def _requested_platforms(qt_args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order (``-platform`` wins over QT_QPA_PLATFORM)."""
    spec = environ.get("QT_QPA_PLATFORM", "")
    for i, arg in enumerate(qt_args[:-1]):
        if arg == "-platform":
            spec = qt_args[i + 1]
    return [name.split(":")[0].strip().lower() for name in spec.split(";") if name.strip()]


def missing_display(qt_args: Sequence[str], environ: Mapping[str, str] | None = None,
                    platform: str = sys.platform) -> str | None:
    """Why no window can be opened (one sentence), or None when Qt should be able to."""
    if platform in ("win32", "darwin", "cygwin"):
        return None
    environ = os.environ if environ is None else environ
    names = _requested_platforms(qt_args, environ)
    x11 = bool(environ.get("DISPLAY"))
    if names:
        usable = any(name != "xcb" or x11 for name in names)
    else:  # Qt's own choice: Wayland in a Wayland session, else X11
        usable = x11 or bool(environ.get("WAYLAND_DISPLAY"))
    if usable:
        return None
    return ("there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not "
            "set); start it in a desktop session, or use the commands (resnet-desktop --help); "
            "--screenshot works without a display with QT_QPA_PLATFORM=offscreen")

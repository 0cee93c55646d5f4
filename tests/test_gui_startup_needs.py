"""What the window needs from the system: a display, and (for the Camera tab only) Qt Multimedia.

Without a display Qt aborts the process with several lines about platform plugins; the app
says so in one line instead. Without Qt Multimedia (a Linux without libpulse0) the window still
starts, and the Camera tab says what is missing. Both run as real subprocesses.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from resnet_desktop.gui.camera.availability import qt_multimedia_problem
from resnet_desktop.gui.display_check import missing_display

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parent.parent


def child_env(**changes: str | None) -> dict[str, str]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="a display is always there")
def test_without_a_display_the_window_says_so_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "resnet_desktop"], cwd=REPO,
                          env=child_env(DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("resnet-desktop: error: there is no display to open the window on")


@pytest.mark.parametrize(("qt_args", "environ", "platform", "missing"), [
    ([], {}, "linux", True),
    ([], {"DISPLAY": ":0"}, "linux", False),
    ([], {"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ([], {"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ([], {"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ([], {"QT_QPA_PLATFORM": "xcb;offscreen"}, "linux", False),
    (["-platform", "offscreen"], {}, "linux", False),
    (["-platform", "xcb"], {"QT_QPA_PLATFORM": "offscreen"}, "linux", True),
    ([], {"QT_QPA_PLATFORM": "wayland"}, "linux", False),  # left for Qt to try
    ([], {}, "freebsd14", True),
    ([], {}, "win32", False),
    ([], {}, "darwin", False),
])
def test_which_platforms_need_a_display(qt_args: list[str], environ: dict[str, str],
                                        platform: str, missing: bool) -> None:
    assert (missing_display(qt_args, environ, platform) is not None) is missing


WITHOUT_QT_MULTIMEDIA = textwrap.dedent("""
    import json, sys
    sys.modules["PySide6.QtMultimedia"] = None  # its import fails, as without libpulse0
    from PySide6.QtWidgets import QApplication, QLabel
    app = QApplication([])
    from resnet_desktop.gui.main_window import MainWindow
    window = MainWindow(remember=False)
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    window.tabs.setCurrentIndex(tabs.index("Camera"))  # the camera page is built when shown
    page = window.tabs.widget(tabs.index("Camera"))
    label = page.findChild(QLabel, "camera_unavailable")
    print(json.dumps({"tabs": tabs, "camera": label.text() if label else None}))
    window.close()
""")


def test_without_qt_multimedia_the_window_starts_and_the_camera_tab_says_why() -> None:
    proc = subprocess.run([sys.executable, "-c", WITHOUT_QT_MULTIMEDIA], cwd=REPO,
                          env=child_env(QT_QPA_PLATFORM="offscreen"), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"Classify", "Batch", "Camera"} <= set(shown["tabs"])
    assert shown["camera"] is not None
    assert shown["camera"].startswith("The camera needs Qt Multimedia, which cannot be loaded "
                                      "here: ")
    assert shown["camera"].endswith("restart the app.")


class _MissingLibpulse(importlib.abc.MetaPathFinder):
    """Fails the import of Qt Multimedia the way the dynamic loader does without libpulse0."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "PySide6.QtMultimedia":
            raise ImportError("libpulse.so.0: cannot open shared object file: No such file or "
                              "directory")


def test_a_missing_libpulse_is_named_with_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "PySide6.QtMultimedia", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_MissingLibpulse(), *sys.meta_path])
    assert qt_multimedia_problem() == (
        "The camera needs Qt Multimedia, which cannot be loaded here: libpulse.so.0: cannot open "
        "shared object file: No such file or directory. Install the missing library (libpulse0 "
        "on Debian and Ubuntu, pulseaudio-libs on Fedora) and restart the app.")

"""The window paints before the heavy modules load: a regression guard for the fast start.

Importing numpy, Pillow, ONNX Runtime, onnx, the sidecar stack (exiv2, lxml, sqlite3) or Qt
Multimedia before the first paint made the window take five times as long as a bare PySide6
window to appear (``benchmarks/bench_startup.py`` measures it). This test does not time
anything: it starts the window through the command's entry point, in a fresh process, and lists
what had been imported when the window first painted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parent.parent

NOT_BEFORE_FIRST_PAINT = (
    "numpy", "PIL", "onnx", "onnxruntime", "exiv2", "lxml", "sqlite3", "PySide6.QtMultimedia",
    "superqt", "resnet_desktop.core.operations.tag_folder",
)

UNTIL_FIRST_PAINT = textwrap.dedent("""
    import json, sys
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QMainWindow

    HEAVY = json.loads(sys.argv[1])
    seen = []

    class AtFirstPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow):
                QApplication.instance().removeEventFilter(self)
                seen.append([name for name in HEAVY if name in sys.modules])
                QApplication.instance().exit(0)
            return False

    app = QApplication(sys.argv[:1])
    filter_ = AtFirstPaint()
    app.installEventFilter(filter_)
    from resnet_desktop.cli import main  # the command's entry point, as installed
    code = main([])
    print(json.dumps({"code": code, "loaded": seen}))
""")


def test_nothing_heavy_is_imported_before_the_first_paint(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                       os.environ.get("PYTHONPATH")]))}
    for name in ("CACHE", "DATA", "SETTINGS", "CONFIG"):
        env[f"RESNET_DESKTOP_{name}"] = str(tmp_path / name.lower())
    proc = subprocess.run(
        [sys.executable, "-c", UNTIL_FIRST_PAINT, json.dumps(NOT_BEFORE_FIRST_PAINT)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.splitlines()[-1])
    assert outcome == {"code": 0, "loaded": [[]]}, proc.stderr

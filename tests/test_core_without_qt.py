"""The core and the headless CLI work in an environment where Qt cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import resnet_desktop

PACKAGE = Path(resnet_desktop.__file__).resolve().parent

BLOCK_QT = textwrap.dedent("""
    import importlib.abc, pkgutil, sys

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6", "qtpy"):
                raise ImportError(f"Qt is not available here ({name})")
            return None

    sys.meta_path.insert(0, BlockQt())
    import resnet_desktop.core, resnet_desktop.cli
    names = []
    for package in (resnet_desktop.core, resnet_desktop.cli):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            __import__(info.name)
            names.append(info.name)
    assert not [m for m in sys.modules if m.startswith(("PySide6", "shiboken6"))]
    print(len(names), "modules imported without Qt")
""")


def test_core_and_cli_import_with_qt_unavailable():
    result = subprocess.run([sys.executable, "-c", BLOCK_QT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "modules imported without Qt" in result.stdout


def test_no_qt_import_statement_in_the_core():
    offenders = [
        str(path.relative_to(PACKAGE)) for path in (PACKAGE / "core").rglob("*.py")
        if any(word in path.read_text(encoding="utf-8") for word in ("PySide6", "shiboken6"))
    ]
    assert offenders == []

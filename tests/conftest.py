"""Shared fixtures: every test gets fresh cache, data and settings folders and runs headless."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")

pytest_plugins = ["http_server", "exiftool_reader", "widget_fixtures"]

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
# The built-in model (scripts/build_builtin_model.py) is the real trained classifier the tests use.
SHARED_MODEL = REPO_DIR / "resources" / "models" / "efficientnet-lite0.onnx"

if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Fresh cache, data and QSettings folders; no mirror, catalog or offline overrides leak in."""
    root = tmp_path_factory.mktemp("appdirs")
    monkeypatch.setenv("RESNET_DESKTOP_CACHE", str(root / "cache"))
    monkeypatch.setenv("RESNET_DESKTOP_DATA", str(root / "data"))
    monkeypatch.setenv("RESNET_DESKTOP_SETTINGS", str(root / "settings"))
    monkeypatch.setenv("RESNET_DESKTOP_CONFIG", str(root / "config" / "resnet-desktop"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "config"))
    for name in ("RESNET_DESKTOP_MIRROR", "RESNET_DESKTOP_CATALOG", "RESNET_DESKTOP_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def shared_model() -> Path:
    """The real trained classifier: the built-in EfficientNet-Lite0 with its manifest."""
    assert SHARED_MODEL.is_file(), f"the built-in model is missing: {SHARED_MODEL}"
    return SHARED_MODEL


@pytest.fixture
def photos() -> dict[str, Path]:
    """Real photos that ship with scikit-image."""
    skimage_data = pytest.importorskip("skimage.data")
    folder = Path(skimage_data.__file__).resolve().parent
    return {name: folder / f"{name}.png" for name in ("coffee", "chelsea", "astronaut")}


@pytest.fixture(autouse=True)
def empty_clipboard():
    """Leave no test's QMimeData on the clipboard: Qt deleting it at exit crashes the process."""
    yield
    if "PySide6.QtGui" in sys.modules:
        from PySide6.QtGui import QGuiApplication

        if QGuiApplication.instance() is not None:
            QGuiApplication.clipboard().clear()

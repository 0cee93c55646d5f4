"""Find the files in ``resources/`` from a checkout, an installed wheel or a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """The folder holding ``models.json``, ``imagenet_classes.txt`` and the icons.

    - PyInstaller bundle: ``<sys._MEIPASS>/resources`` (the spec puts it there);
    - installed wheel: ``resnet_desktop/resources`` (pyproject maps ``resources/`` there);
    - checkout or editable install: ``resources/`` beside the package.
    """
    candidates = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        candidates.append(Path(meipass) / "resources")
    candidates += [_PACKAGE_DIR / "resources", _PACKAGE_DIR.parent / "resources"]
    for candidate in candidates:
        if (candidate / "models.json").is_file():
            return candidate
    raise FileNotFoundError(
        "ResNet Desktop's resources folder is missing (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); the installation is incomplete"
    )


def resource_path(name: str) -> Path:
    """Path of one file in the resources folder."""
    return resources_dir() / name

"""The one place the app's preferences live: a QSettings every panel shares.

``RESNET_DESKTOP_SETTINGS=<folder>`` puts them in an ini file in that folder (tests, portable
installs); otherwise Qt's native store is used (registry on Windows, plist on macOS, an ini
file under ``~/.config`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "ResNetDesktop"
APPLICATION = "ResNet Desktop"
INI_NAME = "resnet-desktop.ini"


def settings_file_override() -> Path | None:
    """The ini file named by ``RESNET_DESKTOP_SETTINGS``, or None when it is not set."""
    folder = os.environ.get("RESNET_DESKTOP_SETTINGS")
    return Path(folder).expanduser() / INI_NAME if folder else None


def app_settings() -> QSettings:
    """A QSettings for the app's preferences; cheap to create, so make one where needed."""
    override = settings_file_override()
    if override is not None:
        override.parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(override), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def read_str_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings stored under ``key``; QSettings gives back a bare str for one item."""
    value = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]

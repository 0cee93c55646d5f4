"""Where the app keeps its files (platformdirs, overridable by environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ResNetDesktop"
APP_AUTHOR = "ResNetDesktop"


def cache_dir() -> Path:
    """Downloaded models; ``RESNET_DESKTOP_CACHE`` overrides the platform's user cache folder."""
    override = os.environ.get("RESNET_DESKTOP_CACHE")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def data_dir() -> Path:
    """Results stores and undo journals; ``RESNET_DESKTOP_DATA`` overrides."""
    override = os.environ.get("RESNET_DESKTOP_DATA")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def config_dir() -> Path:
    """Files the user edits through the app (the keyword vocabulary); ``RESNET_DESKTOP_CONFIG``
    overrides the platform's user config folder."""
    override = os.environ.get("RESNET_DESKTOP_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))

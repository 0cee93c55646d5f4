"""Errors whose message is meant for the user: one line, says what is wrong and what to do."""

from __future__ import annotations


class ResNetDesktopError(Exception):
    """Base class; ``str(error)`` is a complete, user-facing sentence."""


class ManifestError(ResNetDesktopError):
    """A manifest or catalog entry has a missing or invalid field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ModelError(ResNetDesktopError):
    """A model file cannot be used: unreadable, corrupt, or not an image classifier."""


class ImageError(ResNetDesktopError):
    """An image cannot be read: missing, not an image, truncated, too large, unsupported."""


class DownloadError(ResNetDesktopError):
    """A model could not be downloaded from any of its sources."""


class ChecksumError(DownloadError):
    """A source served bytes whose size or SHA-256 does not match the catalog."""


class OfflineError(DownloadError):
    """The model is not cached and RESNET_DESKTOP_OFFLINE forbids the network."""


class Cancelled(ResNetDesktopError):
    """The operation was cancelled through its CancelToken."""

    def __init__(self, message: str = "Cancelled") -> None:
        super().__init__(message)

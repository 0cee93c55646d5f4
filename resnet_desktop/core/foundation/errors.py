"""Errors whose message is meant for the user: one line, says what is wrong and what to do."""

from __future__ import annotations

import errno


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


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception text (ONNX Runtime's run to pages), or its type."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# By name: not every platform has every code (Windows has no EDQUOT).
_WRITE_REASONS = {getattr(errno, name): text for name, text in (
    ("ENOSPC", "the disk is full"),
    ("EDQUOT", "the disk quota is exceeded"),
    ("EFBIG", "the file is too large for this disk or account"),
    ("EACCES", "permission denied"),
    ("EPERM", "permission denied"),
    ("EROFS", "the disk is read-only"),
    ("ENOENT", "the folder does not exist"),
    ("ENOTDIR", "part of the path is a file, not a folder"),
    ("EISDIR", "it is a folder"),
) if hasattr(errno, name)}


def write_error_reason(exc: OSError) -> str:
    """Why a file could not be written, in plain words (``the disk is full``), for messages
    such as ``cannot write out.csv: the disk is full``."""
    return _WRITE_REASONS.get(exc.errno, exc.strerror or str(exc))

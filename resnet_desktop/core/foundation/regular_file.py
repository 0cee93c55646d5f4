"""Open a path for reading only if it is a regular file.

A plain ``open()`` of a FIFO blocks until a writer appears, and a device can return endless
bytes, so a photo folder holding ``x.jpg`` as a named pipe would hang a batch for ever. Files are
opened with ``O_NONBLOCK`` (opening a FIFO then returns at once), checked with ``fstat`` on the
descriptor itself (no race between a check and the open), and refused unless regular.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from resnet_desktop.core.foundation.errors import ResNetDesktopError

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class NotRegularFileError(ResNetDesktopError):
    """The path exists but is a FIFO, device, socket, folder or (unfollowed) symbolic link.

    ``kind`` says what it is ("a named pipe (FIFO)", "a folder", ...), for callers that word
    their own message.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        name = Path(path).name or os.fspath(path)
        super().__init__(f"{name}: is {kind}, not a regular file")
        self.path = path
        self.kind = kind


class FileTooLargeError(ResNetDesktopError):
    """A regular file is larger than the caller's limit."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int) -> None:
        name = Path(path).name or os.fspath(path)
        super().__init__(f"{name}: {size:,} bytes is more than the {limit:,}-byte limit")
        self.path = path
        self.size = size
        self.limit = limit


def describe_mode(mode: int) -> str:
    """What a ``st_mode`` is, as a phrase for a message ("a named pipe (FIFO)")."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a special file"


def is_regular_file(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> bool:
    """True for a regular file (through symbolic links unless told not to); never blocks."""
    try:
        return stat.S_ISREG(os.stat(path, follow_symlinks=follow_symlinks).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> BinaryIO:
    """Open ``path`` for binary reading, or raise :class:`NotRegularFileError`.

    ``follow_symlinks=False`` refuses a symbolic link itself (``O_NOFOLLOW``) where the platform
    has it. Other failures are the usual ``OSError`` subclasses (``FileNotFoundError``,
    ``PermissionError``, ``IsADirectoryError`` on some platforms), for the caller to word.
    """
    flags = os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY
    if not follow_symlinks:
        flags |= _O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        # ENXIO: a socket; ELOOP: a link refused by O_NOFOLLOW; EISDIR on some systems.
        if exc.errno in (errno.ENXIO, errno.ELOOP, errno.EISDIR):
            try:
                mode = os.stat(path, follow_symlinks=follow_symlinks).st_mode
            except OSError:
                raise exc from None
            if not stat.S_ISREG(mode):
                raise NotRegularFileError(path, describe_mode(mode)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, describe_mode(mode))
        if _O_NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: str | os.PathLike[str], *, max_bytes: int | None = None,
                       follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file; more than ``max_bytes`` raises :class:`FileTooLargeError`.

    The limit is checked on the open descriptor's size and again while reading, so a file that
    grows meanwhile cannot slip past it.
    """
    with open_regular(path, follow_symlinks=follow_symlinks) as handle:
        if max_bytes is None:
            return handle.read()
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise FileTooLargeError(path, size, max_bytes)
        data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileTooLargeError(path, len(data), max_bytes)
        return data


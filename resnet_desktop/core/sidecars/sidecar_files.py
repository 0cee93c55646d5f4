"""Reading and replacing one sidecar file the way exiftool would, or leaving it alone.

* Only a regular file is read: a FIFO or device named ``x.jpg.xmp`` is refused without
  blocking, and a file over :data:`MAX_SIDECAR_BYTES` is refused before it is read.
* A symbolic link is followed: the file it points to is merged and replaced, and the link
  stays a link. A link to nothing is left alone (a sidecar is never created through it).
* A read-only sidecar is skipped, never replaced (an atomic rename would need only the
  folder's permission). A replaced sidecar keeps its mode and owner.

Every refusal is an :class:`~resnet_desktop.core.sidecars.xmp_document.XmpError` with one line
naming the file.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from resnet_desktop.core.foundation.atomic import atomic_write_bytes, is_read_only
from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    read_regular_bytes,
)
from resnet_desktop.core.sidecars.xmp_document import XmpError

MAX_SIDECAR_BYTES = 16 * 1024 * 1024
"""Real sidecars are a few kilobytes; a larger one is refused rather than parsed."""


@dataclass(frozen=True)
class SidecarFile:
    """A sidecar as read: ``data`` is None when there is none yet."""

    path: Path
    """The sidecar's name beside the image (perhaps a symbolic link)."""
    target: Path
    """The file that holds its bytes: ``path``, or where the link points."""
    data: bytes | None
    stat: os.stat_result | None


def _cannot_read(path: Path, exc: OSError) -> XmpError:
    return XmpError(f"{path.name}: cannot be read ({exc.strerror or exc}); left unchanged")


def read_sidecar(path: Path) -> SidecarFile:
    """Read the sidecar at ``path`` (see the module docstring for what is refused)."""
    path = Path(path)
    target = path
    try:
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.exists():
                raise XmpError(f"{path.name}: is a symbolic link to a file that does not exist "
                               f"({os.readlink(path)}); left unchanged")
        data = read_regular_bytes(target, max_bytes=MAX_SIDECAR_BYTES)
        stat = os.stat(target)
    except FileNotFoundError:
        return SidecarFile(path, target, None, None)
    except NotRegularFileError as exc:
        raise XmpError(f"{path.name}: is {exc.kind}, not a sidecar file; left unchanged") \
            from None
    except FileTooLargeError as exc:
        raise XmpError(f"{path.name}: is {exc.size:,} bytes, more than a sidecar can be "
                       f"({MAX_SIDECAR_BYTES // 2**20} MB); left unchanged") from None
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    return SidecarFile(path, target, data, stat)


def _describe(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{path.name}: the disk is full; left unchanged"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path.name}: cannot be written ({exc.strerror or 'permission denied'}); " \
               "left unchanged"
    return f"{path.name}: cannot be written ({exc.strerror or exc}); left unchanged"


def check_writable(sidecar: SidecarFile) -> None:
    """Raise :class:`XmpError` for a read-only sidecar (one to skip, not to replace)."""
    if sidecar.stat is not None and is_read_only(sidecar.stat, sidecar.target):
        raise XmpError(f"{sidecar.path.name}: is read-only; skipped")


def write_sidecar(sidecar: SidecarFile, data: bytes) -> None:
    """Replace the sidecar's file atomically (through a link, keeping mode and owner)."""
    check_writable(sidecar)
    try:
        atomic_write_bytes(sidecar.target, data)
    except OSError as exc:
        raise XmpError(_describe(sidecar.path, exc)) from None

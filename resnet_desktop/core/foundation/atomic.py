"""Atomic file writes: a crash or a full disk never leaves a half-written file in place.

The new content goes to a temporary file beside the target, which replaces the target only
when the block succeeds. What the target was stays true of the result: a symbolic link is
written through (the link stays a link), a replaced file keeps its mode and owner, and a
read-only file is refused rather than replaced (a rename needs only the folder's permission).

Temporary names are short and fixed in shape (``.resnet-desktop-<16 hex>.tmp``), so a target
whose name is as long as the file system allows can still be written, and a later run can
recognise the leftovers of a killed one (:func:`remove_stale_temporaries`). A writer holds an
exclusive ``flock`` on its temporary file while writing it, so a cleaner never removes one
still being written (on Windows an open file cannot be deleted at all).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted there, which protects it instead.
    fcntl = None  # type: ignore[assignment]

TEMP_PREFIX = ".resnet-desktop-"
TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}" + re.escape(TEMP_SUFFIX))
# Earlier versions named the temporary ".<target name>.<mkstemp token>.tmp"; killed runs of
# those left such files beside sidecars and exports.
_LEGACY_TEMP_NAME = re.compile(r"\..+\.(?:xmp|csv|json)\.[a-z0-9_]{8}\.tmp")

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def is_read_only(st: os.stat_result, path: Path) -> bool:
    """True for a file nobody may write (no write bit; root ignores the bits, people do not)
    or that this process may not write."""
    return not st.st_mode & 0o222 or not os.access(path, os.W_OK)


def write_target(path: Path) -> Path:
    """The file a write to ``path`` changes: ``path`` itself, or the file a link points to."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def create_temporary(folder: Path) -> tuple[int, Path]:
    """A new temporary file in ``folder``, created with 0666 less the umask (the kernel applies
    it, so no thread ever changes the process umask to read it), locked while it is written.

    Its name is short whatever the target's (a 255-byte image name still gets one) and has the
    pattern :func:`remove_stale_temporaries` recognises; the lock lasts until ``fd`` is closed.
    """
    while True:
        tmp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_BINARY,
                         0o666)
        except FileExistsError:
            continue
        if fcntl is not None:
            # Only a courtesy to cleaners: a file system without flock (some network mounts)
            # still gets its write, and there a cleaner leaves every temporary alone.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, tmp


def _keep_owner_and_mode(fd: int, old: os.stat_result, target: Path) -> None:
    if hasattr(os, "fchown"):
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
            try:
                os.fchown(fd, old.st_uid, old.st_gid)
            except PermissionError:
                raise PermissionError(errno.EPERM, "owned by another user or group; replacing "
                                      "it would change its owner", str(target)) from None
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(old.st_mode))


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO]:
    """Write to a temporary file beside ``path``; replace ``path`` only if the block succeeds.

    Raises ``PermissionError`` before anything is written when ``path`` is read-only or its
    owner could not be kept.
    """
    target = write_target(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None and is_read_only(old, target):
        raise PermissionError(errno.EACCES, "the file is read-only", str(target))
    fd, tmp = create_temporary(target.parent)
    try:
        if old is not None:
            _keep_owner_and_mode(fd, old, target)
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding,
                       newline=None if binary else newline) as handle:
            fd = -1
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def is_temporary_name(name: str) -> bool:
    """True for the name of a temporary file this app writes (or an older version wrote)."""
    return bool(_TEMP_NAME.fullmatch(name) or _LEGACY_TEMP_NAME.fullmatch(name))


def _remove_if_abandoned(path: Path) -> bool:
    """Remove ``path`` unless a live writer holds its lock; True if it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held by a live writer, or no flock here to tell: leave it
                return False
        try:
            os.unlink(path)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path, *, recursive: bool = False) -> list[Path]:
    """Remove the temporary files that killed runs left in ``folder`` (and its subfolders when
    ``recursive``): only names of this app's pattern, only regular files, never one that a
    running writer still holds. Returns what was removed; unreadable folders are passed over."""
    removed: list[Path] = []
    folders = [Path(folder)]
    while folders:
        current = folders.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if recursive and entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                elif (is_temporary_name(entry.name) and entry.is_file(follow_symlinks=False)
                      and _remove_if_abandoned(Path(entry.path))):
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed

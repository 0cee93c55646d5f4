"""SHA-256 of files: model downloads, catalog checks, model facts and tagging provenance."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.regular_file import open_regular

CHUNK_SIZE = 1 << 20


def sha256_file(path: Path, cancel: CancelToken | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks; ``cancel`` is checked between chunks.

    Only a regular file is read (a FIFO or device raises
    :class:`~resnet_desktop.core.foundation.regular_file.NotRegularFileError` instead of hanging).
    """
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK_SIZE):
            if cancel is not None:
                cancel.raise_if_cancelled()
            digest.update(chunk)
    return digest.hexdigest()


_remembered: dict[tuple[str, int, int], str] = {}
_remembered_lock = threading.Lock()


def sha256_file_remembered(path: Path) -> str:
    """:func:`sha256_file`, remembered per (path, size, mtime) for the life of the process, so a
    custom model tagged again is not read again while it is unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _remembered_lock:
        known = _remembered.get(key)
    if known is not None:
        return known
    value = sha256_file(path)
    with _remembered_lock:
        _remembered[key] = value
    return value

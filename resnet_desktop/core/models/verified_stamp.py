"""A verified stamp beside each cached model: proof that its bytes were hashed, and when.

After a model's SHA-256 has been checked, ``<file>.verified.json`` records the file's size,
``st_mtime_ns``, inode and the SHA-256 it matched. Later uses compare only the ``stat``; a file
that was written to, replaced or touched since no longer matches its stamp and is hashed again
before it is used. Hashing a 100 MB model on every start would cost a second; the stamp costs
one ``stat``.

Timestamps are coarse (a kernel tick), so a write in the same tick as the stamp could leave the
file's mtime unchanged. As git does with its index, a stamp whose recorded mtime is not older
than the stamp file itself is "racy" and never trusted on its own: the next check re-hashes
(and re-stamps) the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from resnet_desktop.core.foundation.atomic import atomic_write_text
from resnet_desktop.core.foundation.regular_file import read_regular_bytes

logger = logging.getLogger(__name__)

_MAX_STAMP_BYTES = 4096


@dataclass(frozen=True)
class Stamp:
    """What a model file looked like when its bytes matched ``sha256``."""

    size: int
    mtime_ns: int
    inode: int
    sha256: str

    @classmethod
    def of(cls, stat: os.stat_result, sha256: str) -> Stamp:
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ino, sha256.lower())


def stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified.json")


def write_stamp(model: Path, sha256: str) -> None:
    """Record that ``model``'s bytes, as they are now, matched ``sha256`` (atomically).

    A stamp that cannot be written (a read-only or full disk) is logged and skipped: without
    one, the next use only hashes the file again.
    """
    try:
        stamp = Stamp.of(os.stat(model), sha256)
        atomic_write_text(stamp_path(model), json.dumps(asdict(stamp)) + "\n")
    except OSError as exc:
        logger.warning("cannot record that %s was verified: %s", model, exc)


def remove_stamp(model: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        stamp_path(model).unlink()


def _read(path: Path) -> tuple[Stamp, int] | None:
    """The stamp and the stamp file's own mtime, or None when there is no usable stamp."""
    try:
        raw = json.loads(read_regular_bytes(path, max_bytes=_MAX_STAMP_BYTES))
        stamp = Stamp(int(raw["size"]), int(raw["mtime_ns"]), int(raw["inode"]),
                      str(raw["sha256"]).lower())
        return stamp, os.stat(path).st_mtime_ns
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not isinstance(exc, FileNotFoundError):
            logger.info("ignoring the unreadable stamp %s (%s)", path, exc)
        return None


def stamp_matches(model: Path, sha256: str) -> bool:
    """True when ``model`` is unchanged since its bytes were found to match ``sha256``."""
    found = _read(stamp_path(model))
    if found is None:
        return False
    stamp, stamped_at = found
    try:
        now = Stamp.of(os.stat(model), sha256)
    except OSError:
        return False
    return now == stamp and stamp.mtime_ns < stamped_at

"""One writer per photo folder: a lock file in the app's data folder, keyed by the folder.

Two runs that write sidecars into the same folder at once (two terminals, the CLI and the
window) would interleave their writes and leave journals that no undo can unwind. Whoever
writes sidecars into a folder, or undoes them, holds :func:`folder_lock` for it; a second writer
gets :class:`FolderBusyError` at once, naming the process that holds the lock. A folder inside
a locked one, or one that holds a locked one, counts as busy too, since a run with subfolders
writes into both.

The lock is an OS file lock (``filelock``), so a process that dies, even by ``kill -9``, releases
it. Who holds it (PID, command line, since when) is written beside it for the message; that file
is only informative and may be stale or missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.paths import data_dir


@dataclass(frozen=True)
class LockHolder:
    """The process that holds a folder's lock, as it described itself."""

    pid: int
    command: str
    since: float
    """Seconds since the epoch when it took the lock."""
    folder: str
    """The folder it locked (see :func:`folder_key`)."""

    def describe(self) -> str:
        started = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"process {self.pid} ({self.command}), since {started}"


class FolderBusyError(ResNetDesktopError):
    """Another run writes sidecars into (or undoes them in) the same folder right now."""

    def __init__(self, folder: Path, holder: LockHolder | None) -> None:
        who = holder.describe() if holder is not None else "another process"
        what = (f"{folder} overlaps {holder.folder}, which"
                if holder is not None and holder.folder != folder_key(folder) else str(folder))
        super().__init__(f"{what} is being changed by {who}; wait until it has finished, "
                         "then try again")
        self.folder = folder
        self.holder = holder


class DataFolderError(ResNetDesktopError):
    """The app's data folder (results, undo journals, locks) cannot be written."""


_REGISTRY_WAIT = 30.0
"""Seconds to wait for the registry, which others hold only while they take or check a lock."""


def _command_line() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"


def lock_dir() -> Path:
    return data_dir() / "locks"


def folder_key(folder: Path) -> str:
    """The identity of a folder for locks and journals: its resolved absolute path."""
    return os.fsdecode(Path(folder).resolve())


def _name(folder: Path) -> str:
    return hashlib.sha256(os.fsencode(folder_key(folder))).hexdigest()[:32]


def _read_holder(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockHolder(int(data["pid"]), str(data["command"]), float(data["since"]),
                          str(data["folder"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _overlap(one: str, other: str) -> bool:
    return Path(one).is_relative_to(other) or Path(other).is_relative_to(one)


def _held(lock_file: Path) -> bool:
    """True while some process (this one included) holds the lock in ``lock_file``."""
    probe = filelock.FileLock(lock_file)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def _overlapping_holder(directory: Path, key: str) -> LockHolder | None:
    """A live holder of a folder inside ``key`` or holding it (``key`` itself excluded)."""
    for info in directory.glob("*.json"):
        holder = _read_holder(info)
        if (holder is not None and holder.folder != key and _overlap(key, holder.folder)
                and _held(info.with_suffix(".lock"))):
            return holder
    return None


def data_folder_error(action: str, exc: OSError) -> DataFolderError:
    """One line for an unwritable data folder, naming it and the override."""
    return DataFolderError(
        f"cannot {action} in the app's data folder {data_dir()} ({exc.strerror or exc}); "
        "make it writable or point RESNET_DESKTOP_DATA at a folder that is")


@contextlib.contextmanager
def folder_lock(folder: Path, command: str | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the block, or raise :class:`FolderBusyError` at once.

    ``command`` describes this run for the message a second writer gets (default: this
    process's command line). An unwritable data folder raises :class:`DataFolderError`.
    """
    directory = lock_dir()
    name = _name(folder)
    key = folder_key(folder)
    info = directory / f"{name}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Checking the other holders and taking this lock is one step for every process.
        with filelock.FileLock(directory / "registry.lock", timeout=_REGISTRY_WAIT):
            overlapping = _overlapping_holder(directory, key)
            if overlapping is not None:
                raise FolderBusyError(Path(folder), overlapping)
            lock = filelock.FileLock(directory / f"{name}.lock")
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                raise FolderBusyError(Path(folder), _read_holder(info)) from None
            holder = {"pid": os.getpid(), "command": command or _command_line(),
                      "since": time.time(), "folder": key}
            with contextlib.suppress(OSError):
                info.write_text(json.dumps(holder), encoding="utf-8")
    except filelock.Timeout:
        raise FolderBusyError(Path(folder), None) from None
    except OSError as exc:
        raise data_folder_error("create a lock file", exc) from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()

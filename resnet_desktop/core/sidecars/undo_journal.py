"""A journal of sidecar writes, so one Undo puts every sidecar of a run back exactly.

One JSON Lines file per run in ``data_dir()/undo/``: a header line (folder, time, app version),
then one line per sidecar written, appended and fsynced *before* the sidecar is touched, with
the sidecar's previous bytes (or the fact that it did not exist), mode and modification time,
and the SHA-256 of what is about to be written.

Undo walks the entries backwards: a sidecar still holding what this app wrote gets its old
bytes, mode and mtime back (or is deleted when the run created it); one already in its old
state is left as is (a crash between journaling and writing); one changed since by someone
else is left alone and reported, never overwritten. A journal that has been undone is renamed
``*.undone.jsonl`` and kept; the next Undo takes the run before it.

Images whose embedded keywords a run rewrote are journaled the same way, except that their
previous bytes are copied to a backup file in ``<journal>.files/`` instead of into the line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from resnet_desktop import __version__
from resnet_desktop.core.foundation.atomic import atomic_open
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.paths import data_dir

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".jsonl"
UNDONE_SUFFIX = ".undone.jsonl"


class UndoError(ResNetDesktopError):
    """Nothing to undo, or the journal cannot be read."""


def journal_dir() -> Path:
    return data_dir() / "undo"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _folder_key(folder: Path) -> str:
    return str(Path(folder).resolve())


class UndoJournal:
    """The journal of one run; create with :meth:`start`, ``close()`` when done.

    The file is created with the first entry, so a run that changes nothing leaves no journal
    and "the last run" is the last one that changed something.
    """

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.folder = Path(folder)
        self.entries = 0
        self._handle = None

    @classmethod
    def start(cls, folder: Path, directory: Path | None = None) -> UndoJournal:
        directory = Path(directory) if directory is not None else journal_dir()
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        tag = hashlib.sha256(_folder_key(folder).encode()).hexdigest()[:8]
        return cls(directory / f"{stamp}-{tag}-{os.getpid()}{JOURNAL_SUFFIX}", folder)

    def _open(self) -> None:
        # Opened on the first entry, so runs that write nothing leave nothing behind.
        self._handle = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 (held for the run)
        header = {"journal": 1, "folder": _folder_key(self.folder), "created": time.time(),
                  "app_version": __version__}
        self._append(header)

    def _append(self, data: dict) -> None:
        assert self._handle is not None
        # ASCII escapes: a file name that is not UTF-8 (lone surrogates) is written as its
        # \udcXX escapes, which json.loads turns back into the same name.
        self._handle.write(json.dumps(data) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def record(self, sidecar: Path, original: bytes | None, new: bytes,
               stat: os.stat_result | None) -> None:
        """Journal one write before it happens (the caller writes only if this returns)."""
        if self._handle is None:
            self._open()
        self._append({
            "sidecar": str(Path(sidecar).absolute()),
            "existed": original is not None,
            "original": base64.b64encode(original).decode("ascii") if original is not None
            else None,
            "mode": stat.st_mode & 0o7777 if stat is not None else None,
            "mtime_ns": stat.st_mtime_ns if stat is not None else None,
            "written_sha256": _sha256(new),
        })
        self.entries += 1

    def record_copy(self, path: Path, written_sha256: str, stat: os.stat_result) -> None:
        """Journal the rewrite of an image (keywords embedded in it): its bytes are copied to
        a backup file in :func:`backup_dir` instead of into the journal line, since an image
        is megabytes. Returns once the copy is on disk; the caller replaces the file after."""
        if self._handle is None:
            self._open()
        backups = backup_dir(self.path)
        backups.mkdir(exist_ok=True)
        backup = backups / f"{self.entries}{Path(path).suffix}"
        with open(path, "rb") as source, open(backup, "xb") as copy:
            shutil.copyfileobj(source, copy)
            copy.flush()
            os.fsync(copy.fileno())
        self._append({
            "sidecar": str(Path(path).absolute()),
            "existed": True,
            "backup": backup.name,
            "mode": stat.st_mode & 0o7777,
            "mtime_ns": stat.st_mtime_ns,
            "written_sha256": written_sha256,
        })
        self.entries += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> UndoJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class UndoReport:
    restored: int = 0
    removed: int = 0
    already: int = 0
    conflicts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    journal: Path | None = None

    def summary(self) -> str:
        text = (f"{self.restored} sidecar(s) restored, {self.removed} created sidecar(s) "
                f"removed")
        if self.already:
            text += f", {self.already} already as before"
        if self.conflicts:
            text += f", {len(self.conflicts)} changed since and left alone"
        if self.failed:
            text += f", {len(self.failed)} failed"
        return text


def _read_journal(path: Path) -> tuple[dict, list[dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UndoError(f"undo journal {path.name} cannot be read ({exc})") from None
    records = []
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            # Only the last line can be torn (a crash while appending); its write never began.
            if number != len(lines) - 1:
                raise UndoError(f"undo journal {path.name} is damaged (line {number + 1})") \
                    from None
    if not records or "folder" not in records[0]:
        raise UndoError(f"undo journal {path.name} has no header")
    return records[0], records[1:]


def backup_dir(journal: Path) -> Path:
    """Where a journal keeps the copies of the images it rewrote (``<journal>.files``)."""
    return journal.with_name(journal.name[:-len(JOURNAL_SUFFIX)] + ".files")


def _original(entry: dict, journal: Path) -> bytes | None:
    if not entry.get("existed"):
        return None
    if "backup" in entry:
        return (backup_dir(journal) / entry["backup"]).read_bytes()
    return base64.b64decode(entry["original"])


def journals_for(folder: Path, directory: Path | None = None) -> list[Path]:
    """Journals of ``folder`` not yet undone, oldest first."""
    directory = Path(directory) if directory is not None else journal_dir()
    if not directory.is_dir():
        return []
    key = _folder_key(folder)
    found = []
    for path in sorted(directory.glob(f"*{JOURNAL_SUFFIX}")):
        if path.name.endswith(UNDONE_SUFFIX):
            continue
        try:
            header, _ = _read_journal(path)
        except UndoError as exc:
            log.warning("%s", exc)
            continue
        if header.get("folder") == key:
            found.append(path)
    return found


def last_journal(folder: Path, directory: Path | None = None) -> Path | None:
    journals = journals_for(folder, directory)
    return journals[-1] if journals else None


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _restore(path: Path, data: bytes, mode: int | None, mtime_ns: int | None) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def undo_journal(path: Path) -> UndoReport:
    """Revert the writes in one journal (see the module docstring for the rules)."""
    _, entries = _read_journal(path)
    report = UndoReport(journal=path)
    for entry in reversed(entries):
        sidecar = Path(entry["sidecar"])
        try:
            original = _original(entry, path)
            current = _current(sidecar)
            if current == original:
                report.already += 1
                continue
            if current is None or _sha256(current) != entry["written_sha256"]:
                report.conflicts.append(f"{sidecar}: changed since it was written; left as is")
                continue
            if original is None:
                sidecar.unlink()
                report.removed += 1
            else:
                _restore(sidecar, original, entry.get("mode"), entry.get("mtime_ns"))
                report.restored += 1
        except OSError as exc:
            report.failed.append(f"{sidecar}: {exc.strerror or exc}")
    if not report.failed:
        with contextlib.suppress(OSError):
            path.rename(path.with_name(path.name[:-len(JOURNAL_SUFFIX)] + UNDONE_SUFFIX))
        if not report.conflicts:
            # An undone journal is never replayed: the copies of the images it restored can
            # go (kept when an image changed since, as the only copy of its original).
            shutil.rmtree(backup_dir(path), ignore_errors=True)
    return report


def undo_last(folder: Path, directory: Path | None = None) -> UndoReport:
    """Revert the last run that wrote sidecars in ``folder``; UndoError if there is none."""
    path = last_journal(folder, directory)
    if path is None:
        raise UndoError(f"nothing to undo: no sidecars were written in {folder} by this app "
                        "(or they were already undone)")
    return undo_journal(path)

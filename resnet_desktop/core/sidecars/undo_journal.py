"""A journal of sidecar writes, so one Undo puts every sidecar of a run back exactly.

One JSON Lines file per run in ``data_dir()/undo/``: a header line (folder, time, app version,
write sequence), then one line per sidecar written, appended and fsynced *before* the sidecar
is touched, with the sidecar's previous bytes (or the fact that it did not exist), mode and
modification time, and the SHA-256 of what is about to be written; a run that ends normally
adds a ``finished`` line.

Order: each journal takes the next number of a global write sequence when it writes its first
entry (not when its run starts), and a run holds its folder's lock
(:func:`~resnet_desktop.core.foundation.folder_lock.folder_lock`) while it writes, so journals of
one folder never interleave and (sequence, line) is the order the writes happened in.

What one Undo reverts: the folder's last run, together with the runs before it that were
interrupted (no ``finished`` line: cancelled, Ctrl+C, a crash), since the run after an
interrupted one resumes it. Each sidecar those runs wrote goes back to its state before the
first of their writes: a sidecar still holding one of the versions this app wrote gets its old
bytes, mode and mtime back (or is deleted when the runs created it); one already in its old
state is left as is (a crash between journaling and writing); one changed since by someone
else is left alone and reported, never overwritten. Journals whose undo ended with nothing left
alone and nothing failed are renamed ``*.undone.jsonl`` and kept, and the next Undo takes the
runs before them; otherwise they stay, and Undo can be tried again once the changed sidecars
are dealt with, or told to keep those changes (``keep_changed``) and move on.
:func:`undoable_runs` counts what is left to undo.

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

import filelock

from resnet_desktop import __version__
from resnet_desktop.core.foundation.atomic import atomic_open, atomic_write_text
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.folder_lock import data_folder_error, folder_key, folder_lock
from resnet_desktop.core.foundation.paths import data_dir
from resnet_desktop.core.foundation.regular_file import NotRegularFileError, read_regular_bytes

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".jsonl"
UNDONE_SUFFIX = ".undone.jsonl"
_SEQUENCE = "sequence"


class UndoError(ResNetDesktopError):
    """Nothing to undo, or the journal cannot be read."""


def journal_dir() -> Path:
    return data_dir() / "undo"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _next_sequence(directory: Path) -> int:
    """The next number of the write sequence shared by every journal in ``directory``."""
    counter = directory / _SEQUENCE
    with filelock.FileLock(directory / f"{_SEQUENCE}.lock"):
        try:
            last = int(counter.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            last = 0
        atomic_write_text(counter, str(last + 1))
    return last + 1


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
        """A journal for a run in ``folder``; an unwritable data folder raises
        :class:`~resnet_desktop.core.foundation.folder_lock.DataFolderError` before any work."""
        directory = Path(directory) if directory is not None else journal_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # The sequence's lock file, created now: a data folder that refuses files stops
            # the run here rather than at its first sidecar.
            with filelock.FileLock(directory / f"{_SEQUENCE}.lock"):
                pass
        except OSError as exc:
            raise data_folder_error("keep the undo journal", exc) from None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        tag = hashlib.sha256(os.fsencode(folder_key(folder))).hexdigest()[:8]
        return cls(directory / f"{stamp}-{tag}-{os.getpid()}{JOURNAL_SUFFIX}", folder)

    def _open(self) -> None:
        # Opened on the first entry, so runs that write nothing leave nothing behind.
        sequence = _next_sequence(self.path.parent)
        self._handle = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 (held for the run)
        header = {"journal": 2, "folder": folder_key(self.folder), "created": time.time(),
                  "app_version": __version__, "sequence": sequence}
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
        """Journal one write before it happens (the caller writes only if this returns).

        ``OSError`` when the journal cannot be written: the caller must not write then.
        """
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

    def close(self, *, finished: bool = False) -> None:
        """``finished=True``: the run ended normally (it is not resumed by the next one)."""
        if self._handle is not None:
            try:
                if finished:
                    self._append({"finished": True})
            finally:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> UndoJournal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(finished=exc_type is None)


@dataclass
class UndoReport:
    restored: int = 0
    removed: int = 0
    already: int = 0
    conflicts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    journal: Path | None = None
    """The newest journal this undo worked on."""
    runs: int = 0
    """Runs this undo marked undone (0 when files were left alone or failed: it can be
    retried)."""
    remaining: int = 0
    """Runs of the folder that can still be undone after this one (see :func:`undoable_runs`)."""

    @property
    def complete(self) -> bool:
        """Every sidecar went back; the runs are marked undone."""
        return not self.conflicts and not self.failed

    def summary(self) -> str:
        text = (f"{self.restored} sidecar(s) restored, {self.removed} created sidecar(s) "
                f"removed")
        if self.already:
            text += f", {self.already} already as before"
        if self.conflicts:
            text += f", {len(self.conflicts)} changed since and left alone"
        if self.failed:
            text += f", {len(self.failed)} failed"
        if self.runs > 1:
            text += (f", across {self.runs} runs (an interrupted run is undone with the run "
                     "that resumed it)")
        if self.remaining:
            text += (f"; {self.remaining} more run{'s' if self.remaining > 1 else ''} can be "
                     "undone")
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


@dataclass(frozen=True)
class _Journal:
    path: Path
    sequence: int
    finished: bool
    entries: list[dict]


def _header(path: Path) -> dict | None:
    """A journal's first line, without reading the rest (journals hold whole sidecars)."""
    try:
        with open(path, encoding="utf-8") as handle:
            header = json.loads(handle.readline())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("undo journal %s cannot be read (%s)", path.name, exc)
        return None
    return header if isinstance(header, dict) and "folder" in header else None


def _journal_paths(folder: Path, directory: Path | None) -> list[tuple[int, Path]]:
    """(sequence, path) of the journals of ``folder`` not yet undone, in write order."""
    directory = Path(directory) if directory is not None else journal_dir()
    if not directory.is_dir():
        return []
    key = folder_key(folder)
    found = []
    for path in directory.glob(f"*{JOURNAL_SUFFIX}"):
        if path.name.endswith(UNDONE_SUFFIX):
            continue
        header = _header(path)
        if header is not None and header.get("folder") == key:
            # Journals from before the write sequence (version 1) sort first, by start time.
            found.append((int(header.get("sequence", 0)), path))
    return sorted(found, key=lambda item: (item[0], item[1].name))


def _journals(folder: Path, directory: Path | None) -> list[_Journal]:
    """Journals of ``folder`` not yet undone, read whole, in the order their writes happened."""
    journals = []
    for sequence, path in _journal_paths(folder, directory):
        try:
            _, lines = _read_journal(path)
        except UndoError as exc:
            log.warning("%s", exc)
            continue
        entries = [line for line in lines if "sidecar" in line]
        finished = any(line.get("finished") for line in lines)
        journals.append(_Journal(path, sequence, finished, entries))
    return journals


def undoable_runs(folder: Path, directory: Path | None = None) -> int:
    """How many runs that wrote into ``folder`` can still be undone (0: nothing to undo).

    Reads only each journal's first line, so a view may call it whenever it refreshes.
    """
    return len(_journal_paths(folder, directory))


def _current(path: Path) -> bytes | None:
    """The sidecar's bytes now, None if it is gone; never blocks on a FIFO put in its place."""
    try:
        return read_regular_bytes(path)
    except FileNotFoundError:
        return None


def _restore(path: Path, data: bytes, mode: int | None, mtime_ns: int | None) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@dataclass
class _Target:
    """One file's writes in the runs being undone: where it goes back to, what it may hold."""

    journal: Path
    first: dict
    """The entry of the first write: the state to go back to."""
    written: set[str]
    """SHA-256 of every version the runs wrote: the file may be in any of these states."""
    last: int
    """Position of the last write, to undo in reverse write order."""


def _undo(unit: list[_Journal], keep_changed: bool = False) -> UndoReport:
    """Put every file the ``unit``'s runs wrote back to its state before their first write.

    ``keep_changed``: mark the runs undone even when files changed since were left alone.
    """
    targets: dict[str, _Target] = {}
    position = 0
    for journal in unit:
        for entry in journal.entries:
            position += 1
            target = targets.get(entry["sidecar"])
            if target is None:
                targets[entry["sidecar"]] = _Target(journal.path, entry,
                                                    {entry["written_sha256"]}, position)
            else:
                target.written.add(entry["written_sha256"])
                target.last = position
    report = UndoReport(journal=unit[-1].path if unit else None)
    for name, target in sorted(targets.items(), key=lambda item: item[1].last, reverse=True):
        sidecar = Path(name)
        entry = target.first
        try:
            original = _original(entry, target.journal)
            current = _current(sidecar)
            if current == original:
                report.already += 1
                continue
            if current is None or _sha256(current) not in target.written:
                report.conflicts.append(f"{sidecar}: changed since it was written; left as is")
                continue
            if original is None:
                sidecar.unlink()
                report.removed += 1
            else:
                _restore(sidecar, original, entry.get("mode"), entry.get("mtime_ns"))
                report.restored += 1
        except NotRegularFileError as exc:
            report.conflicts.append(f"{sidecar}: {exc.kind} now stands in its place; left as is")
        except OSError as exc:
            report.failed.append(f"{sidecar}: {exc.strerror or exc}")
    if report.complete or (keep_changed and not report.failed):
        report.runs = len(unit)
        for journal in unit:
            with contextlib.suppress(OSError):
                journal.path.rename(journal.path.with_name(
                    journal.path.name[:-len(JOURNAL_SUFFIX)] + UNDONE_SUFFIX))
            if not report.conflicts:
                # An undone journal is never replayed: the copies of the images it restored
                # can go (kept while an image is left alone, as the only copy of its original).
                shutil.rmtree(backup_dir(journal.path), ignore_errors=True)
    return report


def undo_journal(path: Path) -> UndoReport:
    """Revert the writes in one journal (see the module docstring for the rules)."""
    _, lines = _read_journal(path)
    entries = [line for line in lines if "sidecar" in line]
    return _undo([_Journal(path, 0, any(line.get("finished") for line in lines), entries)])


def _last_unit(journals: list[_Journal]) -> list[_Journal]:
    """The last run and the interrupted runs right before it, which it resumed."""
    unit = journals[-1:]
    for journal in reversed(journals[:-1]):
        if journal.finished:
            break
        unit.insert(0, journal)
    return unit


def undo_last(folder: Path, directory: Path | None = None, *,
              keep_changed: bool = False) -> UndoReport:
    """Revert the last run that wrote into ``folder`` (with the interrupted runs it resumed).

    Files changed since they were written are left alone, and the runs stay undoable so that
    Undo can be tried again; ``keep_changed=True`` marks them undone anyway (the user keeps
    those changes), so that Undo moves on to the runs before.

    Holds the folder's lock meanwhile, so no run writes there during the undo. Raises
    :class:`UndoError` when there is nothing to undo,
    :class:`~resnet_desktop.core.foundation.folder_lock.FolderBusyError` when a run is writing
    there now.
    """
    with folder_lock(folder, "undo"):
        journals = _journals(folder, directory)
        if not journals:
            raise UndoError(f"nothing to undo: no sidecars were written in {folder} by this app "
                            "(or they were already undone)")
        unit = _last_unit(journals)
        report = _undo(unit, keep_changed)
        report.remaining = len(journals) - report.runs
    return report

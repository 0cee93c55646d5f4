"""Keywords written into the image file itself, for the programs that read only that.

Lightroom reads sidecars only for raw files, and Apple Photos and Windows Explorer read only
embedded metadata, so for a JPEG the keywords must be inside it. This module writes them with
exiv2 (the library digiKam and darktable use), merged with what the file already holds:

* XMP ``dc:subject`` (plain keywords) and ``lr:hierarchicalSubject`` (``ImageNet|animal|...``),
  in JPEG, TIFF, PNG and WebP;
* IPTC ``Keywords`` too in JPEG (Windows Explorer and older readers look there). A keyword that
  is not ASCII goes into IPTC only when the file's IPTC is marked UTF-8 or is new (then it is
  marked): writing UTF-8 into an unmarked, older IPTC block would garble its other values.

What this app added is listed in its own XMP namespace, as in sidecars, so re-tagging removes
exactly those values and nothing a person wrote. HEIC/HEIF and raw files are not touched: the
caller writes a sidecar for them instead (:func:`can_embed`).

**Safety.** Only metadata changes (exiv2 rewrites metadata segments, never the image data). The
write goes to a copy beside the file, which then replaces the original atomically, keeping its
mode; a failure at any step leaves the original byte-for-byte as it was. Before the replace,
the undo journal keeps a copy of the original, so Undo restores it byte-for-byte. Read-only
files and anything that is not a regular file are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat as stat_module
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import exiv2

from resnet_desktop.core.batch.run import BatchRecord
from resnet_desktop.core.foundation.atomic import create_temporary
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import ResNetDesktopError, write_error_reason
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.sidecars.undo_journal import UndoJournal
from resnet_desktop.core.sidecars.xmp import (
    APP_NS,
    DEFAULT_NAMING,
    SidecarChange,
    SidecarNaming,
    SidecarPlanner,
    XmpError,
    apply_change,
    sidecar_path,
)
from resnet_desktop.core.sidecars.xmp_document import clean_text
from resnet_desktop.core.sidecars.xmp_keywords import HIERARCHICAL

log = logging.getLogger(__name__)

EMBED_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".webp"})
"""Files whose keywords go inside them; everything else gets a sidecar."""
IPTC_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe"})

_SUBJECT = "Xmp.dc.subject"
_HIERARCHICAL = "Xmp.lr.hierarchicalSubject"
_ADDED_SUBJECT = "Xmp.resnetDesktop.addedSubject"
_ADDED_HIERARCHICAL = "Xmp.resnetDesktop.addedHierarchicalSubject"
_IPTC_KEYWORDS = "Iptc.Application2.Keywords"
_IPTC_CHARSET = "Iptc.Envelope.CharacterSet"
_IPTC_UTF8 = "\x1b%G"
_IPTC_MAX_BYTES = 64
"""The IPTC IIM limit for one keyword."""

_exiv2_lock = threading.Lock()
"""exiv2's namespace registry is global; registering and writing are serialised."""
_registered = False


class EmbedError(ResNetDesktopError):
    """Keywords could not be written into an image; it was left unchanged."""


def can_embed(path: Path) -> bool:
    """True for JPEG, TIFF, PNG and WebP; HEIC/HEIF, raw and the rest get sidecars."""
    return Path(path).suffix.lower() in EMBED_SUFFIXES


@dataclass(frozen=True)
class EmbeddedKeywords:
    """The keyword lists an image file holds, and which of them this app added."""

    subject: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    iptc: tuple[str, ...] = ()
    added_subject: tuple[str, ...] = ()
    added_hierarchical: tuple[str, ...] = ()


def _register() -> None:
    global _registered
    if not _registered:
        exiv2.XmpProperties.registerNs(APP_NS, "resnetDesktop")
        _registered = True


def _xmp_values(xmp, key: str) -> list[str]:
    pos = xmp.findKey(exiv2.XmpKey(key))
    if pos == xmp.end():
        return []
    return [pos.toString(i) for i in range(pos.count())]


def _set_xmp_bag(xmp, key: str, values: Sequence[str]) -> None:
    pos = xmp.findKey(exiv2.XmpKey(key))
    if pos != xmp.end():
        xmp.erase(pos)
    if values:
        bag = exiv2.XmpArrayValue(exiv2.TypeId.xmpBag)
        for value in values:
            bag.read(value)
        xmp[key] = bag


def _iptc_values(iptc, key: str) -> list[str]:
    return [datum.toString() for datum in iptc if datum.key() == key]


def _set_iptc_keywords(iptc, values: Sequence[str]) -> None:
    key = exiv2.IptcKey(_IPTC_KEYWORDS)
    pos = iptc.findKey(key)
    while pos != iptc.end():
        iptc.erase(pos)
        pos = iptc.findKey(key)
    for value in values:
        datum = exiv2.Iptcdatum(key)
        datum.setValue(value)
        iptc.add(datum)


def _merge(current: list[str], previously_added: list[str],
           desired: list[str]) -> tuple[list[str], list[str]]:
    """(the new list, what this app has added to it): the values added before and no longer
    wanted go; everything else stays, in its order; new values are appended."""
    dropped = set(previously_added) - set(desired)
    final = [v for v in current if v not in dropped]
    final += [v for v in desired if v not in final]
    added = [v for v in desired if v not in current or v in previously_added]
    return final, added


def _iptc_allows(value: str, utf8: bool) -> bool:
    return len(value.encode("utf-8")) <= _IPTC_MAX_BYTES and (utf8 or value.isascii())


def read_embedded(path: Path) -> EmbeddedKeywords:
    """The keyword lists inside an image (for previews and tests)."""
    with _exiv2_lock:
        _register()
        try:
            image = exiv2.ImageFactory.open(str(path))
            image.readMetadata()
        except exiv2.Exiv2Error as exc:
            raise EmbedError(f"{Path(path).name}: its metadata cannot be read ({exc.args[-1]})") \
                from None
        xmp, iptc = image.xmpData(), image.iptcData()
        return EmbeddedKeywords(
            tuple(_xmp_values(xmp, _SUBJECT)), tuple(_xmp_values(xmp, _HIERARCHICAL)),
            tuple(_iptc_values(iptc, _IPTC_KEYWORDS)),
            tuple(_xmp_values(xmp, _ADDED_SUBJECT)), tuple(_xmp_values(xmp, _ADDED_HIERARCHICAL)))


def _update(image, keywords: Sequence[str], hierarchical: Sequence[str], iptc_too: bool) -> bool:
    """Merge the keywords into ``image``'s metadata in memory; False when nothing changes."""
    xmp = image.xmpData()
    changed = False
    previously_added = _xmp_values(xmp, _ADDED_SUBJECT)
    for key, added_key, desired in ((_SUBJECT, _ADDED_SUBJECT, list(keywords)),
                                    (_HIERARCHICAL, _ADDED_HIERARCHICAL, list(hierarchical))):
        current, before = _xmp_values(xmp, key), _xmp_values(xmp, added_key)
        final, added = _merge(current, before, desired)
        if final != current:
            _set_xmp_bag(xmp, key, final)
            changed = True
        if added != before:
            _set_xmp_bag(xmp, added_key, added)
            changed = True
    if iptc_too:
        iptc = image.iptcData()
        charset = _iptc_values(iptc, _IPTC_CHARSET)
        utf8 = charset == [_IPTC_UTF8] or not len(iptc)
        current = _iptc_values(iptc, _IPTC_KEYWORDS)
        desired = [k for k in keywords if _iptc_allows(k, utf8)]
        final, _ = _merge(current, previously_added, desired)
        if final != current:
            if utf8 and not charset:
                iptc[_IPTC_CHARSET] = _IPTC_UTF8
            _set_iptc_keywords(iptc, final)
            changed = True
    return changed


def _describe(path: Path, exc: BaseException) -> str:
    if isinstance(exc, exiv2.Exiv2Error):
        return f"{path.name}: exiv2 cannot write its metadata ({exc.args[-1]}); left unchanged"
    if isinstance(exc, OSError):
        return f"{path.name}: cannot be written ({write_error_reason(exc)}); left unchanged"
    return f"{path.name}: {exc}; left unchanged"


def embed_keywords(path: Path, keywords: Sequence[str], hierarchical: Sequence[str],
                   journal) -> str:
    """Merge ``keywords`` (plain) and ``hierarchical`` (``ImageNet|animal|cat``) into the
    image at ``path``: ``"merged"`` or ``"unchanged"``.

    ``journal`` (an :class:`~resnet_desktop.core.sidecars.undo_journal.UndoJournal`) keeps a
    copy of the original before it is replaced. Raises :class:`EmbedError` with one line; the
    file is then exactly as it was.
    """
    path = Path(path)
    if not can_embed(path):
        raise EmbedError(f"{path.name}: keywords are not written into {path.suffix or 'such'} "
                         "files; use a sidecar")
    target = path.resolve()
    try:
        info = target.stat()
    except OSError as exc:
        raise EmbedError(f"{path.name}: cannot be read ({write_error_reason(exc)})") from None
    if not stat_module.S_ISREG(info.st_mode):
        raise EmbedError(f"{path.name}: is not a regular file; left unchanged")
    if not os.access(target, os.W_OK) or not info.st_mode & stat_module.S_IWUSR:
        raise EmbedError(f"{path.name}: is read-only; left unchanged")
    try:
        handle, temp = create_temporary(target.parent)
    except OSError as exc:
        raise EmbedError(_describe(path, exc)) from None
    try:
        with open(target, "rb") as source, open(handle, "wb", closefd=False) as copy:
            shutil.copyfileobj(source, copy)
        os.chmod(temp, stat_module.S_IMODE(info.st_mode))
        with _exiv2_lock:
            _register()
            image = exiv2.ImageFactory.open(str(temp))
            image.readMetadata()
            if not _update(image, keywords, hierarchical,
                           iptc_too=target.suffix.lower() in IPTC_SUFFIXES):
                return "unchanged"
            image.writeMetadata()
            del image
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
            digest = hashlib.file_digest(written, "sha256").hexdigest()
        if target.stat().st_mtime_ns != info.st_mtime_ns:
            raise EmbedError(f"{path.name}: changed while its keywords were written; left "
                             "as it is now")
        journal.record_copy(target, digest, info)
        os.replace(temp, target)
    except EmbedError:
        raise
    except (exiv2.Exiv2Error, OSError) as exc:
        raise EmbedError(_describe(path, exc)) from None
    finally:
        os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return "merged"


def hierarchical_values(paths: Sequence[Sequence[str]]) -> list[str]:
    """``lr:hierarchicalSubject`` values, written as in sidecars: ``ImageNet|animal|cat``."""
    cleaned = (tuple(clean_text(part) for part in path) for path in paths)
    return list(dict.fromkeys(HIERARCHICAL.path_value(p) for p in cleaned if p and all(p)))


@dataclass
class EmbedReport:
    """What ``tag --embed`` did."""

    embedded: int = 0
    unchanged: int = 0
    sidecars: list[str] = field(default_factory=list)
    """Files that got a sidecar instead (HEIC, raw, ...), by name."""
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"keywords written into {self.embedded} image file(s), {self.unchanged} "
                "already up to date")
        if self.sidecars:
            text += (f"; {len(self.sidecars)} file(s) got an XMP sidecar instead (keywords "
                     "are not written into HEIC, raw and other formats)")
        if self.failed:
            text += f", {len(self.failed)} failed"
        return text


def write_change(change: SidecarChange, journal, report: EmbedReport,
                 model: str | None = None) -> str | None:
    """Write one image's keywords into it, or into its sidecar when its format is not written
    into; counted in ``report``. A failure's one-line message, or None."""
    try:
        if can_embed(change.image):
            paths = change.paths or tuple((k,) for k in change.keywords)
            outcome = embed_keywords(change.image,
                                     [k for k in map(clean_text, change.keywords) if k],
                                     hierarchical_values(paths), journal)
            if outcome == "merged":
                report.embedded += 1
            else:
                report.unchanged += 1
        else:
            report.sidecars.append(change.image.name)
            apply_change(change, journal, model=model)
    except (EmbedError, XmpError) as exc:
        report.failed.append(str(exc))
        return str(exc)
    return None


def write_planned_keywords(folder: Path, changes: Iterable[SidecarChange], model: str | None,
                           cancel: CancelToken = NEVER) -> EmbedReport:
    """Write keywords planned earlier (the Batch tab's confirmed preview) into the images, and
    into sidecars for the other formats, under one undo journal for ``folder``."""
    report = EmbedReport()
    with UndoJournal.start(folder) as journal:
        for change in changes:
            cancel.raise_if_cancelled()
            problem = write_change(change, journal, report, model)
            if problem is not None:
                log.warning("%s", problem)
    return report


class EmbedWriter:
    """Writes each record's keywords into its image, or into a sidecar for formats that are
    not written into (HEIC/HEIF, raw); streamed, one record at a time."""

    def __init__(self, policy: KeywordPolicy, naming: SidecarNaming | str = DEFAULT_NAMING,
                 model: str | None = None, *, fallback: bool = True) -> None:
        """``fallback=False`` when the run writes sidecars for every image anyway."""
        self.policy = policy
        self.model = model
        self.naming = SidecarNaming(naming)
        self.fallback = fallback
        self.report = EmbedReport()
        self._fallback = SidecarPlanner(policy.min_confidence, naming, keywords=policy)

    def write(self, record: BatchRecord, journal) -> str | None:
        """Embed (or fall back to a sidecar for) one record; a failure's one-line message, or
        None. Failed images are skipped."""
        if not record.ok:
            return None
        image = Path(record.file)
        if can_embed(image):
            chosen = self.policy.keywords(record.top, record.categories)
            change = SidecarChange(image, sidecar_path(image, self.naming), chosen.flat,
                                   chosen.paths)
        elif self.fallback:
            change = self._fallback.change_for(record)
        else:
            change = None
        return write_change(change, journal, self.report, self.model) if change else None

"""XMP sidecars that photo managers read: which files, planned and written as a batch goes.

The pieces live beside this module: :mod:`.xmp_document` parses and writes a packet safely,
:mod:`.xmp_keywords` merges the three keyword lists, :mod:`.sidecar_files` reads and replaces
one file (regular files only, through links, never a read-only one). A sidecar that cannot be
merged is one message in the report and the batch goes on.

**Sidecar names** (:class:`SidecarNaming`): which program reads which name

* ``IMG_1.jpg.xmp`` (``append``, the default): digiKam (its default), darktable (the only name it
  reads), Immich (reads both names and prefers this one). It also cannot collide when
  ``IMG_1.jpg`` and ``IMG_1.png`` sit side by side.
* ``IMG_1.xmp`` (``replace``): Adobe Lightroom Classic and Camera Raw, Capture One; digiKam when
  "keep image extension" is unchecked in its sidecar settings; Immich. Note that Lightroom uses
  sidecars only for raw files: for JPEG, TIFF, PNG and PSD it reads the metadata embedded in the
  file and ignores any ``.xmp`` beside it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from resnet_desktop.core.batch.run import BatchRecord
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.sidecars.sidecar_files import check_writable, read_sidecar, write_sidecar
from resnet_desktop.core.sidecars.xmp_document import APP_NS, NAMESPACES, XmpError
from resnet_desktop.core.sidecars.xmp_keywords import (
    HIERARCHY_ROOT,
    SidecarKeywords,
    merge_keywords,
    read_keywords,
)

__all__ = [
    "APP_NS", "DEFAULT_NAMING", "HIERARCHY_ROOT", "NAMESPACES", "SidecarChange",
    "SidecarKeywords", "SidecarNaming", "SidecarPlanner", "SidecarPreview", "SidecarReport",
    "XmpError", "apply_change", "merge_keywords", "plan_sidecars", "read_keywords",
    "sidecar_path", "write_sidecars",
]

log = logging.getLogger(__name__)


class SidecarNaming(StrEnum):
    APPEND = "append"
    """``IMG_1.jpg.xmp``: digiKam, darktable, Immich."""
    REPLACE = "replace"
    """``IMG_1.xmp``: Lightroom (raw files), Capture One, Immich."""

    @property
    def example(self) -> str:
        return "IMG_1.jpg.xmp" if self is SidecarNaming.APPEND else "IMG_1.xmp"

    @property
    def readers(self) -> str:
        if self is SidecarNaming.APPEND:
            return "digiKam, darktable, Immich"
        return "Lightroom, Capture One, Immich"


DEFAULT_NAMING = SidecarNaming.APPEND


def sidecar_path(image: Path, naming: SidecarNaming | str = DEFAULT_NAMING) -> Path:
    image = Path(image)
    if SidecarNaming(naming) is SidecarNaming.APPEND:
        return image.with_name(image.name + ".xmp")
    return image.with_suffix(".xmp")


# -- planning and writing ------------------------------------------------------------------

@dataclass(frozen=True)
class SidecarChange:
    """The keywords one image's sidecar should carry from this app."""

    image: Path
    sidecar: Path
    keywords: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...] = ()
    """The keywords as category paths (``animal, mammal, cat``) for the hierarchical lists;
    empty: each keyword on its own under the root."""


@dataclass
class SidecarPreview:
    """What writing sidecars will do, for the confirmation dialog and ``--dry-run``."""

    naming: SidecarNaming = DEFAULT_NAMING
    files: int = 0
    existing: int = 0
    keywords: Counter = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)

    def add(self, change: SidecarChange, exists: bool) -> None:
        self.files += 1
        self.existing += int(exists)
        self.keywords.update(change.keywords)

    @property
    def created(self) -> int:
        return self.files - self.existing

    def lines(self, limit: int = 30) -> list[str]:
        """The preview as text lines."""
        out = [f"{self.files} sidecar file(s) ({self.naming.example} naming): {self.created} "
               f"new, {self.existing} existing to merge (their other metadata is kept)"]
        if self.keywords:
            out.append(f"{len(self.keywords)} keyword(s), each also written with its category "
                       f"path as {HIERARCHY_ROOT}|animal|cat and {HIERARCHY_ROOT}/animal/cat:")
            for keyword, count in self.keywords.most_common(limit):
                out.append(f"  {keyword}: {count} file(s)")
            if len(self.keywords) > limit:
                out.append(f"  ... and {len(self.keywords) - limit} more")
        for problem in self.skipped:
            out.append(f"skipped: {problem}")
        return out


class SidecarPlanner:
    """Turns records into :class:`SidecarChange` one at a time (streamed), catching the case
    where ``replace`` naming gives two images one sidecar (``IMG_1.jpg``, ``IMG_1.png``)."""

    def __init__(self, min_confidence: float, naming: SidecarNaming | str = DEFAULT_NAMING,
                 preview: SidecarPreview | None = None,
                 keywords: KeywordPolicy | None = None) -> None:
        self.min_confidence = min_confidence
        self.keywords = keywords if keywords is not None else KeywordPolicy(min_confidence)
        self.naming = SidecarNaming(naming)
        self.preview = preview if preview is not None else SidecarPreview(self.naming)
        self._folder: Path | None = None
        self._claimed: dict[str, str] = {}

    def change_for(self, record: BatchRecord) -> SidecarChange | None:
        """None for failed images, and for images with no keyword and no sidecar to update."""
        if not record.ok:
            return None
        image = Path(record.file)
        sidecar = sidecar_path(image, self.naming)
        if image.parent != self._folder:
            self._folder, self._claimed = image.parent, {}
        owner = self._claimed.get(sidecar.name.casefold())
        if owner is not None:
            self.preview.skipped.append(
                f"{record.path}: {sidecar.name} already belongs to {owner} (use the "
                f"{SidecarNaming.APPEND.example} naming)")
            return None
        chosen = self.keywords.keywords(record.top, record.categories)
        keywords = chosen.flat
        exists = sidecar.exists()
        if not keywords and not exists:
            return None
        self._claimed[sidecar.name.casefold()] = image.name
        change = SidecarChange(image, sidecar, keywords, chosen.paths)
        self.preview.add(change, exists)
        return change


def plan_sidecars(records: Iterable[BatchRecord], min_confidence: float,
                  naming: SidecarNaming | str = DEFAULT_NAMING,
                  keywords: KeywordPolicy | None = None,
                  ) -> tuple[list[SidecarChange], SidecarPreview]:
    planner = SidecarPlanner(min_confidence, naming, keywords=keywords)
    changes = [c for c in (planner.change_for(r) for r in records) if c is not None]
    return changes, planner.preview


@dataclass
class SidecarReport:
    created: int = 0
    merged: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.merged

    def summary(self) -> str:
        text = (f"{self.written} sidecar(s) written ({self.created} new, {self.merged} merged), "
                f"{self.unchanged} already up to date")
        if self.failed:
            text += f", {len(self.failed)} failed"
        return text


def apply_change(change: SidecarChange, journal, *, model: str | None = None) -> str:
    """Merge one sidecar: ``"created"``, ``"merged"`` or ``"unchanged"``.

    ``journal`` (an :class:`~resnet_desktop.core.sidecars.undo_journal.UndoJournal`) records the
    old content before the file is touched. Raises :class:`XmpError` with a one-line reason.
    """
    sidecar = read_sidecar(change.sidecar)
    new = merge_keywords(sidecar.data, change.keywords, model=model, name=change.sidecar.name,
                         paths=change.paths)
    if new is None:
        return "unchanged"
    check_writable(sidecar)
    try:
        journal.record(sidecar.path, sidecar.data, new, sidecar.stat)
    except OSError as exc:
        raise XmpError(f"{change.sidecar.name}: the undo journal cannot be written "
                       f"({exc.strerror or exc}); left unchanged") from None
    write_sidecar(sidecar, new)
    return "created" if sidecar.data is None else "merged"


def write_sidecars(changes: Iterable[SidecarChange], journal, *, model: str | None = None,
                   cancel: CancelToken = NEVER,
                   on_progress: Callable[[int], None] | None = None) -> SidecarReport:
    """Apply every change (journaled); a file that fails is reported and the rest go on."""
    report = SidecarReport()
    for done, change in enumerate(changes, 1):
        cancel.raise_if_cancelled()
        try:
            outcome = apply_change(change, journal, model=model)
        except XmpError as exc:
            log.warning("%s", exc)
            report.failed.append(str(exc))
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if on_progress is not None:
            on_progress(done)
    return report

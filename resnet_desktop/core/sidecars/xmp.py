"""XMP sidecars that photo managers read: keywords merged in, never clobbering the file.

Each label at or above the confidence threshold is written three ways, so every common
reader finds it:

* ``dc:subject`` (a ``rdf:Bag`` of plain keywords): Lightroom, darktable, Immich, exiftool;
* ``lr:hierarchicalSubject`` as ``ImageNet|label``: Lightroom's keyword tree, digiKam, Immich;
* ``digiKam:TagsList`` (a ``rdf:Seq``) as ``ImageNet/label``: digiKam's tag tree and Immich's
  first choice for tags.

**Merging.** An existing sidecar is parsed (both property forms found in the wild are handled:
element form, and darktable's attribute form on ``rdf:Description``), and only the three lists
above change; every other element, attribute, namespace and keyword stays, as does the text
around the root element (``<?xml ...?>``, ``<?xpacket ...?>``). What this app added is listed in
its own namespace (``resnetDesktop:addedSubject``, ``addedHierarchicalSubject``,
``addedTagsList``), so re-tagging removes exactly those values and nothing a person or another
program wrote, even when the same word appears in both. A sidecar that cannot be parsed is
left alone and reported.

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

import io
import logging
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from resnet_desktop import __version__
from resnet_desktop.core.batch.run import BatchRecord
from resnet_desktop.core.foundation.atomic import atomic_open
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import ResNetDesktopError, write_error_reason

log = logging.getLogger(__name__)

APP_NS = "http://ns.resnet-desktop.app/xmp/1.0/"
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "resnetDesktop": APP_NS,
}
# Prefixes other programs use, so that merging keeps their customary names (XML does not care,
# people reading the file do).
_COMMON_NAMESPACES = {
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "stRef": "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "darktable": "http://darktable.sf.net/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "xmpDM": "http://ns.adobe.com/xmp/1.0/DynamicMedia/",
}
_registered: dict[str, str] = {"xml": "http://www.w3.org/XML/1998/namespace"}
_register_lock = threading.Lock()


def _register(prefix: str, uri: str) -> None:
    """Register with ElementTree unless the prefix or the URI already has another partner
    (re-registering would silently rename a namespace someone else relies on)."""
    with _register_lock:
        if _registered.get(prefix) == uri:
            return
        if prefix in _registered or uri in _registered.values() or re.match(r"ns\d+$", prefix):
            return
        ET.register_namespace(prefix, uri)
        _registered[prefix] = uri


for _prefix, _uri in (NAMESPACES | _COMMON_NAMESPACES).items():
    _register(_prefix, _uri)


def _q(prefix: str, name: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{name}"


RDF_RDF, RDF_DESCRIPTION, RDF_LI = _q("rdf", "RDF"), _q("rdf", "Description"), _q("rdf", "li")
RDF_BAG, RDF_SEQ, RDF_ALT, RDF_ABOUT = (_q("rdf", "Bag"), _q("rdf", "Seq"), _q("rdf", "Alt"),
                                        _q("rdf", "about"))
X_XMPMETA = _q("x", "xmpmeta")
APP_MODEL = _q("resnetDesktop", "model")

HIERARCHY_ROOT = "ImageNet"
"""The parent keyword of every label in the hierarchical lists."""


@dataclass(frozen=True)
class _Target:
    """One keyword list this app writes, and where it records what it added to it."""

    tag: str
    container: str
    added_tag: str
    hierarchy: str | None

    def value(self, keyword: str) -> str:
        if self.hierarchy is None:
            return keyword
        # The separator inside a label would make a deeper level of the tree.
        return f"{HIERARCHY_ROOT}{self.hierarchy}{keyword.replace(self.hierarchy, '-')}"


TARGETS = (
    _Target(_q("dc", "subject"), RDF_BAG, _q("resnetDesktop", "addedSubject"), None),
    _Target(_q("lr", "hierarchicalSubject"), RDF_BAG,
            _q("resnetDesktop", "addedHierarchicalSubject"), "|"),
    _Target(_q("digiKam", "TagsList"), RDF_SEQ, _q("resnetDesktop", "addedTagsList"), "/"),
)


class XmpError(ResNetDesktopError):
    """A sidecar cannot be merged (not XMP, not UTF-8) or written; it was left unchanged."""


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


# -- reading -------------------------------------------------------------------------------

_PACKET_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TRAILER = '\n<?xpacket end="w"?>\n'


@dataclass
class _Document:
    root: ET.Element
    rdf: ET.Element
    before: str
    after: str


def _split_around_root(text: str, name: str) -> tuple[str, str]:
    """The text before the root element (declaration, packet header) and after it."""
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n\ufeff":
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
        elif text.startswith("<!", pos):
            raise XmpError(f"{name}: has a DOCTYPE, which XMP does not use; left unchanged")
        else:
            break
        if end < 0:
            raise XmpError(f"{name}: is not valid XML; left unchanged")
        pos = text.find(">", end) + 1
    close = text.rfind("</")
    end = text.find(">", close) if close >= pos else -1
    tail = text[end + 1:] if end >= 0 else ""
    return text[:pos], tail


def _parse(data: bytes, name: str) -> _Document:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise XmpError(f"{name}: is not UTF-8 text; left unchanged") from None
    before, after = _split_around_root(text, name)
    namespaces: list[tuple[str, str]] = []
    try:
        events = ET.iterparse(io.BytesIO(data), events=("start-ns",))
        for _event, (prefix, uri) in events:
            namespaces.append((prefix, uri))
        root = events.root  # type: ignore[attr-defined]
    except ET.ParseError as exc:
        raise XmpError(f"{name}: is not valid XML ({exc}); left unchanged") from None
    for prefix, uri in namespaces:
        if prefix:
            _register(prefix, uri)
    if root.tag == RDF_RDF:
        rdf = root
    else:
        rdf = root.find(RDF_RDF)
        if rdf is None:
            if root.tag != X_XMPMETA:
                raise XmpError(f"{name}: is XML but not XMP (its root is {root.tag}); "
                               "left unchanged")
            rdf = ET.SubElement(root, RDF_RDF)
    return _Document(root, rdf, before, after)


def _new_document() -> _Document:
    root = ET.Element(X_XMPMETA, {_q("x", "xmptk"): f"resnet-desktop {__version__}"})
    rdf = ET.SubElement(root, RDF_RDF)
    ET.SubElement(rdf, RDF_DESCRIPTION, {RDF_ABOUT: ""})
    return _Document(root, rdf, _PACKET_HEADER, _PACKET_TRAILER)


def _descriptions(doc: _Document) -> list[ET.Element]:
    found = doc.rdf.findall(RDF_DESCRIPTION)
    if not found:
        found = [ET.SubElement(doc.rdf, RDF_DESCRIPTION, {RDF_ABOUT: ""})]
    return found


def _find(descriptions: list[ET.Element], tag: str) -> tuple[ET.Element, ET.Element | None]:
    """(the Description holding ``tag``, its element or None for attribute form)."""
    for desc in descriptions:
        element = desc.find(tag)
        if element is not None:
            return desc, element
        if tag in desc.attrib:
            return desc, None
    return descriptions[0], None


def _values(desc: ET.Element, element: ET.Element | None, tag: str) -> list[str]:
    if element is None:
        value = desc.attrib.get(tag)
        return [value] if value else []
    container = next(iter(element), None)
    if container is None:
        text = (element.text or "").strip()
        return [text] if text else []
    return [li.text or "" for li in container.findall(RDF_LI)]


def _depth(doc: _Document, element: ET.Element) -> int:
    parents = {child: parent for parent in doc.root.iter() for child in parent}
    depth = 0
    while element in parents:
        element = parents[element]
        depth += 1
    return depth


def _append(parent: ET.Element, child: ET.Element, depth: int) -> None:
    """Append ``child`` to ``parent`` (at ``depth``) indented like a hand-formatted file."""
    ET.indent(child, space=" ", level=depth + 1)
    inner, outer = "\n" + " " * (depth + 1), "\n" + " " * depth
    if len(parent):
        last = parent[-1]
        child.tail = last.tail if last.tail is not None and not last.tail.strip() else outer
        last.tail = inner
    else:
        if not (parent.text or "").strip():
            parent.text = inner
        child.tail = outer
    parent.append(child)


def _remove(parent: ET.Element, child: ET.Element) -> None:
    index = list(parent).index(child)
    if index == len(parent) - 1 and index > 0:
        parent[index - 1].tail = child.tail
    parent.remove(child)
    if not len(parent) and not (parent.text or "").strip():
        parent.text = None


def _list_element(tag: str, container: str, values: Iterable[str]) -> ET.Element:
    element = ET.Element(tag)
    bag = ET.SubElement(element, container)
    for value in values:
        ET.SubElement(bag, RDF_LI).text = value
    return element


def _set_list(doc: _Document, desc: ET.Element, element: ET.Element | None, tag: str,
              container: str, values: list[str]) -> None:
    """Make property ``tag`` hold ``values``, keeping its container type and item attributes."""
    if element is None and tag in desc.attrib:
        del desc.attrib[tag]
    if not values:
        if element is not None:
            _remove(desc, element)
        return
    if element is None:
        _append(desc, _list_element(tag, container, values), _depth(doc, desc))
        return
    bag = next(iter(element), None)
    if bag is None or bag.tag not in (RDF_BAG, RDF_SEQ, RDF_ALT):
        _remove(desc, element)
        _append(desc, _list_element(tag, container, values), _depth(doc, desc))
        return
    existing = {}
    for li in bag.findall(RDF_LI):
        existing.setdefault(li.text or "", li)
        bag.remove(li)
    bag.text = None
    for value in values:
        li = existing.pop(value, None)
        if li is None:
            li = ET.Element(RDF_LI)
            li.text = value
        li.tail = None
        bag.append(li)
    depth = _depth(doc, bag)
    ET.indent(bag, space=" ", level=depth)
    element.text = "\n" + " " * depth
    bag.tail = "\n" + " " * (depth - 1)


@dataclass(frozen=True)
class SidecarKeywords:
    """What a sidecar says: the three keyword lists, and which values this app added."""

    subject: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    added: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    model: str | None = None


def read_keywords(data: bytes, name: str = "sidecar") -> SidecarKeywords:
    """Parse a sidecar's keyword lists (for previews and tests)."""
    doc = _parse(data, name)
    descs = _descriptions(doc)
    lists = []
    added = []
    for target in TARGETS:
        desc, element = _find(descs, target.tag)
        lists.append(tuple(_values(desc, element, target.tag)))
        desc, element = _find(descs, target.added_tag)
        added.append(tuple(_values(desc, element, target.added_tag)))
    desc, element = _find(descs, APP_MODEL)
    model = _values(desc, element, APP_MODEL)
    return SidecarKeywords(lists[0], lists[1], lists[2], (added[0], added[1], added[2]),
                           model[0] if model else None)


# -- merging -------------------------------------------------------------------------------

def merge_keywords(existing: bytes | None, keywords: Sequence[str], *, model: str | None = None,
                   name: str = "sidecar") -> bytes | None:
    """The sidecar with this app's keywords replaced by ``keywords``; None if nothing changes.

    ``existing`` None means there is no sidecar yet (None is returned when ``keywords`` is
    empty: no empty sidecar is created). Raises :class:`XmpError` for a sidecar that is not
    UTF-8 XMP.
    """
    keywords = list(dict.fromkeys(k for k in keywords if k))
    if existing is None or not existing.strip():
        if not keywords:
            return None
        doc = _new_document()
    else:
        doc = _parse(existing, name)
    descs = _descriptions(doc)
    changed = False
    tracking: list[tuple[_Target, list[str]]] = []
    for target in TARGETS:
        desired = [target.value(k) for k in keywords]
        desc, element = _find(descs, target.tag)
        current = _values(desc, element, target.tag)
        added_desc, added_element = _find(descs, target.added_tag)
        previously_added = _values(added_desc, added_element, target.added_tag)
        dropped = set(previously_added) - set(desired)
        final = [v for v in current if v not in dropped]
        final += [v for v in desired if v not in final]
        if final != current:
            _set_list(doc, desc, element, target.tag, target.container, final)
            changed = True
        # Ours: what is added now, plus what was added before and is still wanted.
        added_now = [v for v in desired if v not in current or v in previously_added]
        tracking.append((target, added_now))
    for target, added_now in tracking:
        added_desc, added_element = _find(descs, target.added_tag)
        if added_now != _values(added_desc, added_element, target.added_tag):
            _set_list(doc, added_desc, added_element, target.added_tag, RDF_BAG, added_now)
            changed = True
    any_added = any(added for _, added in tracking)
    desc, element = _find(descs, APP_MODEL)
    current_model = _values(desc, element, APP_MODEL)
    wanted_model = [model] if model and any_added else []
    if current_model != wanted_model:
        if element is None and APP_MODEL in desc.attrib:
            del desc.attrib[APP_MODEL]
        elif element is not None:
            _remove(desc, element)
        if wanted_model:
            model_element = ET.Element(APP_MODEL)
            model_element.text = model
            _append(desc, model_element, _depth(doc, desc))
        changed = True
    if not changed and existing is not None and existing.strip():
        return None
    if existing is None or not existing.strip():
        ET.indent(doc.root, space=" ")
    body = ET.tostring(doc.root, encoding="unicode")
    return (doc.before + body + doc.after).encode("utf-8")


# -- planning and writing ------------------------------------------------------------------

@dataclass(frozen=True)
class SidecarChange:
    """The keywords one image's sidecar should carry from this app."""

    image: Path
    sidecar: Path
    keywords: tuple[str, ...]


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
            out.append(f"{len(self.keywords)} keyword(s), each also written as "
                       f"{HIERARCHY_ROOT}|keyword and {HIERARCHY_ROOT}/keyword:")
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
                 preview: SidecarPreview | None = None) -> None:
        self.min_confidence = min_confidence
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
        keywords = record.tags(self.min_confidence)
        exists = sidecar.exists()
        if not keywords and not exists:
            return None
        self._claimed[sidecar.name.casefold()] = image.name
        change = SidecarChange(image, sidecar, keywords)
        self.preview.add(change, exists)
        return change


def plan_sidecars(records: Iterable[BatchRecord], min_confidence: float,
                  naming: SidecarNaming | str = DEFAULT_NAMING,
                  ) -> tuple[list[SidecarChange], SidecarPreview]:
    planner = SidecarPlanner(min_confidence, naming)
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


def _describe(path: Path, exc: OSError) -> str:
    return f"{path.name}: cannot be written ({write_error_reason(exc)}); left unchanged"


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before threads start.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_NEW_FILE_MODE = 0o666 & ~_read_umask()


def write_bytes_keeping_mode(path: Path, data: bytes, mode: int | None) -> None:
    """Atomic write; the file keeps ``mode``, or gets the usual mode for a new file (the
    temporary file behind an atomic write would otherwise leave it 0600)."""
    if mode is None:
        mode = _NEW_FILE_MODE
    with atomic_open(path, "wb") as handle:
        handle.write(data)
        if hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), mode & 0o7777)


def apply_change(change: SidecarChange, journal, *, model: str | None = None) -> str:
    """Merge one sidecar: ``"created"``, ``"merged"`` or ``"unchanged"``.

    ``journal`` (an :class:`~resnet_desktop.core.sidecars.undo_journal.UndoJournal`) records the old
    content before the file is touched. Raises :class:`XmpError` with a one-line reason.
    """
    path = change.sidecar
    try:
        existing = path.read_bytes()
        stat = path.stat()
    except FileNotFoundError:
        existing, stat = None, None
    except OSError as exc:
        raise XmpError(f"{path.name}: cannot be read ({exc.strerror or exc}); left "
                       "unchanged") from None
    new = merge_keywords(existing, change.keywords, model=model, name=path.name)
    if new is None:
        return "unchanged"
    try:
        journal.record(path, existing, new, stat)
        write_bytes_keeping_mode(path, new, stat.st_mode if stat else None)
    except OSError as exc:
        raise XmpError(_describe(path, exc)) from None
    return "created" if existing is None else "merged"


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

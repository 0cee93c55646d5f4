"""The three keyword lists this app writes into a sidecar, merged with what is already there.

Each label is written three ways, so every common reader finds it:

* ``dc:subject`` (a ``rdf:Bag`` of plain keywords): Lightroom, darktable, Immich, exiftool;
* ``lr:hierarchicalSubject`` as ``ImageNet|animal|mammal|cat|tiger cat`` (the curated category
  path of the label, :mod:`~resnet_desktop.core.keywords`; ``ImageNet|label`` for labels without
  one): Lightroom's keyword tree, darktable (which reads only this list when it is present),
  digiKam, Immich;
* ``digiKam:TagsList`` (a ``rdf:Seq``), the same paths with ``/``: digiKam's tag tree (digiKam takes
  the first non-empty list of ``TagsList``, ``hierarchicalSubject``, ..., ``dc:subject``) and
  Immich's first choice for tags.

Both property forms found in the wild are read: element form, and darktable's attribute form
on ``rdf:Description``. What this app added is listed in its own namespace
(``resnetDesktop:addedSubject`` and so on), so re-tagging removes exactly those values and
nothing a person or another program wrote, even when the same word appears in both.

**The user's keywords in the hierarchical lists.** When a sidecar has keywords but lacks a
hierarchical list, a list holding only ImageNet labels would hide them in darktable and
digiKam. So a hierarchical list this app creates is seeded with the keywords already there:
the other hierarchical list's paths (``Trips|Rome`` becomes ``Trips/Rome``) and the plain
keywords that are not part of one (``holiday``). The seeds are recorded
(``resnetDesktop:seededHierarchicalSubject``, ``seededTagsList``) and kept in step on every
re-tagging while the list holds only what this app put there; when the app's labels go, its
seeds go with them and the list is removed, as it was before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from resnet_desktop.core.sidecars.xmp_document import (
    RDF_ALT,
    RDF_BAG,
    RDF_DESCRIPTION,
    RDF_LI,
    RDF_SEQ,
    XmpDocument,
    clean_text,
    depth_of,
    is_element,
    new_property,
    new_xmp,
    parse_xmp,
    place,
    q,
    remove,
)

HIERARCHY_ROOT = "ImageNet"
"""The parent keyword of every label in the hierarchical lists."""

APP_MODEL = q("resnetDesktop", "model")


@dataclass(frozen=True)
class _Target:
    """One keyword list this app writes, and where it records what it added and seeded."""

    tag: str
    container: str
    added_tag: str
    hierarchy: str | None
    seeded_tag: str | None = None

    def value(self, keyword: str) -> str:
        return self.path_value((keyword,))

    def path_value(self, path: Sequence[str]) -> str:
        """``ImageNet|animal|cat`` for a hierarchical list; the last name for ``dc:subject``."""
        if self.hierarchy is None:
            return path[-1]
        # The separator inside a name would make a deeper level of the tree.
        return HIERARCHY_ROOT + "".join(
            f"{self.hierarchy}{part.replace(self.hierarchy, '-')}" for part in path)


SUBJECT = _Target(q("dc", "subject"), RDF_BAG, q("resnetDesktop", "addedSubject"), None)
HIERARCHICAL = _Target(q("lr", "hierarchicalSubject"), RDF_BAG,
                       q("resnetDesktop", "addedHierarchicalSubject"), "|",
                       q("resnetDesktop", "seededHierarchicalSubject"))
TAGS_LIST = _Target(q("digiKam", "TagsList"), RDF_SEQ, q("resnetDesktop", "addedTagsList"), "/",
                    q("resnetDesktop", "seededTagsList"))
TARGETS = (SUBJECT, HIERARCHICAL, TAGS_LIST)


def _descriptions(doc: XmpDocument) -> list[etree._Element]:
    found = doc.rdf.findall(RDF_DESCRIPTION)
    if not found:
        found = [etree.SubElement(doc.rdf, RDF_DESCRIPTION, {q("rdf", "about"): ""})]
    return found


class _Properties:
    """The properties of a sidecar's ``rdf:Description`` elements, read and written by name."""

    def __init__(self, doc: XmpDocument) -> None:
        self.descriptions = _descriptions(doc)

    def _find(self, tag: str) -> tuple[etree._Element, etree._Element | None]:
        """(the Description holding ``tag``, its element, or None for attribute form)."""
        for desc in self.descriptions:
            element = desc.find(tag)
            if element is not None:
                return desc, element
            if tag in desc.attrib:
                return desc, None
        return self.descriptions[0], None

    def values(self, tag: str | None) -> list[str]:
        if tag is None:
            return []
        desc, element = self._find(tag)
        if element is None:
            value = desc.attrib.get(tag)
            return [value] if value else []
        container = next((child for child in element if is_element(child)), None)
        if container is None:
            text = (element.text or "").strip()
            return [text] if text else []
        return [li.text or "" for li in container.findall(RDF_LI)]

    def set_list(self, tag: str, container: str, values: list[str]) -> None:
        """Make property ``tag`` hold ``values``, keeping its container type and the attributes
        of the items that stay."""
        desc, element = self._find(tag)
        if element is None:
            desc.attrib.pop(tag, None)
        else:
            bag = next((child for child in element if is_element(child)), None)
            if values and bag is not None and bag.tag in (RDF_BAG, RDF_SEQ, RDF_ALT):
                self._refill(element, bag, values)
                return
            remove(desc, element)
        if values:
            element = new_property(desc, tag)
            bag = etree.SubElement(element, container)
            for value in values:
                etree.SubElement(bag, RDF_LI).text = value
            place(desc, element)

    @staticmethod
    def _refill(element: etree._Element, bag: etree._Element, values: list[str]) -> None:
        existing: dict[str, etree._Element] = {}
        for li in bag.findall(RDF_LI):
            existing.setdefault(li.text or "", li)
            bag.remove(li)
        if not len(bag):
            bag.text = None
        for value in values:
            li = existing.pop(value, None)
            if li is None:
                li = etree.Element(RDF_LI)
                li.text = value
            li.tail = None
            bag.append(li)
        depth = depth_of(bag)
        etree.indent(bag, space=" ", level=depth)
        element.text = "\n" + " " * depth
        bag.tail = "\n" + " " * (depth - 1)

    def set_text(self, tag: str, value: str | None) -> None:
        desc, element = self._find(tag)
        if element is None:
            desc.attrib.pop(tag, None)
        else:
            remove(desc, element)
        if value:
            element = new_property(desc, tag)
            element.text = value
            place(desc, element)


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
    props = _Properties(parse_xmp(data, name))
    lists = [tuple(props.values(t.tag)) for t in TARGETS]
    added = [tuple(props.values(t.added_tag)) for t in TARGETS]
    model = props.values(APP_MODEL)
    return SidecarKeywords(lists[0], lists[1], lists[2], (added[0], added[1], added[2]),
                           model[0] if model else None)


@dataclass
class _ListState:
    """One keyword list as found: its values, and those this app added or seeded."""

    current: list[str]
    added: list[str]
    seeded: list[str]

    @property
    def users(self) -> list[str]:
        """The values a person or another program put there."""
        return [v for v in self.current if v not in self.added and v not in self.seeded]


def _user_keywords(target: _Target, other: _Target, states: dict[_Target, _ListState],
                   ) -> list[str]:
    """The user's keywords as ``target`` writes them: the other hierarchical list's paths with
    ``target``'s separator, then the plain keywords that are no part of a path."""
    assert target.hierarchy is not None and other.hierarchy is not None
    paths = [v.replace(other.hierarchy, target.hierarchy) for v in states[other].users]
    parts = {part for path in paths + states[target].users
             for part in path.split(target.hierarchy)}
    plain = [v for v in states[SUBJECT].users if v not in parts]
    return list(dict.fromkeys(paths + plain))


def merge_keywords(existing: bytes | None, keywords: Sequence[str], *, model: str | None = None,
                   name: str = "sidecar", paths: Sequence[Sequence[str]] = ()) -> bytes | None:
    """The sidecar with this app's keywords replaced by ``keywords``; None if nothing changes.

    ``existing`` None means there is no sidecar yet (None is returned when ``keywords`` is
    empty: no empty sidecar is created). Raises
    :class:`~resnet_desktop.core.sidecars.xmp_document.XmpError` for a sidecar that is not
    XMP. Control characters in ``keywords`` and ``model`` become spaces. ``paths`` are the
    keywords as category paths for the hierarchical lists; empty: each keyword on its own.
    """
    keywords = list(dict.fromkeys(k for k in (clean_text(k) for k in keywords) if k))
    tree = [cleaned for cleaned in (tuple(clean_text(p) for p in path) for path in paths)
            if cleaned and all(cleaned)] or [(k,) for k in keywords]
    model = clean_text(model) if model else None
    if existing is None or not existing.strip():
        if not keywords:
            return None
        doc = new_xmp(("dc", "lr", "digiKam", "resnetDesktop"))
    else:
        doc = parse_xmp(existing, name)
    props = _Properties(doc)
    states = {t: _ListState(props.values(t.tag), props.values(t.added_tag),
                            props.values(t.seeded_tag)) for t in TARGETS}
    changes: list[tuple[str, str, list[str]]] = []
    added_now: dict[_Target, list[str]] = {}
    for target in TARGETS:
        state = states[target]
        desired = list(dict.fromkeys(target.path_value(p) for p in tree)) \
            if target.hierarchy is not None else [target.value(k) for k in keywords]
        dropped = set(state.added) - set(desired)
        final = [v for v in state.current if v not in dropped]
        seeds: list[str] = []
        if target.seeded_tag is not None and not state.users:
            # A list this app creates, or holds alone: it carries the user's keywords too.
            other = TAGS_LIST if target is HIERARCHICAL else HIERARCHICAL
            seeds = _user_keywords(target, other, states) if desired else []
            final = [v for v in final if v not in state.seeded or v in seeds]
            final = [s for s in seeds if s not in final] + final
            seeds = [s for s in seeds if s not in desired]
        final += [v for v in desired if v not in final]
        changes.append((target.tag, target.container, final))
        added_now[target] = [v for v in desired if v not in state.current or v in state.added]
        changes.append((target.added_tag, RDF_BAG, added_now[target]))
        if target.seeded_tag is not None:
            changes.append((target.seeded_tag, RDF_BAG, seeds))
    changed = False
    for tag, container, values in changes:
        if values != props.values(tag):
            props.set_list(tag, container, values)
            changed = True
    wanted_model = model if model and any(added_now.values()) else None
    if props.values(APP_MODEL) != ([wanted_model] if wanted_model else []):
        props.set_text(APP_MODEL, wanted_model)
        changed = True
    if not changed:
        return None
    if existing is None or not existing.strip():
        etree.indent(doc.root, space=" ")
    return doc.to_bytes()

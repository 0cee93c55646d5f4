"""An XMP packet parsed safely and written back with every byte outside the root element kept.

**Parsing** uses lxml with DTDs refused at the parser: no DTD is loaded, no entity is expanded,
nothing is fetched from the network, nesting deeper than libxml2's limit (256) is an error
rather than a recursion, and a document with a DOCTYPE is refused whatever its encoding.

**Writing** keeps the text before and after the root element (the XML declaration, the
``<?xpacket?>`` header and trailer with their padding, comments, processing instructions) as
it was, byte for byte, and serialises the root with lxml, which keeps comments and processing
instructions inside it, every namespace prefix as the file declared it, and attribute order.
The file's own encoding is kept (a BOM, UTF-16, an ``ISO-8859-1`` declaration); under a
declaration of a non-Unicode encoding, which XMP readers ignore, the root is written in ASCII
with character references, so every reader sees the same letters. Namespaces belong to each
document (lxml's ``nsmap``): nothing is registered process-wide, so threads never interfere.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from lxml import etree

from resnet_desktop import __version__
from resnet_desktop.core.foundation.errors import ResNetDesktopError

APP_NS = "http://ns.resnet-desktop.app/xmp/1.0/"
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "resnetDesktop": APP_NS,
}


def q(prefix: str, name: str) -> str:
    """The ``{uri}name`` form of ``prefix:name`` for the namespaces in :data:`NAMESPACES`."""
    return f"{{{NAMESPACES[prefix]}}}{name}"


RDF_RDF, RDF_DESCRIPTION, RDF_LI = q("rdf", "RDF"), q("rdf", "Description"), q("rdf", "li")
RDF_BAG, RDF_SEQ, RDF_ALT, RDF_ABOUT = q("rdf", "Bag"), q("rdf", "Seq"), q("rdf", "Alt"), \
    q("rdf", "about")
X_XMPMETA = q("x", "xmpmeta")

_PACKET_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TRAILER = '\n<?xpacket end="w"?>\n'

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"))
# XML 1.0 Appendix F: how "<?" looks in UTF-16 without a byte order mark.
_BOMLESS = ((b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"))
# Characters XML 1.0 cannot carry at all, plus the other C0/C1 controls, DEL and the
# non-characters: none belongs in a keyword.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
# Markup in a well-formed document; a literal "<" can only start one of these.
_MARKUP = re.compile(r"<(?:!--.*?-->|\?.*?\?>|!\[CDATA\[.*?\]\]>|/[^>]*>"
                     r"|[^!?/](?:[^>\"']|\"[^\"]*\"|'[^']*')*>)", re.DOTALL)


class XmpError(ResNetDesktopError):
    """A sidecar cannot be merged (not XMP, too large, not a file) or written; it was left
    unchanged."""


def clean_text(text: str) -> str:
    """``text`` with control characters and non-characters replaced by spaces, and runs of
    whitespace collapsed: a label from a custom model can always be written as XML."""
    return " ".join(_NOT_TEXT.sub(" ", text).split())


@dataclass
class XmpDocument:
    """A parsed packet: the root element to edit, and what surrounds it, kept as it was."""

    root: etree._Element
    rdf: etree._Element
    prolog: str = _PACKET_HEADER
    epilog: str = _PACKET_TRAILER
    bom: bytes = b""
    codec: str = "utf-8"

    def to_bytes(self) -> bytes:
        body = etree.tostring(self.root, encoding="unicode", with_tail=False)
        # XMP is Unicode only, and readers (exiftool, Exiv2) take other declarations as UTF-8:
        # under one, the root is written in ASCII with character references, which reads the
        # same both ways.
        body_codec = self.codec if self.codec.startswith("utf") else "ascii"
        return (self.bom + self.prolog.encode(self.codec)
                + body.encode(body_codec, "xmlcharrefreplace") + self.epilog.encode(self.codec))


def _parser() -> etree.XMLParser:
    # A parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, load_dtd=False, dtd_validation=False,
                           no_network=True, huge_tree=False, strip_cdata=False,
                           remove_blank_text=False, remove_comments=False, remove_pis=False,
                           collect_ids=False)


def _decode(data: bytes, declared: str | None, name: str) -> tuple[bytes, str, str]:
    """(the byte order mark, the Python codec, the text without the mark)."""
    bom, codec = next(((b, c) for b, c in _BOMS if data.startswith(b)), (b"", None))
    codec = codec or next((c for start, c in _BOMLESS if data.startswith(start)), None)
    if codec is None:
        try:
            codec = codecs.lookup(declared or "utf-8").name
        except LookupError:
            raise XmpError(f"{name}: is in an unknown encoding ({declared}); "
                           "left unchanged") from None
    try:
        return bom, codec, data[len(bom):].decode(codec)
    except UnicodeDecodeError:
        raise XmpError(f"{name}: is not valid {codec} text; left unchanged") from None


def _root_span(text: str, name: str) -> tuple[int, int]:
    """Where the root element starts and ends in a document lxml found well-formed."""
    depth, start = 0, -1
    for match in _MARKUP.finditer(text):
        token = match.group()
        if token.startswith(("<!", "<?")):
            continue
        if token.startswith("</"):
            depth -= 1
        else:
            if start < 0:
                start = match.start()
            if not token.endswith("/>"):
                depth += 1
        if start >= 0 and depth == 0:
            return start, match.end()
    raise XmpError(f"{name}: the end of its root element cannot be found; left unchanged")


def _one_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def parse_xmp(data: bytes, name: str = "sidecar") -> XmpDocument:
    """Parse a sidecar; :class:`XmpError` (one line, naming ``name``) when it is not XMP."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmpError(f"{name}: is not valid XML ({_one_line(exc)}); left unchanged") \
            from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmpError(f"{name}: has a DOCTYPE, which XMP does not use; left unchanged")
    bom, codec, text = _decode(data, docinfo.encoding, name)
    start, end = _root_span(text, name)
    if root.tag == RDF_RDF:
        rdf = root
    else:
        rdf = root.find(RDF_RDF)
        if rdf is None:
            if root.tag != X_XMPMETA:
                raise XmpError(f"{name}: is XML but not XMP (its root is {root.tag}); "
                               "left unchanged")
            rdf = etree.SubElement(root, RDF_RDF)
    return XmpDocument(root, rdf, text[:start], text[end:], bom, codec)


def new_xmp(declare: tuple[str, ...] = ()) -> XmpDocument:
    """An empty packet whose ``rdf:Description`` declares the prefixes in ``declare``."""
    root = etree.Element(X_XMPMETA, {q("x", "xmptk"): f"resnet-desktop {__version__}"},
                         nsmap={"x": NAMESPACES["x"]})
    rdf = etree.SubElement(root, RDF_RDF, nsmap={"rdf": NAMESPACES["rdf"]})
    etree.SubElement(rdf, RDF_DESCRIPTION, {RDF_ABOUT: ""},
                     nsmap={prefix: NAMESPACES[prefix] for prefix in declare})
    return XmpDocument(root, rdf)


def is_element(node: etree._Element) -> bool:
    """False for comments and processing instructions, which lxml lists among children."""
    return isinstance(node.tag, str)


def depth_of(element: etree._Element) -> int:
    return sum(1 for _ in element.iterancestors())


def new_property(parent: etree._Element, tag: str) -> etree._Element:
    """A new child of ``parent``, appended last (then indent it with :func:`place`), with the
    prefix the document already uses for its namespace, or else the customary prefix declared
    on the element itself."""
    uri = tag[1:].partition("}")[0]
    nsmap = None
    if uri not in parent.nsmap.values():
        prefix = next(p for p, u in NAMESPACES.items() if u == uri)
        nsmap = {prefix: uri}
    return etree.SubElement(parent, tag, nsmap=nsmap)


def place(parent: etree._Element, child: etree._Element) -> None:
    """Indent ``child`` (just appended to ``parent``) like a hand-formatted file."""
    depth = depth_of(parent)
    etree.indent(child, space=" ", level=depth + 1)
    inner, outer = "\n" + " " * (depth + 1), "\n" + " " * depth
    siblings = list(parent)
    if len(siblings) > 1:
        last = siblings[-2]
        child.tail = last.tail if last.tail is not None and not last.tail.strip() else outer
        last.tail = inner
    else:
        if not (parent.text or "").strip():
            parent.text = inner
        child.tail = outer


def remove(parent: etree._Element, child: etree._Element) -> None:
    """Remove ``child``, leaving the whitespace around its siblings as it was."""
    siblings = list(parent)
    index = siblings.index(child)
    if index == len(siblings) - 1 and index > 0:
        siblings[index - 1].tail = child.tail
    parent.remove(child)
    if not len(parent) and not (parent.text or "").strip():
        parent.text = None

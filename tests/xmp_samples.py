"""Sidecars as other tools write them, and what merging into them must keep."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from resnet_desktop.core.sidecars.xmp import APP_NS, NAMESPACES

DIGIKAM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:acme="http://example.com/acme/1.0/"
   xmp:Rating="4"
   exif:DateTimeOriginal="2021-07-14T10:00:00"
   acme:flag="on">
   <dc:title>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">Beach at sunset – été</rdf:li>
    </rdf:Alt>
   </dc:title>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>holiday</rdf:li>
     <rdf:li>tabby</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Places/Paris</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Places|Paris</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <acme:nested rdf:parseType="Resource">
    <acme:depth>1</acme:depth>
   </acme:nested>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dtx="http://example.org/darktable-extra/"
   xmp:Rating="1"
   xmpMM:DerivedFrom="IMG_1.jpg"
   darktable:import_timestamp="63800000000000000"
   darktable:xmp_version="5"
   darktable:history_end="1"
   dtx:note="kept">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1"
      darktable:params="0000"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

_OURS = {f"{{{NAMESPACES[p]}}}{n}" for p, n in (("dc", "subject"), ("lr", "hierarchicalSubject"),
                                               ("digiKam", "TagsList"))}


def foreign(data: bytes | str) -> Counter:
    """Every element and attribute outside the keyword lists and this app's namespace, with
    its path, attributes and text: what merging must keep."""
    root = ET.fromstring(data.encode() if isinstance(data, str) else data)
    found: Counter = Counter()

    def walk(element: ET.Element, path: str) -> None:
        if element.tag in _OURS or element.tag.startswith(f"{{{APP_NS}}}"):
            return
        here = f"{path}/{element.tag}"
        found[(here, tuple(sorted(element.attrib.items())), (element.text or "").strip())] += 1
        for child in element:
            walk(child, here)

    walk(root, "")
    return found


def written(folder: Path, data: bytes | str, name: str = "x.jpg.xmp") -> Path:
    """``data`` as a sidecar file, for exiftool to read."""
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path

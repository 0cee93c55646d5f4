"""Issue 12 #1: keywords already in a sidecar stay visible in darktable and digiKam, which read
the hierarchical lists first, when this app adds those lists; re-tagging keeps them in step."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last
from resnet_desktop.core.sidecars.xmp import SidecarChange, merge_keywords, write_sidecars

DARKTABLE_TREE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
   darktable:xmp_version="5">
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Rome</rdf:li>
     <rdf:li>Trips</rdf:li>
     <rdf:li>holiday</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Trips|Rome</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def merge_file(path: Path, keywords: list[str]) -> None:
    merged = merge_keywords(path.read_bytes(), keywords, model="m", name=path.name)
    assert merged is not None
    path.write_bytes(merged)


def same_members(found: dict[str, list[str]], expected: dict[str, list[str]]) -> bool:
    return {k: Counter(v) for k, v in found.items()} == {k: Counter(v) for k, v in
                                                          expected.items()}


def test_a_plain_keyword_written_by_exiftool_seeds_both_hierarchical_lists(tmp_path, exiftool):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    exiftool.write(sidecar, "-XMP-dc:Subject=holiday")
    merge_file(sidecar, ["tabby"])
    assert exiftool.keywords(sidecar) == {
        "subject": ["holiday", "tabby"],
        "hierarchical": ["holiday", "ImageNet|tabby"],
        "tags_list": ["holiday", "ImageNet/tabby"]}
    assert exiftool.warnings(sidecar) == []


def test_a_darktable_tree_seeds_digikams_list_with_its_paths(tmp_path, exiftool):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_text(DARKTABLE_TREE, encoding="utf-8")
    before = exiftool.foreign(sidecar)
    merge_file(sidecar, ["tabby"])
    assert exiftool.keywords(sidecar) == {
        "subject": ["Rome", "Trips", "holiday", "tabby"],
        "hierarchical": ["Trips|Rome", "ImageNet|tabby"],
        "tags_list": ["Trips/Rome", "holiday", "ImageNet/tabby"]}
    assert exiftool.foreign(sidecar) == before
    assert exiftool.warnings(sidecar) == []


def test_a_digikam_tree_seeds_the_lightroom_list(tmp_path, exiftool):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    exiftool.write(sidecar, "-XMP-dc:Subject=Paris", "-XMP-digiKam:TagsList=Places/Paris")
    merge_file(sidecar, ["tabby"])
    assert exiftool.keywords(sidecar) == {
        "subject": ["Paris", "tabby"],
        "hierarchical": ["Places|Paris", "ImageNet|tabby"],
        "tags_list": ["Places/Paris", "ImageNet/tabby"]}


def test_retagging_keeps_seeds_in_step_and_clearing_leaves_the_users_own(tmp_path, exiftool):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    exiftool.write(sidecar, "-XMP-dc:Subject=holiday", "-XMP-xmp:Rating=3")
    original = exiftool.fields(sidecar)
    merge_file(sidecar, ["tabby"])
    exiftool.write(sidecar, "-XMP-dc:Subject+=beach")
    merge_file(sidecar, ["lynx"])
    assert same_members(exiftool.keywords(sidecar), {
        "subject": ["holiday", "beach", "lynx"],
        "hierarchical": ["holiday", "beach", "ImageNet|lynx"],
        "tags_list": ["holiday", "beach", "ImageNet/lynx"]})
    exiftool.write(sidecar, "-XMP-dc:Subject-=holiday")
    merge_file(sidecar, ["lynx"])
    assert same_members(exiftool.keywords(sidecar), {
        "subject": ["beach", "lynx"], "hierarchical": ["beach", "ImageNet|lynx"],
        "tags_list": ["beach", "ImageNet/lynx"]})
    exiftool.write(sidecar, "-XMP-dc:Subject+=holiday")
    merge_file(sidecar, [])
    cleared = exiftool.fields(sidecar)
    assert cleared == original | {"XMP-dc:Subject": ["beach", "holiday"]}
    assert exiftool.warnings(sidecar) == []


def test_a_list_the_user_keeps_is_not_seeded(tmp_path, exiftool):
    """A hierarchical list someone else curates is theirs: only this app's labels change."""
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    exiftool.write(sidecar, "-XMP-dc:Subject=holiday", "-XMP-dc:Subject=Rome",
                   "-XMP-lr:HierarchicalSubject=Trips|Rome", "-XMP-digiKam:TagsList=Trips/Rome")
    merge_file(sidecar, ["tabby"])
    assert exiftool.keywords(sidecar) == {
        "subject": ["holiday", "Rome", "tabby"],
        "hierarchical": ["Trips|Rome", "ImageNet|tabby"],
        "tags_list": ["Trips/Rome", "ImageNet/tabby"]}


def test_undo_of_a_seeded_sidecar_restores_its_bytes(tmp_path, exiftool):
    folder = tmp_path / "photos"
    folder.mkdir()
    sidecar = folder / "IMG_1.jpg.xmp"
    exiftool.write(sidecar, "-XMP-dc:Subject=holiday")
    before = sidecar.read_bytes()
    with UndoJournal.start(folder) as journal:
        report = write_sidecars([SidecarChange(folder / "IMG_1.jpg", sidecar, ("tabby",))],
                                journal, model="m")
    assert report.merged == 1
    assert exiftool.keywords(sidecar)["tags_list"] == ["holiday", "ImageNet/tabby"]
    undo_last(folder)
    assert sidecar.read_bytes() == before

"""XMP sidecars: merged into digiKam- and darktable-style files without losing a field,
re-tagging replaces only this app's keywords, and Undo restores every byte."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from xmp_samples import DARKTABLE, DIGIKAM, foreign, written

from resnet_desktop.core.batch.run import BatchRecord
from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.sidecars.undo_journal import (
    UndoError,
    UndoJournal,
    undo_journal,
    undo_last,
    undoable_runs,
)
from resnet_desktop.core.sidecars.xmp import (
    APP_NS,
    NAMESPACES,
    SidecarChange,
    SidecarNaming,
    XmpError,
    apply_change,
    merge_keywords,
    plan_sidecars,
    read_keywords,
    sidecar_path,
    write_sidecars,
)


def test_a_new_sidecar_holds_the_three_keyword_lists(tmp_path, exiftool):
    data = merge_keywords(None, ["tabby", "tiger cat"], model="resnet50-v2-7")
    path = written(tmp_path, data)
    assert exiftool.keywords(path) == {
        "subject": ["tabby", "tiger cat"],
        "hierarchical": ["ImageNet|tabby", "ImageNet|tiger cat"],
        "tags_list": ["ImageNet/tabby", "ImageNet/tiger cat"]}
    assert exiftool.warnings(path) == []
    assert data.startswith('<?xpacket begin="\ufeff"'.encode())
    assert data.rstrip().endswith(b'<?xpacket end="w"?>')
    keywords = read_keywords(data)
    assert keywords.subject == ("tabby", "tiger cat")
    assert keywords.hierarchical == ("ImageNet|tabby", "ImageNet|tiger cat")
    assert keywords.tags_list == ("ImageNet/tabby", "ImageNet/tiger cat")
    assert keywords.model == "resnet50-v2-7"
    root = ET.fromstring(data)
    rdf = NAMESPACES["rdf"]
    assert root.find(f".//{{{NAMESPACES['dc']}}}subject/{{{rdf}}}Bag") is not None
    assert root.find(f".//{{{NAMESPACES['digiKam']}}}TagsList/{{{rdf}}}Seq") is not None
    assert b"xmlns:digiKam=" in data and b"xmlns:lr=" in data
    assert merge_keywords(None, []) is None, "no empty sidecar is created"


def test_merging_into_a_digikam_sidecar_keeps_every_foreign_field(tmp_path, exiftool):
    merged = merge_keywords(DIGIKAM.encode(), ["tabby", "tiger cat"], model="m")
    path = written(tmp_path, merged)
    assert exiftool.foreign(path) == exiftool.foreign(written(tmp_path, DIGIKAM, "old.xmp"))
    assert exiftool.keywords(path) == {
        "subject": ["holiday", "tabby", "tiger cat"],
        "hierarchical": ["Places|Paris", "ImageNet|tabby", "ImageNet|tiger cat"],
        "tags_list": ["Places/Paris", "ImageNet/tabby", "ImageNet/tiger cat"]}
    assert exiftool.warnings(path) == []
    assert foreign(merged) == foreign(DIGIKAM)
    keywords = read_keywords(merged)
    assert keywords.subject == ("holiday", "tabby", "tiger cat")
    assert keywords.added[0] == ("tiger cat",), "tabby was there before: it is not ours"
    assert keywords.tags_list == ("Places/Paris", "ImageNet/tabby", "ImageNet/tiger cat")
    assert keywords.hierarchical == ("Places|Paris", "ImageNet|tabby", "ImageNet|tiger cat")
    text = merged.decode()
    assert text.startswith('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n')
    assert text.endswith('\n<?xpacket end="w"?>\n')
    assert 'xml:lang="x-default">Beach at sunset – été<' in text
    assert "xmlns:acme=" in text and "xmlns:exif=" in text


def test_retagging_replaces_only_this_apps_keywords(tmp_path, exiftool):
    first = merge_keywords(DIGIKAM.encode(), ["tabby", "tiger cat"], model="m")
    second = merge_keywords(first, ["lynx"], model="m")
    assert exiftool.keywords(written(tmp_path, second)) == {
        "subject": ["holiday", "tabby", "lynx"], "hierarchical": ["Places|Paris", "ImageNet|lynx"],
        "tags_list": ["Places/Paris", "ImageNet/lynx"]}
    keywords = read_keywords(second)
    assert keywords.subject == ("holiday", "tabby", "lynx")
    assert keywords.tags_list == ("Places/Paris", "ImageNet/lynx")
    assert keywords.hierarchical == ("Places|Paris", "ImageNet|lynx")
    assert keywords.added == (("lynx",), ("ImageNet|lynx",), ("ImageNet/lynx",))
    assert foreign(second) == foreign(DIGIKAM)
    cleared = merge_keywords(second, [], model="m")
    original = read_keywords(DIGIKAM.encode())
    assert read_keywords(cleared) == original
    assert APP_NS.encode() not in cleared
    assert foreign(cleared) == foreign(DIGIKAM)
    assert (exiftool.fields(written(tmp_path, cleared))
            == exiftool.fields(written(tmp_path, DIGIKAM, "old.xmp")))


def test_a_keyword_the_user_removed_or_added_by_hand_is_respected(tmp_path, exiftool):
    ours = merge_keywords(None, ["tabby", "lynx"], model="m")
    edited = ours.replace(b"<rdf:li>lynx</rdf:li>", b"<rdf:li>my cat</rdf:li>", 1)
    again = merge_keywords(edited, ["tabby"], model="m")
    assert read_keywords(again).subject == ("tabby", "my cat")
    assert exiftool.keywords(written(tmp_path, again)) == {
        "subject": ["tabby", "my cat"], "hierarchical": ["my cat", "ImageNet|tabby"],
        "tags_list": ["my cat", "ImageNet/tabby"]}, "lists this app holds alone follow along"


def test_the_same_keywords_again_change_nothing():
    merged = merge_keywords(DIGIKAM.encode(), ["tabby", "lynx"], model="m")
    assert merge_keywords(merged, ["tabby", "lynx"], model="m") is None
    assert merge_keywords(DIGIKAM.encode(), [], model="m") is None


def test_darktable_attribute_form_is_kept(tmp_path, exiftool):
    merged = merge_keywords(DARKTABLE.encode(), ["espresso"], model="m")
    path = written(tmp_path, merged)
    assert exiftool.foreign(path) == exiftool.foreign(written(tmp_path, DARKTABLE, "old.xmp"))
    assert exiftool.keywords(path) == {"subject": ["espresso"],
                                       "hierarchical": ["ImageNet|espresso"],
                                       "tags_list": ["ImageNet/espresso"]}
    assert exiftool.warnings(path) == []
    assert foreign(merged) == foreign(DARKTABLE)
    text = merged.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<x:xmpmeta')
    assert 'darktable:xmp_version="5"' in text and 'darktable:operation="exposure"' in text
    assert 'dtx:note="kept"' in text, "a namespace nobody registered keeps its prefix"
    assert read_keywords(merged).subject == ("espresso",)


def test_attribute_form_keyword_properties_are_read_and_merged(tmp_path, exiftool):
    attr = DARKTABLE.replace('dtx:note="kept"', 'dtx:note="kept"\n   '
                             'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:subject="mine"')
    merged = merge_keywords(attr.encode(), ["espresso"], model="m")
    assert read_keywords(merged).subject == ("mine", "espresso")
    path = written(tmp_path, merged)
    assert exiftool.keywords(path) == {
        "subject": ["mine", "espresso"], "hierarchical": ["mine", "ImageNet|espresso"],
        "tags_list": ["mine", "ImageNet/espresso"]}
    assert exiftool.warnings(path) == []


@pytest.mark.parametrize("content, reason", [
    (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not valid XML"),
    ("<x:xmpmeta xmlns:x='adobe:ns:meta/'>é</x:xmpmeta>".encode("latin-1"), "not valid XML"),
    (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "DOCTYPE"),
    (b"<html><body/></html>", "not XMP"),
])
def test_a_sidecar_that_is_not_xmp_is_left_alone(tmp_path, content, reason):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_bytes(content)
    journal = UndoJournal.start(tmp_path, tmp_path / "journals")
    with pytest.raises(XmpError, match=reason):
        apply_change(SidecarChange(tmp_path / "IMG_1.jpg", sidecar, ("cat",)), journal)
    journal.close()
    assert sidecar.read_bytes() == content
    assert journal.entries == 0


def test_sidecar_names_and_collisions():
    image = Path("/p/IMG_1.jpg")
    assert sidecar_path(image) == Path("/p/IMG_1.jpg.xmp")
    assert sidecar_path(image, "append") == Path("/p/IMG_1.jpg.xmp")
    assert sidecar_path(image, SidecarNaming.REPLACE) == Path("/p/IMG_1.xmp")
    top = (Prediction(0, "cat", 0.9), Prediction(1, "dog", 0.05))
    records = [BatchRecord(name, Path("/p") / name, "m", top)
               for name in ("IMG_1.jpg", "IMG_1.png", "IMG_2.jpg")]
    records.append(BatchRecord("bad.jpg", Path("/p/bad.jpg"), "m", error="broken"))
    changes, preview = plan_sidecars(records, 0.5, "replace")
    assert [c.sidecar.name for c in changes] == ["IMG_1.xmp", "IMG_2.xmp"]
    assert preview.files == 2 and preview.keywords == Counter({"cat": 2})
    assert "IMG_1.png" in preview.skipped[0]
    changes, preview = plan_sidecars(records, 0.5, "append")
    assert len(changes) == 3 and not preview.skipped
    assert preview.lines()[0].startswith("3 sidecar file(s) (IMG_1.jpg.xmp naming): 3 new")


def test_write_then_undo_restores_every_sidecar_exactly(tmp_path, exiftool):
    folder = tmp_path / "photos"
    folder.mkdir()
    existing = folder / "a.jpg.xmp"
    existing.write_text(DIGIKAM, encoding="utf-8")
    existing.chmod(0o640)
    os.utime(existing, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    empty = folder / "c.jpg.xmp"
    empty.write_bytes(b"")
    before = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
              for p in folder.iterdir()}
    top = (Prediction(0, "tabby", 0.8),)
    records = [BatchRecord(n, folder / n, "m", top) for n in ("a.jpg", "b.jpg", "c.jpg")]
    changes, preview = plan_sidecars(records, 0.5)
    assert (preview.files, preview.existing, preview.created) == (3, 2, 1)
    with UndoJournal.start(folder) as journal:
        report = write_sidecars(changes, journal, model="m")
    assert (report.created, report.merged, report.failed) == (1, 2, [])
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640, "the file's mode is kept"
    assert read_keywords(existing.read_bytes()).subject == ("holiday", "tabby")
    assert read_keywords((folder / "b.jpg.xmp").read_bytes()).subject == ("tabby",)
    assert foreign(existing.read_bytes()) == foreign(DIGIKAM)
    assert exiftool.keywords(existing)["tags_list"] == ["Places/Paris", "ImageNet/tabby"]
    for name, subject in (("a.jpg.xmp", ["holiday", "tabby"]), ("b.jpg.xmp", ["tabby"]),
                          ("c.jpg.xmp", ["tabby"])):
        assert exiftool.keywords(folder / name)["subject"] == subject
        assert exiftool.warnings(folder / name) == []

    undone = undo_last(folder)
    assert (undone.restored, undone.removed, undone.conflicts) == (2, 1, [])
    after = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
             for p in folder.iterdir()}
    assert after == before
    with pytest.raises(UndoError, match="nothing to undo"):
        undo_last(folder)


def test_undo_takes_runs_back_one_at_a_time(tmp_path, exiftool):
    folder = tmp_path / "p"
    folder.mkdir()
    image = folder / "x.jpg"
    sidecar = folder / "x.jpg.xmp"
    for keywords in (("cat",), ("dog",)):
        with UndoJournal.start(folder) as journal:
            apply_change(SidecarChange(image, sidecar, keywords), journal, model="m")
    assert undoable_runs(folder) == 2
    assert exiftool.keywords(sidecar)["subject"] == ["dog"]
    undo_last(folder)
    assert exiftool.keywords(sidecar)["tags_list"] == ["ImageNet/cat"]
    undo_last(folder)
    assert not sidecar.exists()


def test_undo_leaves_a_sidecar_changed_since_alone(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    sidecar = folder / "x.jpg.xmp"
    with UndoJournal.start(folder) as journal:
        apply_change(SidecarChange(folder / "x.jpg", sidecar, ("cat",)), journal)
    sidecar.write_text("edited by digiKam afterwards")
    report = undo_last(folder)
    assert report.removed == 0 and len(report.conflicts) == 1
    assert sidecar.read_text() == "edited by digiKam afterwards"


def test_a_journaled_write_that_never_happened_undoes_cleanly(tmp_path):
    """A crash between journaling and writing: the sidecar is still as it was."""
    folder = tmp_path / "p"
    folder.mkdir()
    sidecar = folder / "x.jpg.xmp"
    sidecar.write_text(DARKTABLE)
    journal = UndoJournal.start(folder)
    journal.record(sidecar, sidecar.read_bytes(), b"never written", sidecar.stat())
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write('{"sidecar": "torn')
    journal.close()
    report = undo_journal(journal.path)
    assert report.already == 1 and not report.conflicts
    assert sidecar.read_text() == DARKTABLE


def test_journals_are_kept_in_the_data_folder(tmp_path, isolated_dirs):
    folder = tmp_path / "p"
    folder.mkdir()
    with UndoJournal.start(folder) as journal:
        apply_change(SidecarChange(folder / "x.jpg", folder / "x.jpg.xmp", ("cat",)), journal)
    assert journal.path.parent == isolated_dirs / "data" / "undo"
    with UndoJournal.start(folder) as unused:
        pass
    assert not unused.path.exists(), "a run that wrote nothing leaves no journal"

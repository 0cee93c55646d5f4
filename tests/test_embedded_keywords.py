"""Keywords written into image files: read back by exiftool, pixels untouched, undoable."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_desktop.core.sidecars.embedded import (
    EmbedError,
    can_embed,
    embed_keywords,
    read_embedded,
    write_planned_keywords,
)
from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last
from resnet_desktop.core.sidecars.xmp import SidecarChange, read_keywords, sidecar_path

KEYWORDS = ("cat", "tabby")
HIERARCHY = ("ImageNet|animal|mammal|cat", "ImageNet|animal|mammal|cat|tabby")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def chelsea(photos) -> Image.Image:
    with Image.open(photos["chelsea"]) as image:
        return image.convert("RGB")


def _save(image: Image.Image, folder: Path, name: str) -> Path:
    path = folder / name
    image.save(path, **({"quality": 90} if name.endswith(".jpg") else {}))
    return path


def test_jpeg_gets_xmp_and_iptc_keywords_pixels_unchanged_and_undo_restores(tmp_path, chelsea,
                                                                            exiftool):
    photo = _save(chelsea, tmp_path, "chelsea.jpg")
    os.chmod(photo, 0o640)
    before_sha, before_pixels = _sha(photo), _pixels(photo)
    with UndoJournal.start(tmp_path) as journal:
        assert embed_keywords(photo, KEYWORDS, HIERARCHY, journal) == "merged"
    assert exiftool.keywords(photo) == {"subject": list(KEYWORDS),
                                        "hierarchical": list(HIERARCHY), "tags_list": []}
    assert exiftool.iptc_keywords(photo) == list(KEYWORDS)
    assert exiftool.warnings(photo) == []
    assert np.array_equal(_pixels(photo), before_pixels)
    assert os.stat(photo).st_mode & 0o777 == 0o640
    assert _sha(photo) != before_sha
    report = undo_last(tmp_path)
    assert report.restored == 1
    assert _sha(photo) == before_sha


@pytest.mark.parametrize("name", ["chelsea.png", "chelsea.tif", "chelsea.webp"])
def test_png_tiff_webp_get_xmp_keywords_with_pixels_unchanged(tmp_path, chelsea, name,
                                                               exiftool):
    photo = _save(chelsea, tmp_path, name)
    before = _pixels(photo)
    with UndoJournal.start(tmp_path) as journal:
        assert embed_keywords(photo, KEYWORDS, HIERARCHY, journal) == "merged"
    keywords = exiftool.keywords(photo)
    assert keywords["subject"] == list(KEYWORDS)
    assert keywords["hierarchical"] == list(HIERARCHY)
    assert np.array_equal(_pixels(photo), before)


def test_keywords_a_person_wrote_stay_and_retagging_replaces_only_ours(tmp_path, chelsea,
                                                                       exiftool):
    photo = _save(chelsea, tmp_path, "chelsea.jpg")
    exiftool.write(photo, "-Subject=holiday", "-Keywords=holiday", "-Artist=Jane")
    with UndoJournal.start(tmp_path) as journal:
        embed_keywords(photo, ("cat", "holiday"), (), journal)
        assert embed_keywords(photo, ("dog",), (), journal) == "merged"
        assert embed_keywords(photo, ("dog",), (), journal) == "unchanged"
    found = read_embedded(photo)
    assert found.subject == ("holiday", "dog")
    assert found.iptc == ("holiday", "dog")
    assert found.added_subject == ("dog",)
    assert subprocess.run([exiftool.executable, "-s3", "-Artist", str(photo)],
                          capture_output=True, text=True, check=True).stdout.strip() == "Jane"


def test_non_ascii_keywords_reach_iptc_marked_utf8(tmp_path, chelsea, exiftool):
    photo = _save(chelsea, tmp_path, "chelsea.jpg")
    with UndoJournal.start(tmp_path) as journal:
        embed_keywords(photo, ("Katze", "café crème"), (), journal)
    assert exiftool.iptc_keywords(photo) == ["Katze", "café crème"]
    assert exiftool.warnings(photo) == []


def test_a_failed_write_leaves_the_file_byte_for_byte(tmp_path, chelsea):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    readonly = _save(chelsea, tmp_path, "readonly.jpg")
    os.chmod(readonly, 0o444)
    before = {p: p.read_bytes() for p in (broken, readonly)}
    with UndoJournal.start(tmp_path) as journal:
        for path in before:
            with pytest.raises(EmbedError, match="left unchanged") as caught:
                embed_keywords(path, KEYWORDS, HIERARCHY, journal)
            assert "\n" not in str(caught.value)
        assert journal.entries == 0
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jpg", "readonly.jpg"]


def test_heic_and_raw_files_are_not_embedded_into():
    assert can_embed(Path("a.JPG")) and can_embed(Path("b.webp")) and can_embed(Path("c.tiff"))
    assert not can_embed(Path("IMG_1.HEIC")) and not can_embed(Path("IMG_1.CR2"))
    with pytest.raises(EmbedError, match="use a sidecar"):
        embed_keywords(Path("IMG_1.heic"), KEYWORDS, (), journal=None)


def test_planned_keywords_go_into_images_and_into_sidecars_for_other_formats(tmp_path, chelsea):
    photo = _save(chelsea, tmp_path, "chelsea.jpg")
    gif = _save(chelsea, tmp_path, "chelsea.gif")
    gif_bytes = gif.read_bytes()
    paths = (("animal", "mammal", "cat"),)
    changes = [SidecarChange(p, sidecar_path(p), ("cat",), paths) for p in (photo, gif)]
    report = write_planned_keywords(tmp_path, changes, "efficientnet-lite0")
    assert (report.embedded, report.sidecars, report.failed) == (1, ["chelsea.gif"], [])
    assert read_embedded(photo).hierarchical == ("ImageNet|animal|mammal|cat",)
    assert gif.read_bytes() == gif_bytes
    assert read_keywords(sidecar_path(gif).read_bytes()).subject == ("cat",)
    undo_last(tmp_path)
    assert not sidecar_path(gif).exists() and read_embedded(photo).subject == ()


def test_an_image_with_the_longest_allowed_name_gets_its_keywords(tmp_path, chelsea, exiftool):
    """The copy written beside the image has a short name of its own, so a 255-byte image name
    is no obstacle, and a killed run's copy is one that the next run's cleaner recognises."""
    photo = _save(chelsea, tmp_path, "c" * 251 + ".jpg")
    with UndoJournal.start(tmp_path) as journal:
        assert embed_keywords(photo, KEYWORDS, HIERARCHY, journal) == "merged"
    assert exiftool.keywords(photo)["subject"] == list(KEYWORDS)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [photo.name]

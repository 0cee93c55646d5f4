"""Issue 12 #4, #6, #7, #11 (size), #19 (names): a sidecar file is read and replaced the way
exiftool would, or left alone with one message while the run goes on."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

import pytest
from xmp_samples import DIGIKAM

from resnet_desktop.core.sidecars.sidecar_files import MAX_SIDECAR_BYTES
from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last
from resnet_desktop.core.sidecars.xmp import (
    SidecarChange,
    XmpError,
    apply_change,
    write_sidecars,
)


def change(folder: Path, image: str, sidecar: str | None = None) -> SidecarChange:
    return SidecarChange(folder / image, folder / (sidecar or f"{image}.xmp"), ("tabby",))


def write(folder: Path, changes: list[SidecarChange]):
    with UndoJournal.start(folder) as journal:
        return write_sidecars(changes, journal, model="m")


def test_a_read_only_sidecar_is_skipped_and_reported(tmp_path, exiftool):
    locked = tmp_path / "a.jpg.xmp"
    locked.write_text(DIGIKAM, encoding="utf-8")
    locked.chmod(0o444)
    report = write(tmp_path, [change(tmp_path, "a.jpg"), change(tmp_path, "b.jpg")])
    assert report.failed == ["a.jpg.xmp: is read-only; skipped"]
    assert report.created == 1
    assert locked.read_text(encoding="utf-8") == DIGIKAM
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444
    assert exiftool.keywords(tmp_path / "b.jpg.xmp")["subject"] == ["tabby"]


def test_a_linked_sidecar_is_written_through_and_stays_a_link(tmp_path, exiftool):
    library = tmp_path / "library"
    library.mkdir()
    real = library / "IMG_1.xmp"
    real.write_text(DIGIKAM, encoding="utf-8")
    real.chmod(0o640)
    photos = tmp_path / "photos"
    photos.mkdir()
    link = photos / "IMG_1.jpg.xmp"
    link.symlink_to(os.path.relpath(real, photos))
    report = write(photos, [change(photos, "IMG_1.jpg")])
    assert (report.merged, report.failed) == (1, [])
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, photos)
    assert exiftool.keywords(link)["subject"] == ["holiday", "tabby"]
    assert exiftool.warnings(real) == []
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(os.listdir(library)) == ["IMG_1.xmp"], "no temporary left beside the target"
    undo_last(photos)
    assert link.is_symlink() and real.read_text(encoding="utf-8") == DIGIKAM


def test_a_link_to_nothing_is_left_alone(tmp_path):
    link = tmp_path / "IMG_1.jpg.xmp"
    link.symlink_to("elsewhere/IMG_1.xmp")
    report = write(tmp_path, [change(tmp_path, "IMG_1.jpg")])
    assert len(report.failed) == 1
    assert report.failed[0].startswith("IMG_1.jpg.xmp: is a symbolic link to a file that does "
                                       "not exist")
    assert link.is_symlink() and not (tmp_path / "elsewhere").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_merged_sidecar_keeps_its_owner_and_mode(tmp_path, exiftool):
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    sidecar.write_text(DIGIKAM, encoding="utf-8")
    os.chown(sidecar, 4321, 4322)
    sidecar.chmod(0o664)
    assert write(tmp_path, [change(tmp_path, "IMG_1.jpg")]).merged == 1
    st = sidecar.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o664)
    assert exiftool.keywords(sidecar)["subject"] == ["holiday", "tabby"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_named_like_a_sidecar_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jpg.xmp"
    os.mkfifo(fifo)
    # A writer waits for a reader: had the sidecar been opened, it would have been fed XMP.
    writer = threading.Thread(target=fifo.write_text, args=(DIGIKAM,))
    writer.start()
    try:
        with (pytest.raises(XmpError, match=r"^x\.jpg\.xmp: is a named pipe \(FIFO\)"),
              UndoJournal.start(tmp_path) as journal):
            apply_change(change(tmp_path, "x.jpg"), journal)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the pipe was not replaced by a file"
    finally:
        # The writer may not have opened its end yet: keep a reader open and drain until it has
        # written and gone (a blocking drain could end before it came, and leave it waiting).
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            while writer.is_alive():
                with contextlib.suppress(BlockingIOError):
                    os.read(reader, 65536)
                writer.join(0.05)
        finally:
            os.close(reader)


def test_a_sidecar_over_the_size_limit_is_refused(tmp_path):
    sidecar = tmp_path / "x.jpg.xmp"
    padding = " " * (MAX_SIDECAR_BYTES + 1 - len(DIGIKAM.encode()))
    sidecar.write_text(DIGIKAM.replace("<?xpacket end", padding + "<?xpacket end"),
                       encoding="utf-8")
    with (pytest.raises(XmpError, match=r"^x\.jpg\.xmp: is 16,777,217 bytes, more than a "
                        r"sidecar can be \(16 MB\); left unchanged$"),
          UndoJournal.start(tmp_path) as journal):
        apply_change(change(tmp_path, "x.jpg"), journal)


def test_a_deeply_nested_sidecar_is_one_message_and_the_run_goes_on(tmp_path, exiftool):
    nested = ("<acme:n>" * 1000) + ("</acme:n>" * 1000)
    (tmp_path / "a.jpg.xmp").write_text(
        DIGIKAM.replace("<acme:depth>1</acme:depth>", nested), encoding="utf-8")
    report = write(tmp_path, [change(tmp_path, "a.jpg"), change(tmp_path, "b.jpg")])
    assert len(report.failed) == 1 and "\n" not in report.failed[0]
    assert report.failed[0].startswith("a.jpg.xmp: is not valid XML")
    assert report.created == 1
    assert exiftool.keywords(tmp_path / "b.jpg.xmp")["subject"] == ["tabby"]


def test_an_image_name_as_long_as_allowed_still_gets_a_sidecar(tmp_path, exiftool):
    image = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".jpg.xmp")) + ".jpg"
    report = write(tmp_path, [change(tmp_path, image)])
    assert (report.created, report.failed) == (1, [])
    assert exiftool.keywords(tmp_path / f"{image}.xmp")["subject"] == ["tabby"]
    assert os.listdir(tmp_path) == [f"{image}.xmp"]

"""Atomic writes: all or nothing, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from resnet_desktop.core.foundation.atomic import (
    atomic_open,
    atomic_write_text,
    remove_stale_temporaries,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("new, half")
        raise RuntimeError("disk went away")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_new_files_get_umask_permissions_and_replaced_files_keep_theirs(tmp_path):
    old_umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o640)
        atomic_write_text(kept, "y")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640
        assert kept.read_text() == "y"
    finally:
        os.umask(old_umask)


def test_a_read_only_file_is_refused_not_replaced(tmp_path):
    locked = tmp_path / "locked.csv"
    locked.write_text("keep")
    locked.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        atomic_write_text(locked, "new")
    assert locked.read_text() == "keep"
    assert os.listdir(tmp_path) == ["locked.csv"]


def test_a_link_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to("real.csv")
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert real.read_text() == "new"


def test_a_target_with_the_longest_allowed_name_can_be_written(tmp_path):
    target = tmp_path / ("x" * os.pathconf(tmp_path, "PC_NAME_MAX"))
    atomic_write_text(target, "fits")
    assert target.read_text() == "fits"


def test_temporaries_left_by_a_killed_run_are_removed_and_nothing_else(tmp_path):
    stale = [".resnet-desktop-0123456789abcdef.tmp", ".IMG_1.jpg.xmp.k2j3h4_x.tmp",
             ".results.csv.abcdefgh.tmp"]
    kept = ["IMG_1.jpg.xmp", ".hidden.tmp", "notes.tmp", ".IMG_1.jpg.abcdefgh.tmp",
            ".resnet-desktop-0123.tmp"]
    for name in stale + kept:
        (tmp_path / name).write_text("x")
    (tmp_path / ".resnet-desktop-fedcba9876543210.tmp").mkdir()
    (tmp_path / ".photo.xmp.abcdefgh.tmp").symlink_to("IMG_1.jpg.xmp")
    sub = tmp_path / "2024"
    sub.mkdir()
    (sub / ".resnet-desktop-00000000aaaaaaaa.tmp").write_text("x")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*kept, "2024", ".resnet-desktop-fedcba9876543210.tmp", ".photo.xmp.abcdefgh.tmp"])
    assert remove_stale_temporaries(tmp_path, recursive=True) == [
        sub / ".resnet-desktop-00000000aaaaaaaa.tmp"]


@pytest.mark.skipif(os.name == "nt", reason="an open file cannot be removed on Windows anyway")
def test_a_temporary_still_being_written_is_not_removed(tmp_path):
    target = tmp_path / "IMG_1.jpg.xmp"
    with atomic_open(target) as handle:
        handle.write("whole")
        assert remove_stale_temporaries(tmp_path) == []
    assert target.read_text() == "whole"
    assert os.listdir(tmp_path) == ["IMG_1.jpg.xmp"]

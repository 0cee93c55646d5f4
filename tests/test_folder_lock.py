"""One writer per folder: the lock is held across processes and names its holder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lock_holder import HOLDER
from modelgen import colour_model
from sample_images import solid

from resnet_desktop.cli import main
from resnet_desktop.core.foundation.folder_lock import (
    DataFolderError,
    FolderBusyError,
    folder_lock,
)
from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / "photos"`` until the test ends."""
    folder = tmp_path / "photos"
    folder.mkdir()
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=os.environ.copy())
    try:
        assert process.stdout.readline() == "locked\n"
        yield folder, process
    finally:
        process.stdin.close()
        process.wait(timeout=60)
        process.stdout.close()


def test_a_second_writer_is_refused_with_the_holders_pid_and_command(holder):
    folder, process = holder
    with pytest.raises(FolderBusyError) as caught, folder_lock(folder):
        pass
    message = str(caught.value)
    assert f"process {process.pid} (resnet-desktop tag photos --xmp)" in message
    assert str(folder) in message and "wait until it has finished" in message
    assert caught.value.holder.pid == process.pid


def test_the_lock_is_free_again_once_its_holder_has_gone(holder):
    folder, process = holder
    process.stdin.close()
    assert process.wait(timeout=60) == 0
    with folder_lock(folder):
        pass


def test_other_folders_and_the_same_folder_by_another_path_are_told_apart(holder, tmp_path):
    folder, _ = holder
    other = tmp_path / "other"
    other.mkdir()
    with folder_lock(other):
        pass
    (tmp_path / "link").symlink_to(folder)
    with pytest.raises(FolderBusyError), folder_lock(tmp_path / "link"):
        pass


def test_undo_waits_for_no_one_while_a_run_writes_there(holder):
    folder, _ = holder
    with UndoJournal.start(folder) as journal:
        journal.record(folder / "x.jpg.xmp", None, b"<x/>", None)
    (folder / "x.jpg.xmp").write_bytes(b"<x/>")
    with pytest.raises(FolderBusyError):
        undo_last(folder)
    assert (folder / "x.jpg.xmp").read_bytes() == b"<x/>"


def test_an_unwritable_data_folder_is_one_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("RESNET_DESKTOP_DATA", str(blocker / "data"))
    with pytest.raises(DataFolderError, match="RESNET_DESKTOP_DATA"), folder_lock(tmp_path):
        pass
    with pytest.raises(DataFolderError, match="undo journal"):
        UndoJournal.start(tmp_path)


def test_two_tag_runs_on_one_folder_at_once_the_second_names_the_first(tmp_path):
    """Two real ``tag --xmp`` processes. The first is held mid-run without a sleep: it reports
    every file that is not an image on stderr, and once the test stops reading, the pipe fills
    and it blocks in the middle of its run, holding the lock."""
    folder = tmp_path / "photos"
    solid(folder / "a.jpg", "red")
    for i in range(2000):  # ~250 KB of error lines: far more than a pipe holds
        (folder / f"note_{i:04d}.jpg").write_text("not a photo")
    model = colour_model(tmp_path / "model")
    command = [sys.executable, "-m", "resnet_desktop", "tag", str(folder), "--model", str(model),
               "--xmp"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=os.environ.copy())
    try:
        for line in first.stderr:
            if "not a supported image" in line:  # records come only once the lock is held
                break
        second = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                env=os.environ.copy())
        assert second.returncode == 2
        assert f"is being changed by process {first.pid} (" in second.stderr
        assert "tag" in second.stderr and "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    finally:
        rest, _ = first.communicate(timeout=120)
    assert first.returncode == 0, rest[-2000:]
    assert (folder / "a.jpg.xmp").is_file()
    third = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env=os.environ.copy())
    assert third.returncode == 0, third.stderr[-2000:]


def test_tag_xmp_with_an_unwritable_data_folder_is_one_line_and_writes_nothing(
        capsys, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    solid(folder / "a.jpg", "red")
    model = colour_model(tmp_path / "model")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("RESNET_DESKTOP_DATA", str(blocker / "data"))
    code = main(["tag", str(folder), "--model", str(model), "--xmp"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("resnet-desktop: error: cannot create a lock file in the app's data "
                          f"folder {blocker / 'data'}")
    assert len(err.strip().splitlines()) == 1, err
    assert not list(folder.glob("*.xmp"))


def test_a_folder_inside_or_around_a_locked_one_is_busy_too(holder, tmp_path):
    """A recursive run on the locked folder writes into its subfolders, and one on a parent
    writes into it: either would interleave with the holder."""
    folder, process = holder
    inside = folder / "2024" / "rome"
    inside.mkdir(parents=True)
    for overlapping in (inside, tmp_path):
        with pytest.raises(FolderBusyError) as caught, folder_lock(overlapping):
            pass
        assert str(caught.value).startswith(
            f"{overlapping} overlaps {folder}, which is being changed by process {process.pid}")
    sibling = tmp_path / "photos-2"
    sibling.mkdir()
    with folder_lock(sibling):
        pass

"""Undo across runs: write order, interrupted and resumed batches, retries, the count left.

The sidecars are written by the real XMP writer under real journals; the tag runs are real runs
of the generated colour model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from modelgen import colour_model
from recording_sink import RecordingSink
from sample_images import solid

from resnet_desktop.cli import main
from resnet_desktop.core.batch.run import BatchOptions
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled
from resnet_desktop.core.operations.tag_folder import SidecarMode, TagRequest
from resnet_desktop.core.sidecars.undo_journal import (
    UndoError,
    UndoJournal,
    undo_last,
    undoable_runs,
)
from resnet_desktop.core.sidecars.xmp import SidecarChange, apply_change, read_keywords


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    for i, colour in enumerate(["red", "green", "blue"] * 2):
        solid(folder / f"img_{i}.jpg", colour)
    return folder


def test_undo_follows_the_order_of_the_writes_not_of_the_run_starts(tmp_path):
    """Two runs that overlapped: the one that started first wrote last."""
    folder = tmp_path / "p"
    folder.mkdir()
    sidecar = folder / "x.jpg.xmp"
    sidecar.write_bytes(b"")
    original = sidecar.read_bytes()
    started_first = UndoJournal.start(folder)
    started_second = UndoJournal.start(folder)
    apply_change(SidecarChange(folder / "x.jpg", sidecar, ("cat",)), started_second)
    apply_change(SidecarChange(folder / "x.jpg", sidecar, ("dog",)), started_first)
    started_first.close(finished=True)
    started_second.close(finished=True)
    assert read_keywords(sidecar.read_bytes()).subject == ("dog",)

    first = undo_last(folder)
    assert (first.restored, first.conflicts, first.remaining) == (1, [], 1)
    assert read_keywords(sidecar.read_bytes()).subject == ("cat",)
    second = undo_last(folder)
    assert (second.restored, second.conflicts, second.remaining) == (1, [], 0)
    assert sidecar.read_bytes() == original


def test_undo_after_an_interrupted_and_resumed_batch_reverts_both_runs(capsys, tmp_path,
                                                                       folder):
    model = colour_model(tmp_path / "model")
    earlier = folder / "img_0.jpg.xmp"
    cancel = CancelToken()
    request = TagRequest(folder, BatchOptions(workers=1, batch_size=1),
                         sidecars=SidecarMode.WRITE)
    with pytest.raises(Cancelled):
        Engine().tag_folder(model, "cpu", request, RecordingSink(cancel, cancel_after=2),
                            cancel=cancel)
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["img_0.jpg.xmp", "img_1.jpg.xmp"]
    assert main(["tag", str(folder), "--model", str(model), "--xmp"]) == 0
    assert len(list(folder.glob("*.xmp"))) == 6
    assert earlier.is_file()
    assert undoable_runs(folder) == 2
    capsys.readouterr()

    assert main(["tag", str(folder), "--undo"]) == 0
    out = capsys.readouterr().out
    assert "6 created sidecar(s) removed" in out and "across 2 runs" in out
    assert not list(folder.glob("*.xmp"))
    assert undoable_runs(folder) == 0


def test_an_undo_that_meets_a_changed_sidecar_stays_retryable(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    edited = folder / "a.jpg.xmp"
    with UndoJournal.start(folder) as journal:
        for name in ("a.jpg", "b.jpg"):
            apply_change(SidecarChange(folder / name, folder / f"{name}.xmp", ("cat",)), journal)
    written = edited.read_bytes()
    edited.write_text("edited in digiKam afterwards")

    report = undo_last(folder)
    assert (report.removed, len(report.conflicts), report.runs) == (1, 1, 0)
    assert edited.read_text() == "edited in digiKam afterwards"
    assert undoable_runs(folder) == 1, "the run is not marked undone while a sidecar was left"

    edited.write_bytes(written)  # the user puts back what the app wrote
    retry = undo_last(folder)
    assert (retry.removed, retry.already, retry.conflicts, retry.runs) == (1, 1, [], 1)
    assert not list(folder.glob("*.xmp"))
    with pytest.raises(UndoError, match="nothing to undo"):
        undo_last(folder)



def test_the_cli_says_how_many_more_runs_can_be_undone(capsys, tmp_path, folder):
    model = colour_model(tmp_path / "model")
    assert undoable_runs(folder) == 0
    for confidence in ("0.9", "0.0"):
        assert main(["tag", str(folder), "--model", str(model), "--xmp", "--no-skip",
                     "--min-confidence", confidence]) == 0
    assert undoable_runs(folder) == 2
    capsys.readouterr()
    assert main(["tag", str(folder), "--undo"]) == 0
    out = capsys.readouterr().out
    assert "1 more run can be undone" in out and f"resnet-desktop tag --undo {folder}" in out
    assert all(read_keywords(p.read_bytes()).subject in (("red",), ("green",), ("blue",))
               for p in folder.glob("*.xmp"))
    assert main(["tag", str(folder), "--undo"]) == 0
    assert "more run" not in capsys.readouterr().out
    assert undoable_runs(folder) == 0


def test_undo_keep_changed_leaves_the_users_edit_and_moves_on_to_the_run_before(capsys,
                                                                                tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    sidecar = folder / "x.jpg.xmp"
    for keywords in (("cat",), ("dog",)):
        with UndoJournal.start(folder) as journal:
            apply_change(SidecarChange(folder / "x.jpg", sidecar, keywords), journal)
    sidecar.write_text("edited in digiKam afterwards")

    assert main(["tag", str(folder), "--undo"]) == 1
    err = capsys.readouterr().err
    assert "changed since it was written" in err and "--keep-changed" in err
    assert undoable_runs(folder) == 2

    assert main(["tag", str(folder), "--undo", "--keep-changed"]) == 0
    assert "1 more run can be undone" in capsys.readouterr().out
    assert sidecar.read_text() == "edited in digiKam afterwards"
    assert undoable_runs(folder) == 1

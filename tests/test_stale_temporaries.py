"""Issue 12 #19: a run that writes into a folder removes the temporary files a killed run left
there (and only those); a dry run leaves the folder as it is."""

from __future__ import annotations

import os

from modelgen import colour_model
from PIL import Image

from resnet_desktop.core.batch.run import BatchOptions, BatchRecord
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.operations.tag_folder import (
    SidecarMode,
    TagRequest,
    write_planned_sidecars,
)
from resnet_desktop.core.sidecars.xmp import plan_sidecars

LEFT_BY_A_KILLED_RUN = (".a.jpg.xmp.k2j3h4_x.tmp", ".results.csv.abcdefgh.tmp",
                        ".resnet-desktop-0123456789abcdef.tmp")


def test_a_writing_run_removes_what_a_killed_run_left(tmp_path):
    folder = tmp_path / "photos"
    (folder / "2024").mkdir(parents=True)
    Image.new("RGB", (32, 32), "red").save(folder / "a.jpg")
    Image.new("RGB", (32, 32), "blue").save(folder / "2024" / "b.jpg")
    for name in LEFT_BY_A_KILLED_RUN:
        (folder / name).write_text("half")
    (folder / "2024" / ".b.jpg.xmp.abcdefgh.tmp").write_text("half")
    (folder / "notes.tmp").write_text("someone else's")
    request = TagRequest(folder, BatchOptions(top_k=1, recursive=True), min_confidence=0.0,
                         sidecars=SidecarMode.WRITE)
    Engine().tag_folder(colour_model(tmp_path / "model"), "cpu", request)
    assert sorted(os.listdir(folder)) == ["2024", "a.jpg", "a.jpg.xmp", "notes.tmp"]
    assert sorted(os.listdir(folder / "2024")) == ["b.jpg", "b.jpg.xmp"]


def test_a_dry_run_changes_nothing_in_the_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (32, 32), "red").save(folder / "a.jpg")
    for name in LEFT_BY_A_KILLED_RUN:
        (folder / name).write_text("half")
    request = TagRequest(folder, BatchOptions(top_k=1), min_confidence=0.0,
                         sidecars=SidecarMode.PREVIEW)
    Engine().tag_folder(colour_model(tmp_path / "model"), "cpu", request)
    assert sorted(os.listdir(folder)) == sorted(["a.jpg", *LEFT_BY_A_KILLED_RUN])


def test_writing_a_confirmed_plan_removes_what_a_killed_run_left(tmp_path):
    """The Batch tab's path: sidecars planned from a preview, then written."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in LEFT_BY_A_KILLED_RUN:
        (folder / name).write_text("half")
    record = BatchRecord("a.jpg", folder / "a.jpg", "colours", (Prediction(0, "red", 0.9),))
    changes, _ = plan_sidecars([record], 0.5)
    write_planned_sidecars(folder, changes, "colours")
    assert sorted(os.listdir(folder)) == ["a.jpg.xmp"]

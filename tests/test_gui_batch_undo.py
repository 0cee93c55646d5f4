"""The Batch tab's Undo: enabled only when runs of this folder can be undone, with the count;
a folder another process is writing into is one message, not a second writer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from batch_panel_helpers import TIMEOUT, model, panel, run_batch  # noqa: F401 (fixtures)
from lock_holder import HOLDER
from PySide6.QtCore import Qt
from sample_images import solid

from resnet_desktop.cli import main

pytestmark = pytest.mark.gui


@pytest.fixture
def folder(tmp_path):
    for name, colour in (("a.jpg", "red"), ("b.jpg", "green")):
        solid(tmp_path / "photos" / name, colour)
    return tmp_path / "photos"


def tag_xmp(folder, model_path, confidence: str) -> None:
    assert main(["tag", str(folder), "--model", str(model_path), "--xmp", "--no-skip",
                 "--min-confidence", confidence]) == 0


def undo(qtbot, batch_panel):
    with qtbot.waitSignal(batch_panel.sidecars_undone, timeout=TIMEOUT) as undone:
        qtbot.mouseClick(batch_panel.undo_button, Qt.MouseButton.LeftButton)
    return undone.args[0]


def test_undo_shows_how_many_runs_can_be_undone_and_counts_down(qtbot, panel, model,
                                                                folder, capsys):
    tag_xmp(folder, model, "0.9")
    tag_xmp(folder, model, "0.0")
    capsys.readouterr()
    run_batch(qtbot, panel, folder, model)
    assert panel.undo_button.isEnabled()
    assert panel.undo_button.text() == "Undo sidecars (2 runs)"
    assert undo(qtbot, panel).remaining == 1
    assert panel.undo_button.text() == "Undo sidecars (1 run)"
    assert "1 more run can be undone" in panel.status.text()
    assert undo(qtbot, panel).removed == 2
    assert not panel.undo_button.isEnabled()
    assert panel.undo_button.text() == "Undo sidecars"
    assert not list(folder.glob("*.xmp"))


def test_undo_while_another_process_writes_there_says_who(qtbot, panel, model, folder,
                                                         capsys):
    tag_xmp(folder, model, "0.5")
    run_batch(qtbot, panel, folder, model)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stdout.readline() == "locked\n"
        with qtbot.waitSignal(panel.runner.failed, timeout=TIMEOUT):
            qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
        assert f"is being changed by process {holder.pid}" in panel.error.text()
        assert len(list(folder.glob("*.xmp"))) == 2
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()
    assert panel.undo_button.isEnabled()
    assert undo(qtbot, panel).removed == 2

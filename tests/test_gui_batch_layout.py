"""The Batch tab's quieter states: idle, the file types summary and its editor, the Error
column only when a file failed, and no time left while paused."""

from __future__ import annotations

import modelgen
import pytest
from batch_panel_helpers import TIMEOUT, model, panel, run_batch  # noqa: F401 (fixtures)
from PySide6.QtCore import Qt
from sample_images import bad_folder, numbered_folder

from resnet_desktop.gui.batch.results import ERROR
from resnet_desktop.gui.batch.view import extensions_summary

pytestmark = pytest.mark.gui


def test_idle_state_says_not_started_instead_of_zero_of_one(panel):
    assert panel.progress_bar.text() == "Not started"
    assert panel.table.isColumnHidden(ERROR)


def test_file_types_show_as_a_summary_with_an_editor(qtbot, panel):
    assert panel.extensions_label.text() == extensions_summary(panel.extensions.text())
    assert panel.extensions_label.text().endswith("more")
    assert not panel.extensions.isVisible()
    qtbot.mouseClick(panel.extensions_button, Qt.MouseButton.LeftButton)
    assert panel.extensions.isVisible() and panel.extensions_button.text() == "Done"
    panel.extensions.setText("jpg, png")
    assert panel.extensions_label.text() == "jpg, png"
    qtbot.mouseClick(panel.extensions_button, Qt.MouseButton.LeftButton)
    assert not panel.extensions.isVisible()


@pytest.mark.parametrize(("text", "summary"), [
    ("", "none"), (".jpg", "jpg"), ("a, b, c, d, e", "a, b, c, d, e"),
    ("a;b;c;d;e;f;g", "a, b, c, d and 3 more")])
def test_extensions_summary(text, summary):
    assert extensions_summary(text) == summary


def test_the_error_column_appears_only_with_errors(qtbot, panel, model, tmp_path):
    run_batch(qtbot, panel, numbered_folder(tmp_path / "good", 3), model)
    assert panel.table.isColumnHidden(ERROR)
    folder, _expected = bad_folder(tmp_path / "bad")
    run_batch(qtbot, panel, folder, model)
    assert not panel.table.isColumnHidden(ERROR)
    run_batch(qtbot, panel, numbered_folder(tmp_path / "good", 3), model)
    assert panel.table.isColumnHidden(ERROR)


def test_no_time_left_while_paused(qtbot, panel, tmp_path):
    slow = tmp_path / "slow.onnx"  # a ResNet-18-shaped graph at 224 pixels: a run takes seconds
    modelgen.resnet(slow, depth=18, width=32, num_classes=3, input_size=224)
    modelgen.write_labels(tmp_path / "slow.txt", ["red", "green", "blue"])
    slow.with_suffix(".json").write_text('{"name": "Slow", "labels": "slow.txt"}')
    panel.models.select(str(slow), "cpu")
    panel.set_folder(numbered_folder(tmp_path / "photos", 60))
    with qtbot.waitSignal(panel.records_added, timeout=TIMEOUT):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.holding, timeout=TIMEOUT)
    assert "left" not in panel.rate_label.text()
    with qtbot.waitSignal(panel.batch_stopped, timeout=TIMEOUT):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)



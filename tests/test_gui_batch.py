"""The Batch tab with real widgets, a real worker thread and real ONNX Runtime sessions."""

from __future__ import annotations

import csv
import importlib
import json
import time
from pathlib import Path

import modelgen
import pytest
from batch_panel_helpers import TIMEOUT, model, panel, run_batch  # noqa: F401 (fixtures)
from gui_helpers import MAX_BLOCKED_S, GuiProbe
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sample_images import bad_folder, noisy_jpeg, numbered_folder
from xmp_samples import DIGIKAM, foreign

from resnet_desktop.core.engine import Engine
from resnet_desktop.core.sidecars.xmp import read_keywords
from resnet_desktop.gui.batch.dialogs import SidecarPreviewDialog
from resnet_desktop.gui.batch.panel import BatchPanel
from resnet_desktop.gui.batch.results import ERROR, FILE, PROBABILITY, RECORD_ROLE, TOP1
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

def slow_model(folder: Path, width: int = 32) -> Path:
    """A ResNet-18-shaped graph at 224 pixels: tens of milliseconds per image here."""
    return modelgen.slow_model(folder, size=224, depth=18, width=width)


def cell(panel: BatchPanel, row: int, column: int) -> str:
    return panel.proxy.index(row, column).data() or ""


def test_a_batch_fills_the_table_and_shows_errors_per_file(qtbot, panel, model, tmp_path):
    folder, expected = bad_folder(tmp_path)
    progress = run_batch(qtbot, panel, folder, model)
    assert progress.done == progress.total == len(expected)
    assert panel.proxy.rowCount() == len(expected)
    rows = {cell(panel, r, FILE): r for r in range(panel.proxy.rowCount())}
    assert set(rows) == set(expected)
    for rel, label in expected.items():
        row = rows[rel]
        if label is None:
            assert cell(panel, row, ERROR), rel
            assert cell(panel, row, TOP1) == "—"
        else:
            assert cell(panel, row, TOP1) == label
            assert cell(panel, row, PROBABILITY).endswith("%")
            assert cell(panel, row, ERROR) == ""
    bar = panel.progress_bar
    assert (bar.value(), bar.maximum()) == (len(expected), len(expected))
    assert bar.text() == f"{len(expected)} of {len(expected)}"
    assert "images/s" in panel.rate_label.text()
    assert "4 could not be read" in panel.status.text()
    assert panel.export_csv_button.isEnabled() and panel.write_xmp_button.isEnabled()
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_sorting_filtering_and_double_click(qtbot, panel, model, tmp_path):
    folder = numbered_folder(tmp_path, 9)
    noisy_jpeg(folder / "zz.jpg", "red")
    run_batch(qtbot, panel, folder, model)
    panel.table.sortByColumn(FILE, Qt.SortOrder.DescendingOrder)
    assert cell(panel, 0, FILE) == "zz.jpg"
    panel.table.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    values = [panel.proxy.index(r, PROBABILITY).data(RECORD_ROLE).probability
              for r in range(panel.proxy.rowCount())]
    assert values == sorted(values)
    qtbot.keyClicks(panel.filter_edit, "GRE")
    assert panel.proxy.rowCount() == 10, "every row has green somewhere in its top-3"
    panel.top_k.setValue(1)
    panel.filter_edit.clear()
    run_batch(qtbot, panel, folder, model)
    qtbot.keyClicks(panel.filter_edit, "gre")
    assert panel.proxy.rowCount() == 3
    assert {cell(panel, r, TOP1) for r in range(3)} == {"green"}
    rect = panel.table.visualRect(panel.proxy.index(0, TOP1))
    # A real double click is a press, a release, then the double-click event.
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(panel.image_activated) as activated:
        qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                          pos=rect.center())
    assert Path(activated.args[0]).is_absolute()
    assert Path(activated.args[0]).parent == folder


def test_thumbnails_are_made_for_visible_rows(qtbot, panel, model, tmp_path):
    folder = numbered_folder(tmp_path, 3)
    run_batch(qtbot, panel, folder, model)
    index = panel.proxy.index(0, FILE)
    panel.table.viewport().repaint()
    qtbot.waitUntil(lambda: index.data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=10_000)
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    assert 0 < max(pixmap.width(), pixmap.height()) <= 48


def test_pause_resume_cancel_and_resume_where_it_stopped(qtbot, panel, tmp_path):
    model = slow_model(tmp_path / "slow")
    folder = numbered_folder(tmp_path, 60)
    panel.models.select(str(model), "cpu")
    panel.set_folder(folder)
    reported: list = []
    panel.records_added.connect(reported.append)
    with qtbot.waitSignal(panel.records_added, timeout=TIMEOUT):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: panel.holding, timeout=TIMEOUT)
    QApplication.processEvents()  # the records sent before it stopped were queued before that
    held = panel.proxy.rowCount()
    assert held == reported[-1].done < 60
    QApplication.processEvents()
    assert panel.holding and panel.proxy.rowCount() == held, "nothing new arrives while paused"

    def cancel_at_the_first_records_after_resuming(*_):
        panel.records_added.disconnect(cancel_at_the_first_records_after_resuming)
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)

    panel.records_added.connect(cancel_at_the_first_records_after_resuming)
    with qtbot.waitSignal(panel.batch_stopped, timeout=TIMEOUT) as stopped:
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    first = stopped.args[0]
    assert held < first.done < 60
    assert "Cancelled" in panel.status.text()
    with qtbot.waitSignal(panel.batch_finished, timeout=TIMEOUT) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    second = finished.args[0]
    assert second.done == 60
    assert second.cached >= first.done
    assert second.classified == 60 - second.cached
    assert "from earlier runs" in panel.status.text()


def test_the_gui_stays_responsive_during_a_batch(qtbot, panel, tmp_path):
    """A 10 ms timer on the GUI thread is never held more than MAX_BLOCKED_S by a batch."""
    model = slow_model(tmp_path / "slow", width=56)
    folder = tmp_path / "photos"
    for i in range(80):
        noisy_jpeg(folder / f"{i:02d}.jpg", ("red", "green", "blue")[i % 3], size=(1200, 900),
                   seed=i)
    panel.models.select(str(model), "cpu")
    panel.set_folder(folder)
    # The window's first background job (loading its model, right after the first paint)
    # imports superqt; a batch never comes first there, so neither does it here.
    importlib.import_module("superqt.utils")
    started = time.perf_counter()
    with GuiProbe() as probe, qtbot.waitSignal(panel.batch_finished, timeout=120_000):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    elapsed = time.perf_counter() - started
    assert panel.proxy.rowCount() == 80
    assert elapsed > 1.0, "the batch is too fast for this check to mean anything"
    print(f"80 images in {elapsed:.1f} s; {probe.summary()}")
    assert max(probe.blocked) < MAX_BLOCKED_S, probe.summary()


def test_exports_from_the_table(qtbot, panel, model, tmp_path):
    folder, expected = bad_folder(tmp_path)
    run_batch(qtbot, panel, folder, model)
    out = tmp_path / "exports"
    assert panel.export_csv(out / "tags.csv")
    with open(out / "tags.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(expected)
    assert rows["café/日本 写真.jpg"]["label"] == "blue"
    assert panel.export_json(out / "tags.json")
    data = json.loads((out / "tags.json").read_text(encoding="utf-8"))
    assert data["provenance"]["model"] == "colours"
    assert len(data["provenance"]["model_sha256"]) == 64
    assert data["provenance"]["provider"] == "cpu"
    assert len(data["records"]) == len(expected)

    (tmp_path / "a-file").write_text("x")
    assert not panel.export_csv(tmp_path / "a-file" / "tags.csv")
    assert panel.error.isVisible() or not panel.isVisible()
    assert "cannot write" in panel.error.text()
    assert not (tmp_path / "a-file" / "tags.csv").exists()


def test_sidecars_preview_then_write_then_undo(qtbot, panel, model, tmp_path):
    folder, expected = bad_folder(tmp_path)
    existing = folder / "red.jpg.xmp"
    existing.write_text(DIGIKAM, encoding="utf-8")
    run_batch(qtbot, panel, folder, model)
    panel.min_confidence.setValue(50)
    assert not panel.undo_button.isEnabled()
    qtbot.mouseClick(panel.write_xmp_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.findChild(SidecarPreviewDialog) is not None, timeout=TIMEOUT)
    dialog = panel.findChild(SidecarPreviewDialog)
    good = len([v for v in expected.values() if v])
    assert dialog.summary.text().startswith(f"{good} sidecar file(s) (IMG_1.jpg.xmp naming): "
                                            f"{good - 1} new, 1 existing")
    assert "green: 3 file(s)" in dialog.details.toPlainText()
    assert not list(folder.rglob("*.xmp"))[1:], "nothing is written before the user agrees"
    with qtbot.waitSignal(panel.sidecars_written, timeout=TIMEOUT) as written:
        qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    report = written.args[0]
    assert (report.created, report.merged, report.failed) == (good - 1, 1, [])
    assert foreign(existing.read_bytes()) == foreign(DIGIKAM)
    assert read_keywords(existing.read_bytes()).subject == ("holiday", "tabby", "red")
    assert "written" in panel.status.text()
    assert panel.undo_button.isEnabled()
    with qtbot.waitSignal(panel.sidecars_undone, timeout=TIMEOUT) as undone:
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert (undone.args[0].restored, undone.args[0].removed) == (1, good - 1)
    assert existing.read_text(encoding="utf-8") == DIGIKAM
    assert [p.name for p in folder.rglob("*.xmp")] == ["red.jpg.xmp"]
    assert not panel.undo_button.isEnabled()


def test_cancelling_the_preview_writes_nothing(qtbot, panel, model, tmp_path):
    folder = numbered_folder(tmp_path, 3)
    run_batch(qtbot, panel, folder, model)
    qtbot.mouseClick(panel.write_xmp_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.findChild(SidecarPreviewDialog) is not None, timeout=TIMEOUT)
    panel.findChild(SidecarPreviewDialog).reject()
    assert not panel.runner.busy, "rejecting the preview starts no job"
    assert not list(folder.glob("*.xmp"))


def test_bad_folder_and_model_are_reported_inline(qtbot, panel, tmp_path):
    panel.set_folder(tmp_path / "nowhere")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "not a folder" in panel.error.text()
    folder = numbered_folder(tmp_path, 2)
    panel.set_folder(folder)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    panel.models.select(str(broken), "cpu")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "broken.onnx" in panel.error.text(), timeout=TIMEOUT)
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_the_panel_runs_the_one_selected_model(qtbot, panel, model):
    """No model choice of its own: the tab shows and runs what the model service holds."""
    panel.models.select(str(model), "cpu")
    assert (panel.current_model(), panel.current_provider()) == (str(model), "cpu")
    assert panel.model_label.text() == "Colours · run on: CPU"
    panel.models.select(panel.models.engine.default_model, "auto")
    assert panel.current_model() == panel.models.engine.default_model
    assert panel.model_label.text().endswith("· run on: Auto")


def test_settings_are_remembered(qtbot, tmp_path):
    first = BatchPanel(ModelService(Engine()))
    qtbot.addWidget(first)
    first.set_folder(tmp_path)
    first.recursive.setChecked(True)
    first.top_k.setValue(3)
    first.min_confidence.setValue(35)
    first.naming_combo.setCurrentIndex(first.naming_combo.findData("replace"))
    first.shutdown()  # closing the tab saves its settings
    second = BatchPanel(ModelService(Engine()))
    qtbot.addWidget(second)
    assert second.folder_edit.text() == str(tmp_path)
    assert second.recursive.isChecked()
    assert second.top_k.value() == 3
    assert second.min_confidence.value() == 35
    assert second.naming.value == "replace"
    second.shutdown()


def test_shutdown_during_a_batch_is_quick(qtbot, tmp_path):
    panel = BatchPanel(ModelService(Engine()), remember=False)
    qtbot.addWidget(panel)
    panel.models.select(str(slow_model(tmp_path / "slow")), "cpu")
    panel.set_folder(numbered_folder(tmp_path, 40))
    with qtbot.waitSignal(panel.records_added, timeout=TIMEOUT):
        panel.start()
    started = time.perf_counter()
    panel.shutdown()
    assert time.perf_counter() - started < 5
    QApplication.processEvents()

"""The custom-model widgets with real Qt: the import form, the facts panel, the validate dialog."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
import warnings
from pathlib import Path

import modelgen
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from resnet_desktop.core.engine import Engine
from resnet_desktop.core.foundation.errors import ModelError
from resnet_desktop.core.operations.import_model import PRESETS
from resnet_desktop.gui.models.import_dialog import ModelImportDialog
from resnet_desktop.gui.models.info_panel import ModelInfoPanel
from resnet_desktop.gui.models.validate_dialog import ValidateDialog
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import TaskRunner, throttled

pytestmark = pytest.mark.gui

BIRDS = ("robin", "parrot", "jay")  # three custom classes: red, green, blue images
TIMEOUT_MS = 15_000


def _model(folder: Path, name: str = "birds", **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    modelgen.colour_classifier(path, classes=BIRDS, **kwargs)
    return path


def _labels(folder: Path, labels=BIRDS, name: str = "birds.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return modelgen.write_labels(folder / name, list(labels))


@pytest.fixture
def import_dialog(qtbot) -> ModelImportDialog:
    dialog = ModelImportDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_import_form_writes_the_sidecar_and_emits_the_path(qtbot, tmp_path, import_dialog):
    model = _model(tmp_path / "m", layout="NHWC")
    labels = _labels(tmp_path / "lists")
    qtbot.keyClicks(import_dialog.model_edit, str(model))
    qtbot.keyClicks(import_dialog.labels_edit, str(labels))
    qtbot.keyClicks(import_dialog.name_edit, "Garden birds")
    import_dialog.set_preset("inception")
    import_dialog.resize_spin.setValue(40)
    with qtbot.waitSignal(import_dialog.model_imported, timeout=TIMEOUT_MS) as imported:
        qtbot.mouseClick(import_dialog.import_button, Qt.MouseButton.LeftButton)
    assert imported.args == [str(model)]
    assert import_dialog.result() == QDialog.DialogCode.Accepted
    data = json.loads(model.with_suffix(".json").read_text())
    assert data == {"name": "Garden birds", "labels": str(labels), "input_size": 32,
                    "resize": 40, "mean": [127.5] * 3, "std": [127.5] * 3, "layout": "NHWC",
                    "color": "RGB", "output": "logits"}
    assert import_dialog.imported.num_classes == 3


def test_wrong_labels_file_shows_an_inline_error_under_labels(qtbot, tmp_path, import_dialog):
    model = _model(tmp_path)
    import_dialog.set_model_file(model)
    import_dialog.set_labels_file(_labels(tmp_path, ("a", "b", "c", "d"), "four.txt"))
    emitted = []
    import_dialog.model_imported.connect(emitted.append)
    qtbot.mouseClick(import_dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: import_dialog.error_text("labels") != "", timeout=TIMEOUT_MS)
    assert import_dialog.error_text("labels") == \
        "labels: four.txt has 4 labels but the model outputs 3 classes"
    assert list(import_dialog.shown_errors()) == ["labels"]
    assert import_dialog.errors["labels"].isVisible() and import_dialog.isVisible()
    assert emitted == [] and not model.with_suffix(".json").exists()
    qtbot.waitUntil(lambda: import_dialog.import_button.isEnabled(), timeout=TIMEOUT_MS)

    import_dialog.set_labels_file(_labels(tmp_path))  # fixed: the error goes, import works
    with qtbot.waitSignal(import_dialog.model_imported, timeout=TIMEOUT_MS):
        qtbot.mouseClick(import_dialog.import_button, Qt.MouseButton.LeftButton)
    assert import_dialog.shown_errors() == {}


@pytest.mark.parametrize(("fill", "field", "text"), [
    (lambda d: d.set_custom_values((0, 0, 0), (1, 0, 1)), "std", "greater than 0"),
    (lambda d: d.layout_combo.setCurrentIndex(d.layout_combo.findData("NHWC")), "layout",
     "NHWC puts 32 channels"),
    (lambda d: d.input_size.setValue(64), "input_size", "the model takes 32x32 images"),
    (lambda d: (d.input_size.setValue(32), d.resize_spin.setValue(16)), "resize",
     "smaller than input_size"),
])
def test_bad_values_are_refused_under_their_field(qtbot, tmp_path, import_dialog, fill, field,
                                                  text):
    import_dialog.set_model_file(_model(tmp_path))
    import_dialog.set_labels_file(_labels(tmp_path))
    fill(import_dialog)
    qtbot.mouseClick(import_dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: import_dialog.shown_errors() != {}, timeout=TIMEOUT_MS)
    assert list(import_dialog.shown_errors()) == [field]
    assert text in import_dialog.error_text(field)


def test_missing_model_is_refused_at_once(qtbot, import_dialog):
    qtbot.mouseClick(import_dialog.import_button, Qt.MouseButton.LeftButton)
    assert import_dialog.error_text("model") == "model: choose the model's .onnx file"
    assert not import_dialog.busy


def test_existing_sidecar_and_labels_beside_the_model_fill_the_form(qtbot, tmp_path,
                                                                    import_dialog):
    model = _model(tmp_path)
    labels = _labels(tmp_path)  # birds.txt beside birds.onnx
    import_dialog.set_model_file(model)
    assert import_dialog.labels_edit.text() == str(labels)
    model.with_suffix(".json").write_text(json.dumps({
        "name": "Old birds", "labels": "birds.txt", "input_size": 32, "resize": 36,
        "mean": list(PRESETS["caffe"].mean), "std": [1, 1, 1], "color": "BGR"}))
    dialog = ModelImportDialog(model=model)
    qtbot.addWidget(dialog)
    assert dialog.name_edit.text() == "Old birds"
    assert dialog.preset.currentData() == "caffe" and not dialog.mean[0].isEnabled()
    assert dialog.resize_spin.value() == 36
    request = dialog.request()
    assert (request.preset, request.mean, request.input_size) == ("caffe", None, 32)
    assert not dialog.grab().isNull()


# --- the facts panel ----------------------------------------------------------------------


def test_info_panel_shows_facts_computed_off_the_gui_thread(qtbot, tmp_path):
    model = _model(tmp_path)
    _labels(tmp_path)
    model.with_suffix(".json").write_text(json.dumps({"name": "Birds", "labels": "birds.txt"}))
    panel = ModelInfoPanel(Engine())
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.facts_ready, timeout=TIMEOUT_MS) as ready:
        panel.show_model(model)
        assert panel.busy_computing and panel.values["params"].text() == ""
    info = ready.args[0]
    assert info.facts.params == 9 and info.labels == 3
    assert panel.values["name"].text() == "Birds (birds)"
    assert panel.values["params"].text() == "9"
    assert panel.values["macs"].text().startswith("9 for one 32×32 image")
    assert panel.values["size"].text() == f"{model.stat().st_size} bytes"
    assert panel.values["sha256"].text() == hashlib.sha256(model.read_bytes()).hexdigest()
    assert panel.values["inputs"].text() == "data [N, 3, 32, 32] float32"
    assert panel.values["opset"].text() == str(modelgen.OPSET)
    assert panel.values["labels"].text() == f"3 ({(tmp_path / 'birds.txt').resolve()})"
    assert panel.values["published"].isHidden()
    assert panel.values["license"].text() == "not stated"
    assert panel.values["preprocessing"].text().startswith("shorter side 256, centre 224×224")
    assert panel.values["added"].text().startswith(time.strftime("%Y-"))
    assert panel.copy_button.isEnabled() and panel.folder_button.isEnabled()
    assert panel.model_folder() == model.resolve().parent
    panel.copy_json()
    from PySide6.QtGui import QGuiApplication

    assert json.loads(QGuiApplication.clipboard().text())["sha256"] == info.facts.sha256
    assert not panel.grab().isNull()


def test_info_panel_drops_the_stale_answer(qtbot, tmp_path):
    first, second = _model(tmp_path / "a", "first"), _model(tmp_path / "b", "second")
    panel = ModelInfoPanel(Engine())
    qtbot.addWidget(panel)
    shown = []
    panel.facts_ready.connect(lambda info: shown.append(info.id))
    with qtbot.waitSignal(panel.facts_ready, timeout=TIMEOUT_MS):
        panel.show_model(first)
        panel.show_model(second)
    qtbot.waitUntil(lambda: not panel.busy_computing, timeout=TIMEOUT_MS)
    assert shown == ["second"]
    assert panel.description.id == "second"


def test_info_panel_says_a_catalog_model_is_not_downloaded(qtbot):
    panel = ModelInfoPanel(Engine())
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.failed, timeout=TIMEOUT_MS) as failed:
        panel.show_model("resnet18-v1-7")
    assert "resnet18-v1-7 is not downloaded" in failed.args[0]
    assert "not downloaded" in panel.status.text() and panel.values["params"].isHidden()
    # What the catalog knows shows at once; the graph's facts wait for the file.
    assert panel.values["published"].text() == "top-1 69.93%, top-5 89.29%"
    assert panel.values["size"].text() == "46.8 MB to download"
    assert panel.values["license"].text() == "Apache-2.0"
    assert "read from its file" in panel.status.text()
    assert not panel.folder_button.isEnabled()


def test_info_panel_shows_the_built_in_model_and_its_folder(qtbot, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    panel = ModelInfoPanel(Engine())
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.facts_ready, timeout=TIMEOUT_MS):
        panel.show_model("efficientnet-lite0")
    assert panel.values["added"].text() == "built in (ships with ResNet Desktop)"
    assert panel.values["labels"].text() == "1000 (ImageNet, built in)"
    assert "mean 127 127 127, std 128 128 128" in panel.values["preprocessing"].text()
    qtbot.mouseClick(panel.folder_button, Qt.MouseButton.LeftButton)
    assert [Path(u.toLocalFile()) for u in opened] == [panel.model_folder()]
    assert panel.model_folder().name == "models"


# --- the validate dialog ------------------------------------------------------------------


def _two_of_three(tmp_path: Path) -> Path:
    """Right on robin (red) and parrot (green); jay (blue) images come out as parrot."""
    weights = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    path = _model(tmp_path / "model", weights=weights)
    _labels(tmp_path / "model")
    path.with_suffix(".json").write_text(json.dumps({"name": "Birds", "labels": "birds.txt",
                                                     "input_size": 32, "resize": 32}))
    return path


def _labelled(root: Path, per_class: int = 3) -> Path:
    for bird, rgb in zip(BIRDS, ((230, 20, 20), (20, 230, 20), (20, 20, 230)), strict=True):
        (root / bird).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (36, 36), rgb).save(root / bird / f"{i}.png")
    return root


@pytest.fixture
def validate_dialog(qtbot, tmp_path) -> ValidateDialog:
    dialog = ValidateDialog(ModelService(Engine()), str(_two_of_three(tmp_path)), "cpu")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_validate_dialog_shows_accuracy_and_saves_the_csv(qtbot, tmp_path, validate_dialog):
    validate_dialog.set_folder(_labelled(tmp_path / "val"))
    with qtbot.waitSignal(validate_dialog.validation_finished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(validate_dialog.start_button, Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert (result.images, result.top1, result.top5) == (9, 6, 9)
    assert validate_dialog.summary_label.text().startswith("Top-1 66.67% (6/9)    Top-5 100.00%")
    assert validate_dialog.table.rowCount() == 3
    assert validate_dialog.save_button.isEnabled()
    target = tmp_path / "csv" / "summary.csv"
    assert validate_dialog.save_summary(target)
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[1:] == [["robin", "3", "100.00", "100.00", "", "0", ""],
                        ["parrot", "3", "100.00", "100.00", "", "0", ""],
                        ["jay", "3", "0.00", "100.00", "parrot", "3", ""]]
    assert not validate_dialog.grab().isNull()


def test_validate_dialog_names_the_files_it_could_not_read(qtbot, tmp_path, validate_dialog):
    root = _labelled(tmp_path / "val", per_class=1)
    (root / "robin" / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "jay" / "notes.jpg").write_text("not a picture")
    validate_dialog.set_folder(root)
    with qtbot.waitSignal(validate_dialog.validation_finished, timeout=TIMEOUT_MS):
        validate_dialog.start()
    summary = validate_dialog.summary_label.text().splitlines()
    assert summary[-1].startswith("2 images could not be read (not counted): ")
    assert {"torn.png", "notes.jpg"} == set(summary[-1].split(": ", 1)[1].split(", "))
    assert "torn.png" in validate_dialog.summary_label.toolTip()


def test_validate_dialog_reports_a_bad_folder_inline(qtbot, tmp_path, validate_dialog):
    (tmp_path / "val" / "owl").mkdir(parents=True)
    validate_dialog.set_folder(tmp_path / "val")
    with qtbot.waitSignal(validate_dialog.failed, timeout=TIMEOUT_MS):
        validate_dialog.start()
    assert "'owl' is not one of the model's 3 classes" in validate_dialog.error_text()
    assert validate_dialog.start_button.isEnabled() and validate_dialog.result is None


def test_validate_dialog_cancel(qtbot, tmp_path, validate_dialog):
    validate_dialog.set_folder(_labelled(tmp_path / "val", per_class=100))
    with qtbot.waitSignal(validate_dialog.validation_cancelled, timeout=TIMEOUT_MS):
        validate_dialog.start()
        assert validate_dialog.running and validate_dialog.cancel_button.isVisible()
        validate_dialog.cancel()
    assert validate_dialog.result is None
    assert validate_dialog.progress_label.text() == "Cancelled."
    assert validate_dialog.isVisible()  # Cancel stops the work, not the dialog


def test_save_summary_failure_is_shown_not_raised(qtbot, tmp_path, validate_dialog):
    validate_dialog.set_folder(_labelled(tmp_path / "val", per_class=1))
    with qtbot.waitSignal(validate_dialog.validation_finished, timeout=TIMEOUT_MS):
        validate_dialog.start()
    (tmp_path / "taken").mkdir()
    assert not validate_dialog.save_summary(tmp_path / "taken")
    assert validate_dialog.error_text().startswith("Cannot save taken")


# --- the task runner ----------------------------------------------------------------------


def test_task_runner_drops_answers_of_superseded_jobs(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    returned, cancelled = [], []
    runner.returned.connect(returned.append)
    runner.cancelled.connect(lambda: cancelled.append(True))

    def first(_report, _cancel):
        release.wait(10)
        return "first"

    runner.start(first)
    with qtbot.waitSignal(runner.returned, timeout=TIMEOUT_MS):
        runner.start(lambda report, cancel: (report("half"), "second")[1])
        release.set()
    assert returned == ["second"] and cancelled == []
    assert not runner.busy and runner.shutdown()


@pytest.mark.parametrize(("error", "message"), [
    (ModelError("m.onnx: broken"), "m.onnx: broken"),
    (ValueError("odd"), "the test job failed: odd"),
])
def test_task_runner_reports_errors_as_one_line(qtbot, error, message):
    runner = TaskRunner(what="the test job")

    def job(_report, _cancel):
        raise error

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as failed:
        runner.start(job)
    assert failed.args == [message]
    assert runner.shutdown()


def test_task_runner_cancel(qtbot):
    runner = TaskRunner()

    def job(_report, cancel):
        cancel.wait(10)
        cancel.raise_if_cancelled()

    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS):
        runner.start(job)
        runner.cancel()
    assert runner.shutdown()


def test_task_runner_logs_a_jobs_warnings(qtbot, caplog):
    runner = TaskRunner()

    def job(_report, _cancel):
        warnings.warn("odd input", UserWarning, stacklevel=1)
        return "done"

    with qtbot.waitSignal(runner.returned, timeout=TIMEOUT_MS):
        runner.start(job)
    assert any("UserWarning: odd input" in r.getMessage() for r in caplog.records)
    assert runner.shutdown()


@pytest.mark.parametrize(("interval_s", "passed"), [(3600.0, [1, 10]), (0.0, [1, 2, 3, 10])])
def test_throttled_progress_passes_the_first_and_last_steps_and_one_per_interval(interval_s,
                                                                                passed):
    seen = []
    progress = throttled(lambda done, total, rate: seen.append((done, total, rate)), interval_s)
    for done in (1, 2, 3, 10):
        progress(done, 10, 2.5)
    assert seen == [(done, 10, 2.5) for done in passed]

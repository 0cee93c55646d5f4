"""The Compare dialog with real Qt: models one at a time, rows as answers come, agreement."""

from __future__ import annotations

import json
from pathlib import Path

import modelgen
import pytest
from PIL import Image

from resnet_desktop.core.engine import Engine
from resnet_desktop.gui.models.compare_dialog import CompareDialog
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

TIMEOUT_MS = 30_000


def _resnet(folder: Path, name: str, seed: int) -> Path:
    path = folder / f"{name}.onnx"
    modelgen.resnet(path, version=1 + seed % 2, blocks=(1, 1, 1, 1), num_classes=1000,
                    seed=seed)
    (folder / f"{name}.json").write_text(json.dumps({"labels": "imagenet"}))
    return path


@pytest.fixture
def service(qtbot) -> ModelService:
    return ModelService(Engine())


def test_compare_fills_rows_marks_agreement_and_reports_per_model_errors(qtbot, tmp_path,
                                                                         service, monkeypatch,
                                                                         shared_model, photos):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    twin = _resnet(tmp_path, "resnet-twin", 3)
    catalog_id = service.engine.catalog.default_id  # not downloaded, and offline
    chosen = [str(shared_model), catalog_id, str(twin), str(twin)]
    dialog = CompareDialog(service, [photos["chelsea"], photos["coffee"]], chosen)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.chosen_models() == [catalog_id, str(shared_model), str(twin), str(twin)]
    with qtbot.waitSignal(dialog.comparison_finished, timeout=TIMEOUT_MS) as finished:
        dialog.start()
    results = finished.args[0]
    assert len(results) == 8 and dialog.table.rowCount() == 8
    # Rows by image, then by model in the order chosen (catalog entries are listed first).
    assert [dialog.cell(r, 0) for r in range(8)] == ["chelsea.png"] * 4 + ["coffee.png"] * 4
    assert [dialog.cell(r, 1) for r in range(4)] == [catalog_id, "efficientnet-lite0",
                                                     "resnet-twin", "resnet-twin"]
    assert "offline" in dialog.cell(0, 2) and "offline" in dialog.cell(4, 2)
    assert "cat" in dialog.cell(1, 2).splitlines()[0]
    assert "espresso" in dialog.cell(5, 2).splitlines()[0]
    assert dialog.cell(1, 3).startswith("cat ")  # the curated category
    assert dialog.cell(1, 5) == "cpu" and dialog.cell(1, 6).endswith(" ms")
    # The same model twice agrees with itself; the real model says something else.
    assert dialog.cell(2, 4).startswith("✓") and dialog.cell(3, 4).startswith("✓")
    assert dialog.cell(1, 4) == ""
    entry = service.engine.catalog.get(catalog_id)
    assert dialog.cell(0, 7) == f"{entry.top1:.2f} / {entry.top5:.2f}"
    assert dialog.cell(1, 7) == "-" and dialog.cell(1, 8).endswith("MB")
    assert "2 errors" in dialog.status_label.text()


def test_cancel_stops_the_comparison(qtbot, tmp_path, service):
    models = [str(_resnet(tmp_path, f"m{i}", i)) for i in range(3)]
    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 48), (128, 128, 128)).save(image)
    dialog = CompareDialog(service, [image] * 20, models)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: len(dialog.results()) >= 1, timeout=TIMEOUT_MS)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=TIMEOUT_MS)
    assert dialog.status_label.text() == "Cancelled."
    assert len(dialog.results()) < 60
    assert dialog.run_button.isEnabled()

"""The Batch tab under test: a shown panel on a fresh engine, the colour model, a whole run."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelgen import colour_model
from PySide6.QtCore import Qt

from resnet_desktop.core.engine import Engine
from resnet_desktop.gui.batch.panel import BatchPanel
from resnet_desktop.gui.workers.model_service import ModelService

TIMEOUT = 60_000


@pytest.fixture
def panel(qtbot):
    widget = BatchPanel(ModelService(Engine()), remember=False)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.fixture
def model(tmp_path) -> Path:
    return colour_model(tmp_path / "model")


def run_batch(qtbot, panel: BatchPanel, folder: Path, model: Path, **settings):
    panel.models.select(str(model), "cpu")
    panel.set_folder(folder)
    panel.recursive.setChecked(settings.get("recursive", True))
    with qtbot.waitSignal(panel.batch_finished, timeout=TIMEOUT) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    return finished.args[0]

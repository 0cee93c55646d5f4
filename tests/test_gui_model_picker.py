"""The model picker: catalog groups, sizes and accuracy, custom models, provider choice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import modelgen
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from resnet_desktop.core.engine import Engine
from resnet_desktop.gui.models.picker import (
    DETAILS_ROLE,
    HEADER_ROLE,
    MODEL_ROLE,
    ModelPicker,
    provider_choices,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def engine() -> Engine:
    return Engine()


def make_picker(qtbot, engine: Engine, **kwargs) -> ModelPicker:
    picker = ModelPicker(engine, **kwargs)
    qtbot.addWidget(picker)
    return picker


def rows(picker: ModelPicker) -> list[tuple[str, str | None, str]]:
    model = picker.combo.model()
    out = []
    for row in range(model.rowCount()):
        item = model.item(row)
        kind = "header" if item.data(HEADER_ROLE) else item.data(MODEL_ROLE)
        out.append((item.text(), kind, item.data(DETAILS_ROLE) or ""))
    return out


def test_catalog_grouped_by_version_then_depth(qtbot, engine):
    picker = make_picker(qtbot, engine)
    listed = rows(picker)
    headers = [text for text, kind, _ in listed if kind == "header"]
    assert headers == ["Built-in", "ResNet v1", "ResNet v2"]
    assert listed[1] == ("EfficientNet-Lite0", "efficientnet-lite0",
                         "18.5 MB  ·  top-1 75.1 %  ·  ✓ built in")
    listed = listed[2:]
    v2_start = [kind for _, kind, _ in listed].index("header", 1)
    v1 = [kind for _, kind, _ in listed[1:v2_start]]
    v2 = [kind for _, kind, _ in listed[v2_start + 1:]]
    assert all("-v1-" in m for m in v1) and all("-v2-" in m for m in v2)
    depths = [engine.catalog.get(m).depth for m in v1]
    assert depths == sorted(depths)
    assert v1[2:5] == ["resnet50-v1-7", "resnet50-v1-12", "resnet50-v1-12-int8"]
    resnet50 = next(d for _, kind, d in listed if kind == "resnet50-v2-7")
    assert resnet50 == "102.4 MB  ·  top-1 75.8 %  ·  not downloaded"
    header = picker.combo.model().item(0)
    assert not header.isEnabled() and not header.isSelectable()
    assert picker.current_model() == engine.default_model == "efficientnet-lite0"
    assert picker.details.text() == ("efficientnet-lite0  ·  top-1 75.1 %  ·  built in, works "
                                     "offline")


def test_builtin_model_offers_the_default_resnet_until_it_is_downloaded(qtbot, engine):
    picker = make_picker(qtbot, engine)
    picker.show()
    offer = picker.download_offer
    assert offer.isVisible()
    assert offer.text() == "Download ResNet-50 v2 (102 MB, top-1 75.8 %)"
    with qtbot.waitSignal(picker.model_selected) as selected:
        offer.click()
    assert selected.args == ["resnet50-v2-7", "auto"]
    assert picker.current_model() == "resnet50-v2-7" and not offer.isVisible()
    assert picker.details.text() == ("resnet50-v2-7  ·  top-1 75.8 % · top-5 92.8 %  ·  "
                                     "102.4 MB to download")
    path = engine.cache.path_for("resnet50-v2-7")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(engine.catalog.get("resnet50-v2-7").bytes)
    picker.select_model("efficientnet-lite0")
    assert not offer.isVisible()


def test_a_cached_model_is_marked_downloaded(qtbot, engine):
    path = engine.cache.path_for("resnet18-v1-7")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(engine.catalog.get("resnet18-v1-7").bytes)  # right size: counts as cached
    picker = make_picker(qtbot, engine)
    details = dict((kind, d) for _, kind, d in rows(picker))
    assert details["resnet18-v1-7"].endswith("✓ downloaded")
    assert details["resnet34-v1-7"].endswith("not downloaded")


def custom_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flowers.onnx"
    modelgen.colour_classifier(path, classes=("rose", "tulip", "daisy"))
    modelgen.write_labels(folder / "labels.txt", ("rose", "tulip", "daisy"))
    path.with_suffix(".json").write_text(json.dumps({"name": "My flowers",
                                                     "labels": "labels.txt"}))
    return path


def test_custom_models_are_listed_and_remembered(qtbot, engine, tmp_path):
    model = custom_model(tmp_path)
    picker = make_picker(qtbot, engine)
    with qtbot.waitSignal(picker.model_selected) as selected:
        assert picker.add_custom_model(model)
    assert selected.args == [str(model.resolve()), "auto"]
    listed = rows(picker)
    assert ("My models", "header", "") in listed
    assert listed[-1][:2] == ("My flowers", str(model.resolve()))
    assert picker.combo.currentText() == "My flowers"
    assert picker.details.text() == "Custom model  ·  flowers.onnx"
    assert picker.details.toolTip() == str(model.resolve())

    again = make_picker(qtbot, Engine())
    assert again.custom_models() == [str(model.resolve())]
    forgetful = make_picker(qtbot, Engine(), remember=False)
    assert forgetful.custom_models() == []
    again.remove_custom_model(str(model.resolve()))
    assert make_picker(qtbot, Engine()).custom_models() == []


def test_a_bad_custom_model_is_refused_with_a_message(qtbot, engine, tmp_path):
    picker = make_picker(qtbot, engine)
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"1234")
    with qtbot.waitSignal(picker.message) as message:
        assert not picker.add_custom_model(bad)
    assert "must be an .onnx file" in message.args[0] and message.args[1] is True
    assert picker.custom_models() == []
    broken_manifest = tmp_path / "m.onnx"
    broken_manifest.write_bytes(b"x")
    broken_manifest.with_suffix(".json").write_text("{not json")
    with qtbot.waitSignal(picker.message) as message:
        assert not picker.add_custom_model(broken_manifest)
    assert "m.json" in message.args[0] and "not valid JSON" in message.args[0]
    assert not picker.select_model("resnet9000")


def test_provider_choice_maps_to_policies(qtbot, engine):
    picker = make_picker(qtbot, engine)
    choices = [(picker.provider.itemText(i), picker.provider.itemData(i))
               for i in range(picker.provider.count())]
    gpu = "directml" if sys.platform == "win32" else "cuda"
    assert choices == [("Auto", "auto"), (f"GPU ({'DirectML' if gpu == 'directml' else 'CUDA'})",
                                          gpu), ("CPU", "cpu")]
    with qtbot.waitSignal(picker.model_selected) as selected:
        picker.provider.setCurrentIndex(2)
        picker.provider.activated.emit(2)
    assert selected.args == ["efficientnet-lite0", "cpu"]
    picker.select_provider("directml")
    assert picker.current_provider() == gpu
    with qtbot.waitSignal(picker.model_selected) as selected:
        picker.combo.setCurrentIndex(3)
        picker.combo.activated.emit(3)
    assert selected.args[0] == picker.combo.model().item(3).data(MODEL_ROLE)


def test_the_list_paints_headers_and_details(qtbot, engine):
    picker = make_picker(qtbot, engine)
    picker.resize(520, 80)
    picker.show()
    picker.combo.showPopup()
    view = picker.combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    assert view.grab().width() > 0  # the delegate paints every row without errors
    option = QStyleOptionViewItem()
    option.initFrom(view)
    hint = picker.combo.itemDelegate().sizeHint(option, picker.combo.model().index(1, 0))
    assert hint.width() > view.fontMetrics().horizontalAdvance("ResNet-18 v1")
    picker.combo.hidePopup()
    assert picker.combo.model().item(1).flags() & Qt.ItemFlag.ItemIsSelectable



@pytest.mark.parametrize(("platform", "choices"), [
    ("win32", [("Auto", "auto"), ("GPU (DirectML)", "directml"), ("CPU", "cpu")]),
    ("linux", [("Auto", "auto"), ("GPU (CUDA)", "cuda"), ("CPU", "cpu")]),
    ("darwin", [("Auto", "auto"), ("CPU", "cpu")]),
])
def test_the_gpu_choice_is_named_for_what_it_means_on_each_os(platform, choices):
    """A Mac has no CUDA: its list offers no "GPU" that would mean CUDA there."""
    assert [(title, policy) for title, policy, _tip in provider_choices(platform)] == choices


def test_the_popup_drops_down_under_the_box_inside_the_screen(qtbot, engine):
    picker = make_picker(qtbot, engine)
    picker.resize(420, 80)
    picker.show()
    picker.combo.showPopup()
    popup = picker.combo.view().window()
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    box_bottom = picker.combo.mapToGlobal(picker.combo.rect().bottomLeft()).y()
    geometry = popup.geometry()
    assert abs(geometry.top() - box_bottom) <= 2
    assert picker.screen().availableGeometry().contains(geometry)
    picker.combo.hidePopup()

"""Keywords in the window with the real model: Chelsea is a cat, the vocabulary editor from the
menu, and the Batch tab writing into the image files after asking once."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from resnet_desktop.core.engine import Engine
from resnet_desktop.gui.batch.dialogs import SidecarPreviewDialog
from resnet_desktop.gui.batch.panel import BatchPanel
from resnet_desktop.gui.workers.model_service import ModelService

pytestmark = pytest.mark.gui

TIMEOUT = 60_000


def test_the_window_shows_cat_for_chelsea_and_the_editor_renames_it(qtbot, window,
                                                                   shared_model, photos):
    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT):
        assert window.select_model(str(shared_model), "cpu")
    with qtbot.waitSignal(window.result_shown, timeout=TIMEOUT):
        window.show_image_path(photos["chelsea"])
    assert window.chart.headline().startswith("Cat — 9")
    assert window.chart.labels()[0] == "tiger cat"
    window.vocabulary_action.trigger()
    editor = window.edit_vocabulary()
    editor.set_entry("cat", keyword="Katze")
    editor.save()
    assert window.chart.headline().startswith("Katze — 9")
    assert window.batch_panel.keyword_policy().vocabulary.rename == {"cat": "Katze"}


@pytest.fixture
def panel(qtbot):
    widget = BatchPanel(ModelService(Engine()))
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()


def test_writing_into_the_files_is_asked_once(panel, monkeypatch):
    asked = []

    def answer(*args, **kwargs):
        asked.append(args[1])
        return QMessageBox.StandardButton.No if len(asked) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    panel.embed_box.setChecked(True)
    assert not panel.embed_box.isChecked() and asked == ["Write into the image files?"]
    panel.embed_box.setChecked(True)
    assert panel.embed_box.isChecked() and panel.write_xmp_button.text() == "Write keywords…"
    panel.embed_box.setChecked(False)
    panel.embed_box.setChecked(True)
    assert panel.embed_box.isChecked() and len(asked) == 2


def test_batch_writes_keywords_into_the_jpeg_and_undo_restores_it(qtbot, panel, shared_model,
                                                                   photos, tmp_path, exiftool,
                                                                   monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    with Image.open(photos["chelsea"]) as image:
        image.convert("RGB").save(folder / "chelsea.jpg", quality=92)
    with Image.open(photos["coffee"]) as image:
        image.convert("RGB").save(folder / "coffee.gif")
    jpeg = folder / "chelsea.jpg"
    before = hashlib.sha256(jpeg.read_bytes()).hexdigest()
    panel.models.select(str(shared_model), "cpu")
    panel.set_folder(folder)
    with qtbot.waitSignal(panel.batch_finished, timeout=TIMEOUT):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    panel.embed_box.setChecked(True)
    qtbot.mouseClick(panel.write_xmp_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.findChild(SidecarPreviewDialog) is not None, timeout=TIMEOUT)
    dialog = panel.findChild(SidecarPreviewDialog)
    assert dialog.summary.text().startswith("1 image file(s) get the keywords inside them")
    with qtbot.waitSignal(panel.keywords_embedded, timeout=TIMEOUT) as written:
        qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    report = written.args[0]
    assert (report.embedded, report.sidecars, report.failed) == (1, ["coffee.gif"], [])
    assert exiftool.keywords(jpeg)["subject"][0] == "cat"
    assert "cat" in exiftool.iptc_keywords(jpeg)
    assert (folder / "coffee.gif.xmp").is_file()
    with qtbot.waitSignal(panel.sidecars_undone, timeout=TIMEOUT):
        qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert hashlib.sha256(jpeg.read_bytes()).hexdigest() == before
    assert not (folder / "coffee.gif.xmp").exists()

"""The image pane on its own: strips, keys, folders, messages, scaling, clipboard."""

from __future__ import annotations

from pathlib import Path

import pytest
import shiboken6
from gui_helpers import drag_enter
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from resnet_desktop.gui.classify.image_loader import ImageLoader, _LoadTask
from resnet_desktop.gui.classify.image_pane import ImagePane

pytestmark = pytest.mark.gui


@pytest.fixture
def pane(qtbot):
    widget = ImagePane()
    qtbot.addWidget(widget)
    widget.resize(600, 500)
    widget.show()
    yield widget
    widget.shutdown()


def picture(path: Path, size=(300, 100), colour=(10, 120, 200)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def drop_mime(widget, mime: QMimeData) -> None:
    """Drag-enter then drop, as a real drag does."""
    drag_enter(widget, QPoint(10, 10), mime)
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_a_strip_steps_with_arrow_keys_home_and_end(qtbot, pane, tmp_path):
    paths = [picture(tmp_path / f"{name}.png") for name in ("a", "b", "c")]
    with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
        pane.open_paths(paths)
    assert changed.args[0].path == paths[0]
    assert pane.strip.isVisible() and pane.strip.count() == 3
    assert pane.caption.text() == "a.png  ·  1 / 3"
    assert not pane.previous_button.isEnabled() and pane.next_button.isEnabled()
    for key, expected in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_End, 2), (Qt.Key.Key_Left, 1),
                          (Qt.Key.Key_Home, 0)):
        with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
            qtbot.keyClick(pane, key)
        assert changed.args[0].path == paths[expected]
        assert pane.current_index() == expected == pane.strip.currentRow()
    qtbot.keyClick(pane, Qt.Key.Key_Left)  # already at the first: nothing happens
    assert pane.current_index() == 0
    with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
        pane.strip.setCurrentRow(2)  # clicking a thumbnail
    assert changed.args[0].path == paths[2]
    # Thumbnails are decoded in the background and replace the placeholder icons.
    qtbot.waitUntil(lambda: all(pane.strip.item(i).icon().availableSizes()[0].width() > 32
                                for i in range(3)), timeout=5000)


def test_one_image_has_no_strip_and_is_scaled_to_fit(qtbot, pane, tmp_path):
    with qtbot.waitSignal(pane.image_changed, timeout=5000):
        pane.open_paths([picture(tmp_path / "wide.png", (3000, 1000))])
    assert not pane.strip.isVisible()
    assert pane.caption.text() == "wide.png"
    rect = pane.view.image_rect()
    assert rect.width() <= pane.view.width() and rect.height() <= pane.view.height()
    assert rect.width() / rect.height() == pytest.approx(3.0, rel=0.02)
    assert pane.view.pixmap().width() <= 2048  # decoded at display size, not full size


def test_not_an_image_is_a_message_in_the_pane(qtbot, pane, tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7\n...")
    with qtbot.waitSignal(pane.image_failed, timeout=5000) as failed:
        pane.open_paths([pdf])
    assert "paper.pdf" in failed.args[1] and "PDF" in failed.args[1]
    assert pane.message() == failed.args[1]
    assert not pane.has_image()
    missing = tmp_path / "gone.jpg"
    with qtbot.waitSignal(pane.image_failed, timeout=5000):
        pane.open_paths([missing])
    assert "gone.jpg" in pane.message() and "not found" in pane.message()


def test_a_dropped_folder_brings_its_images_in_name_order(qtbot, pane, tmp_path):
    folder = tmp_path / "holiday"
    folder.mkdir()
    for name in ("b.jpg", "A.png", "c.webp"):
        picture(folder / name)
    (folder / "notes.txt").write_text("x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    with qtbot.waitSignal(pane.image_changed, timeout=5000):
        drop_mime(pane, mime)
    assert [s.path.name for s in pane.sources()] == ["A.png", "b.jpg", "c.webp"]


def test_remote_urls_and_empty_folders_are_explained(qtbot, pane, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    drop_mime(pane, mime)
    assert "Only local files" in pane.message()
    empty = tmp_path / "empty"
    empty.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(empty))])
    drop_mime(pane, mime)
    assert "no image files" in pane.message()


def test_a_dropped_image_without_a_file(qtbot, pane):
    image = QImage(20, 10, QImage.Format.Format_ARGB32)
    image.fill(QColor(255, 0, 0, 128))
    mime = QMimeData()
    mime.setImageData(image)
    with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
        drop_mime(pane, mime)
    assert changed.args[0].path is None and changed.args[0].label == "Dropped image"


def test_paste_prefers_files_then_image_data(qtbot, pane, tmp_path):
    path = picture(tmp_path / "copied.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    QGuiApplication.clipboard().setMimeData(mime)
    with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
        assert pane.paste()
    assert changed.args[0].path == path
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(QColor(0, 0, 0))
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(pane.image_changed, timeout=5000) as changed:
        assert pane.paste()
    assert changed.args[0].image is not None and pane.caption.text() == "Pasted image"
    QGuiApplication.clipboard().clear()
    assert not pane.paste()
    assert pane.message()


def test_a_load_finishing_after_its_loader_was_deleted_is_dropped(qtbot, tmp_path):
    """A pool thread must not emit into a deleted owner (the pane closed mid-decode)."""
    path = tmp_path / "late.png"
    Image.new("RGB", (8, 8), (0, 0, 255)).save(path)
    loader = ImageLoader()
    task = _LoadTask(loader, 1, path, 64)
    shiboken6.delete(loader)
    task.run()  # what the pool thread does when its decode ends after the pane went away

"""The app icon: ``resources/icons/resnet-desktop.svg`` and the PNGs rendered from it.

The PNGs (for installers, desktop files and platforms without SVG support) are regenerated
with ``python -m resnet_desktop.gui.widgets.icon`` after the SVG changes; a test checks they match.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPainter

from resnet_desktop.resources import resources_dir

SVG_NAME = "resnet-desktop.svg"
PNG_SIZES = (256, 512)


def icons_dir() -> Path:
    return resources_dir() / "icons"


def png_name(size: int) -> str:
    return f"resnet-desktop-{size}.png"


def app_icon() -> QIcon:
    """The window icon, from the SVG and the PNGs that exist."""
    icon = QIcon()
    for name in (SVG_NAME, *(png_name(size) for size in PNG_SIZES)):
        path = icons_dir() / name
        if path.is_file():
            icon.addFile(str(path))
    return icon


def render_icon(size: int, svg: Path | None = None) -> QImage:
    """The SVG drawn on a transparent ``size`` x ``size`` image."""
    # Only for regenerating the PNGs: QtSvg takes a fiftieth of a second to load, and the
    # window icon (app_icon) leaves the SVG to Qt's icon engine, which reads it when drawn.
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg or icons_dir() / SVG_NAME))
    if not renderer.isValid():
        raise ValueError(f"{svg or SVG_NAME}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def write_pngs(folder: Path | None = None) -> list[Path]:
    """Render the PNG sizes next to the SVG (needs a QGuiApplication)."""
    folder = folder or icons_dir()
    written = []
    for size in PNG_SIZES:
        path = folder / png_name(size)
        if not render_icon(size).save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication([])
    write_pngs()

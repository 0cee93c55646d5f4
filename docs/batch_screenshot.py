"""Make docs/batch.png: the Batch tab after tagging a small folder of real photos.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/batch_screenshot.py [--model PATH] [OUT.png]

The folder is built in a temporary directory from scikit-image's sample photos (one of them as
a HEIC, one in a subfolder) plus a text file named ``.jpg``; the model defaults to the trained
EfficientNet-Lite0 in ``../shared/models`` (the zoo's ResNets cannot be downloaded here).
Needs the test extras (scikit-image, pillow-heif).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_folder(root: Path) -> Path:
    import pillow_heif
    import skimage.data
    from PIL import Image

    samples = Path(skimage.data.__file__).parent
    folder = root / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("astronaut.png", "coffee.png", "rocket.jpg"):
        shutil.copy(samples / name, folder / name)
    with Image.open(samples / "chelsea.png") as cat:
        pillow_heif.from_pillow(cat.convert("RGB")).save(folder / "IMG_0042.HEIC", quality=90)
    shutil.copy(samples / "motorcycle_left.png", folder / "sub" / "motorcycle_left.png")
    (folder / "notes.jpg").write_text("shopping list: eggs, milk\n")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "batch.png")
    parser.add_argument("--model", type=Path,
                        default=REPO.parent / "shared" / "models" / "efficientnet-lite0.onnx")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="resnet-desktop-shots-"))
    for variable, name in (("RESNET_DESKTOP_CACHE", "cache"), ("RESNET_DESKTOP_DATA", "data"),
                           ("RESNET_DESKTOP_SETTINGS", "settings")):
        os.environ[variable] = str(work / name)
    try:
        return shoot(make_folder(work), args.model.resolve(), args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def shoot(folder: Path, model: Path, out: Path) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_desktop.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(remember=False)
    try:
        window.resize(1100, 700)
        if not window.select_model(str(model), "cpu"):
            print(f"cannot use {model}: {window.statusBar().currentMessage()}", file=sys.stderr)
            return 1
        panel = window.batch_panel
        window.tabs.setCurrentIndex(window.tabs.indexOf(panel.parentWidget().parentWidget()))
        panel.set_folder(folder)
        panel.recursive.setChecked(True)
        loop = QEventLoop()
        panel.batch_finished.connect(lambda _: QTimer.singleShot(1500, loop.quit))
        QTimer.singleShot(120_000, loop.quit)
        window.show()
        panel.start()
        loop.exec()
        app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        print(f"wrote {out}")
        return 0
    finally:
        window.shutdown()
        window.service.shutdown(10_000)


if __name__ == "__main__":
    raise SystemExit(main())

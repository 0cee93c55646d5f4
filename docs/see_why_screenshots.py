"""Make docs/compare.png (the Compare dialog) and docs/cam.png (Classify, "Where it looked").

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/see_why_screenshots.py [--model PATH]

Compare: the trained EfficientNet-Lite0 in ``../shared/models``, the same file again under
another name (a link, so that two rows agree), and a ResNet-18-shaped graph with random
weights (tests/modelgen.py), on two of scikit-image's photos; the zoo's ResNets cannot be
downloaded here, so the catalog's default model is shown as what it is offline: a per-model
error. CAM: the same trained model on a photo made of a cat beside an
espresso, with the map of the best cat class, whose bar is clicked (the top-1 is the espresso).
Needs the test extras (scikit-image).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CAT_CLASSES = ("Egyptian cat", "tiger cat", "tabby", "Persian cat", "Siamese cat")
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _wait(signal, timeout_ms: int = 120_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(lambda *_: loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def _save(widget, out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(out)):
        raise SystemExit(f"cannot write {out}")
    print(f"wrote {out}")


def shoot_compare(work: Path, model: Path, photos: Path, out: Path) -> None:
    import modelgen

    from resnet_desktop.core.engine import Engine
    from resnet_desktop.gui.models.compare_dialog import CompareDialog
    from resnet_desktop.gui.workers.model_service import ModelService

    again = work / f"{model.stem}-again.onnx"
    again.symlink_to(model)
    shutil.copy(model.with_suffix(".json"), again.with_suffix(".json"))
    random = work / "resnet18-v2-random.onnx"
    modelgen.resnet(random, depth=18, version=2, width=16, num_classes=1000, seed=2)
    random.with_suffix(".json").write_text(json.dumps({"labels": "imagenet"}))
    chosen = [str(model), str(again), str(random)]
    service = ModelService(Engine())
    chosen.insert(1, service.engine.catalog.default_id)
    dialog = CompareDialog(service, [photos / "chelsea.png", photos / "coffee.png"], chosen)
    dialog.resize(1150, 820)
    dialog.show()
    dialog.start()
    _wait(dialog.comparison_finished)
    _save(dialog, out)
    dialog.close()


def shoot_cam(work: Path, model: Path, photos: Path, out: Path) -> None:
    from composites import fill, side_by_side

    from resnet_desktop.gui.main_window import MainWindow

    photo = work / "cat-and-espresso.jpg"
    side_by_side(fill(photos / "chelsea.png", 300, 400),
                 fill(photos / "coffee.png", 300, 400)).save(photo, quality=92)
    window = MainWindow(remember=False)
    try:
        window.resize(1100, 700)
        if not window.select_model(str(model), "cpu"):
            raise SystemExit(f"cannot use {model}: {window.statusBar().currentMessage()}")
        window.show()
        window.where_it_looked.set_enabled(True)
        window.show_image_path(photo)
        _wait(window.result_shown)
        _wait(window.chart.animation_finished, 3000)
        row = next(i for i, label in enumerate(window.chart.labels())
                   if label in CAT_CLASSES)
        window.chart.bar_clicked.emit(row)
        _save(window, out)
    finally:
        window.shutdown()
        window.service.shutdown(10_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path,
                        default=REPO.parent / "shared" / "models" / "efficientnet-lite0.onnx")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    import skimage.data
    from PySide6.QtWidgets import QApplication

    photos = Path(skimage.data.__file__).parent
    work = Path(tempfile.mkdtemp(prefix="resnet-desktop-shots-"))
    for variable, name in (("RESNET_DESKTOP_CACHE", "cache"), ("RESNET_DESKTOP_DATA", "data"),
                           ("RESNET_DESKTOP_SETTINGS", "settings")):
        os.environ[variable] = str(work / name)
    os.environ["RESNET_DESKTOP_OFFLINE"] = "1"
    app = QApplication.instance() or QApplication([sys.argv[0]])
    try:
        shoot_compare(work, args.model.resolve(), photos, args.docs / "compare.png")
        shoot_cam(work, args.model.resolve(), photos, args.docs / "cam.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

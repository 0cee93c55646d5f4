"""What class activation maps cost over plain inference (run by hand, not by pytest).

    .venv/bin/python benchmarks/bench_cam.py                  # both models, 300 triples
    .venv/bin/python benchmarks/bench_cam.py --triples 50     # a quick look

For each model, two CPU sessions of the same file: a plain one, and one whose first
``cam_available()`` rebuilt it with the feature maps as an extra output. On one real photo
(scikit-image's chelsea, preprocessed once) it times, per image:

- plain: ``Classifier.run`` on the plain session, what the app does without the overlay;
- cam: ``Classifier.run_with_cam`` plus the top-1 class's map (``for_class``), what the app
  does with "Where it looked" on;
- cam session, plain run: ``Classifier.run`` on the rebuilt session, to show that the extra
  output costs nothing while the overlay is off.

The three run back to back as a triple, ``--triples`` times after a warm-up, so that the load
other processes put on a shared machine (which swings single runs by a factor of two on the
2-core development VM) hits the three of a triple alike. The figures are the medians of the
single runs; the overhead is the median of the triples' own ratios (cam / plain - 1), with its
interquartile range. Each model is measured twice:

- wall: the app's interactive session (ONNX Runtime's default threads), wall-clock time;
- CPU: single-threaded sessions (the batch lanes' options: the model runs on the calling
  thread), timed with the thread's own CPU time, which other processes cannot inflate: the
  figure to trust on a busy machine.
 Also printed: the one-time cost of the rebuild, and of drawing the
overlay on a 1024 x 768 photo (``core.imaging.heatmap.overlay``), which the GUI does once per
class shown, not per inference.

Models: the stand-in EfficientNet-Lite0 in ``../shared/models`` and the full-size ResNet-50
graph the ``onnx`` package ships (``light_resnet50.onnx``: real shapes and FLOPs, constant
weights, batch 1, softmax output), used as a custom model with a manifest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from resnet_desktop.core.imaging.crop_box import crop_box  # noqa: E402
from resnet_desktop.core.imaging.heatmap import overlay  # noqa: E402
from resnet_desktop.core.imaging.preprocess import preprocess  # noqa: E402
from resnet_desktop.core.inference.classifier import Classifier  # noqa: E402
from resnet_desktop.core.models.manifest import load_manifest_for  # noqa: E402

SHARED_MODEL = REPO.parent / "shared" / "models" / "efficientnet-lite0.onnx"


def _light_resnet50(folder: Path) -> Path:
    source = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    path = folder / "light_resnet50.onnx"
    path.write_bytes(source.read_bytes())
    path.with_suffix(".json").write_text(json.dumps({"labels": "imagenet",
                                                     "output": "probabilities"}))
    return path


def _timer(clock: Callable[[], float]) -> Callable[[Callable[[], object]], float]:
    def timed(call: Callable[[], object]) -> float:
        start = clock()
        call()
        return (clock() - start) * 1000.0
    return timed


def measure(path: Path, triples: int, cpu: bool) -> dict[str, float]:
    """``cpu``: single-threaded sessions timed by thread CPU time; else the app's session and
    wall-clock time."""
    manifest = load_manifest_for(path)
    plain = Classifier(path, manifest, "cpu", throughput=cpu)
    cam = Classifier(path, manifest, "cpu", throughput=cpu)
    _time = _timer(time.thread_time if cpu else time.perf_counter)
    start = time.perf_counter()
    assert cam.cam_available(), f"{path.name}: no activation maps"
    rebuild_ms = (time.perf_counter() - start) * 1000.0
    photo = Image.fromarray(data.chelsea())
    tensor = preprocess(photo, plain.preprocessing)[np.newaxis]
    top = int(np.argmax(plain.run(tensor)[0]))

    def with_map() -> np.ndarray:
        _, maps = cam.run_with_cam(tensor)
        return maps[0].for_class(top)

    kinds = {"plain": lambda: plain.run(tensor), "cam": with_map,
             "cam session, plain run": lambda: cam.run(tensor)}
    for call in kinds.values():
        for _ in range(3):
            call()
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    ratios = []
    for _ in range(triples):
        triple = {kind: _time(call) for kind, call in kinds.items()}
        for kind, ms in triple.items():
            times[kind].append(ms)
        ratios.append(triple["cam"] / triple["plain"] - 1.0)
    big = photo.resize((1024, 768))
    box = crop_box(*big.size, plain.preprocessing)
    cam_map = with_map()
    draws = [_time(lambda: overlay(big, cam_map, box, 0.5)) for _ in range(10)]
    result = {kind: statistics.median(values) for kind, values in times.items()}
    quartiles = statistics.quantiles(ratios, n=4)
    result.update({"overhead": statistics.median(ratios), "overhead q1": quartiles[0],
                   "overhead q3": quartiles[2], "rebuild": rebuild_ms,
                   "draw 1024x768": statistics.median(draws)})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=300,
                        help="how many (plain, cam, cam session plain) triples to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models = [_light_resnet50(Path(folder))]
        if SHARED_MODEL.is_file():
            models.insert(0, SHARED_MODEL)
        else:
            print(f"(skipping the stand-in model: {SHARED_MODEL} not found)")
        print(f"{args.triples} triples; CPU provider, the app's interactive session\n")
        print("| model | timed | plain ms | CAM ms (run + top-1 map) | CAM session, plain run ms "
              "| overhead (median of triples, IQR) | one-time rebuild ms | overlay 1024x768 ms |")
        print("|---|---|---|---|---|---|---|---|")
        for path in models:
            for cpu in (False, True):
                r = measure(path, args.triples, cpu)
                print(f"| {path.stem} | {'CPU, 1 thread' if cpu else 'wall'} "
                      f"| {r['plain']:.1f} | {r['cam']:.1f} "
                      f"| {r['cam session, plain run']:.1f} | {r['overhead'] * 100:+.1f} % "
                      f"({r['overhead q1'] * 100:+.1f}..{r['overhead q3'] * 100:+.1f}) "
                      f"| {r['rebuild']:.0f} | {r['draw 1024x768']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

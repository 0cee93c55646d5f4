"""Start-up time of the window against a bare PySide6 window (whole processes, medians).

Run by hand (not a test), on the offscreen platform or a real display::

    .venv/bin/python benchmarks/bench_startup.py            # 5 rounds
    .venv/bin/python benchmarks/bench_startup.py --rounds 9

Each round runs, one after the other so that a drifting machine speed hits every figure alike:

- **bare window**: a process that imports PySide6, shows an empty ``QMainWindow`` and exits
  at its first paint;
- **first paint**: ``resnet-desktop`` itself (its entry point, ``resnet_desktop.cli.main``), exiting
  at the main window's first paint;
- **classify**: ``resnet-desktop classify IMAGE`` with the built-in model;
- **first result**: ``resnet-desktop IMAGE`` (the same entry point): the window opens, loads the
  built-in model, classifies the image and exits once the chart has the answer.

It prints the medians and the two ratios the app is held to: first paint ≤ 2.5× the bare
window, first result ≤ 1.3× (bare window + classify). Every process gets fresh settings,
cache and data folders, so no earlier run's state helps. The processes share one bytecode
cache outside the checkout (``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE``
is set), filled by a first round that is not counted: an installed app (a wheel, a bundle)
starts from compiled bytecode, so compiling the sources on every start is not measured.
``--compile`` keeps the environment's choice instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FIRST_PAINT = """
import sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow

class QuitAtFirstPaint(QObject):
    # Quit at the main window's first paint, or ("result") once its chart has the answer.
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and isinstance(watched, QMainWindow):
            QApplication.instance().removeEventFilter(self)
            if sys.argv[1] == "result":
                watched.result_shown.connect(lambda _result: QApplication.instance().exit(0))
            else:
                QApplication.instance().exit(0)
        return False

app = QApplication(sys.argv[:1])
quitter = QuitAtFirstPaint()
app.installEventFilter(quitter)
if sys.argv[1] == "bare":
    window = QMainWindow()
    window.resize(1100, 700)
    window.show()
    sys.exit(app.exec())
from resnet_desktop.cli import main
sys.exit(main(sys.argv[2:]))
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one whole process; a failure stops the benchmark with its output."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def fresh_env(root: Path, platform: str, pycache: Path | None) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM=platform,
               QT_LOGGING_RULES="qt.multimedia.*=false")
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    for name in ("CACHE", "DATA", "SETTINGS", "CONFIG"):
        folder = root / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[f"RESNET_DESKTOP_{name}"] = str(folder)
    env.pop("RESNET_DESKTOP_CATALOG", None)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--image", type=Path,
                        help="photo to classify (default: the self-test's coffee.jpg)")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                        help="Qt platform (default offscreen)")
    parser.add_argument("--compile", action="store_true",
                        help="no shared bytecode cache and no warm-up round: measure with the "
                             "environment's own bytecode setting")
    args = parser.parse_args()
    image = args.image or REPO / "resources" / "selftest" / "coffee.jpg"
    python = sys.executable
    app = [python, "-m", "resnet_desktop"]  # the classify command
    figures: dict[str, list[float]] = {k: [] for k in ("bare", "paint", "classify", "result")}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        pycache = None if args.compile else root / "pycache"
        first = 0 if args.compile else -1  # round -1 fills the bytecode cache, uncounted
        for round_ in range(first, args.rounds):
            env = fresh_env(root / f"r{round_}", args.platform, pycache)
            sample = {
                "bare": timed([python, "-c", FIRST_PAINT, "bare"], env),
                "paint": timed([python, "-c", FIRST_PAINT, "app"], env),
                "classify": timed([*app, "classify", str(image)], env),
                "result": timed([python, "-c", FIRST_PAINT, "result", str(image)], env),
            }
            if round_ >= 0:
                for name, seconds in sample.items():
                    figures[name].append(seconds)
    median = {k: statistics.median(v) for k, v in figures.items()}
    bytecode = "the environment's bytecode setting" if args.compile else "bytecode cached"
    print(f"medians of {args.rounds} whole processes ({args.platform} platform, {bytecode}):")
    print(f"  bare PySide6 window, first paint   {median['bare']:.2f} s")
    print(f"  ResNet Desktop, first paint        {median['paint']:.2f} s")
    print(f"  resnet-desktop classify IMAGE      {median['classify']:.2f} s")
    print(f"  ResNet Desktop, first result       {median['result']:.2f} s")
    paint_ratio = median["paint"] / median["bare"]
    result_ratio = median["result"] / (median["bare"] + median["classify"])
    print(f"first paint / bare window               {paint_ratio:.2f}  (target <= 2.5)")
    print(f"first result / (bare window + classify) {result_ratio:.2f}  (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

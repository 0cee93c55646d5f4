"""How long `resnet-desktop info` takes on full-size ResNet graphs (run by hand, not by pytest).

    .venv/bin/python benchmarks/facts_speed.py

Builds ResNet-18/50 v1 and ResNet-152 v2 graphs with 1000 classes (random weights, the zoo
files' sizes), saves each to a temporary folder and times ``core.facts.model_facts`` on it
(SHA-256 of the file, loading the graph, shape inference, counting).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import modelgen  # noqa: E402
import onnx  # noqa: E402

from resnet_desktop.core.models.facts import format_bytes, format_count, model_facts  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for depth, version in ((18, 1), (50, 1), (152, 2)):
            path = Path(folder) / f"resnet{depth}.onnx"
            onnx.save(modelgen.resnet(depth=depth, version=version, width=64,
                                      num_classes=1000), str(path))
            start = time.perf_counter()
            facts = model_facts(path)
            seconds = time.perf_counter() - start
            print(f"ResNet-{depth} v{version}: {format_bytes(facts.bytes):>9}  "
                  f"params {format_count(facts.params):>9}  "
                  f"MACs {format_count(facts.macs):>9}  {seconds:.2f} s")
            path.unlink()


if __name__ == "__main__":
    main()

"""``tag`` on this machine vs ``tag --ray local``: steady-state images/s and Ray's start-up.

Run by hand (not a test), with the cluster extra installed::

    .venv/bin/python benchmarks/bench_ray.py                  # 100 and 300 photos, ResNet-50
    .venv/bin/python benchmarks/bench_ray.py --sizes 50 150 --repeat 1

Same photos and model as ``bench_tag.py`` (12-megapixel JPEGs from a RAM-backed folder, the
full-size ResNet-50 graph the onnx package ships), every run through the one ``tag_folder``
operation in this process with a fresh results store, timed from the call to the last record.

Ray's results arrive in bursts (a batch of files at a time, in order, from workers that
started together), so a rate over part of one run says little. Two folder sizes instead:

- steady state: the extra images over the extra time, ``(N2 - N1) / (T2 - T1)``: every fixed
  cost (starting Ray, the driver process, the actor pool and its sessions, the last batch's
  drain) cancels out; this is the figure the issue's ratio (>= 0.8 of local ``tag``) is about;
- start-up: what is left of the smaller run, ``T1 - N1 / steady``; and the time to the first
  record.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bench_tag import Phase, make_model, make_photos, ram_copy, subset  # noqa: E402

from resnet_desktop.core.batch.cluster import LOCAL, ClusterOptions  # noqa: E402
from resnet_desktop.core.batch.run import BatchOptions  # noqa: E402
from resnet_desktop.core.engine import Engine  # noqa: E402
from resnet_desktop.core.operations.tag_folder import TagRequest, TagSink  # noqa: E402


class _Clock(TagSink):
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.times: list[float] = []

    def record_done(self, record, progress) -> None:
        self.times.append(time.perf_counter() - self.start)


def run(folder: Path, model: Path, cluster: ClusterOptions | None) -> tuple[float, float]:
    """(seconds to the first record, seconds to the last) of one run."""
    clock = _Clock()
    Engine().tag_folder(model, "cpu", TagRequest(folder, BatchOptions(skip_done=False),
                                                 cluster=cluster), clock)
    return clock.times[0], clock.times[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[100, 300], metavar="N")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "resnet-desktop-bench")
    args = parser.parse_args()
    os.environ["RESNET_DESKTOP_DATA"] = tempfile.mkdtemp(prefix="bench-ray-data-")
    photos = make_photos(args.cache, max(args.sizes))
    ram = Path(tempfile.mkdtemp(prefix="resnet-desktop-bench-", dir="/dev/shm"))
    try:
        return measure(args, photos, ram)
    finally:
        shutil.rmtree(ram, ignore_errors=True)


def measure(args: argparse.Namespace, photos: Path, ram: Path) -> int:
    small, large = sorted(args.sizes)
    copied = ram_copy(photos, large, ram)
    folders = {size: subset(ram, copied, size) for size in (small, large)}
    model = make_model(args.cache)
    variants = {
        "tag (local)": None,
        "tag --ray local (1-CPU workers)": ClusterOptions(LOCAL),
        f"tag --ray local --ray-cpus {os.cpu_count()}": ClusterOptions(
            LOCAL, cpus_per_worker=os.cpu_count() or 1),
    }
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    phases: list[Phase] = []
    for _ in range(args.repeat):
        for name, cluster in variants.items():
            with Phase(name) as phase:
                first, t_small = run(folders[small], model, cluster)
                _, t_large = run(folders[large], model, cluster)
            steady = (large - small) / (t_large - t_small)
            rows[name].append((steady, t_small - small / steady, first))
            phases.append(phase)
            print(name, rows[name][-1], file=sys.stderr, flush=True)
    local = statistics.median(r[0] for r in rows["tag (local)"])
    print(f"\n{small} and {large} photos 4000x3000 JPEG q90 (tmpfs), light_resnet50.onnx, "
          f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}; "
          f"medians of {args.repeat}\n")
    print("| run | steady-state images/s | / local | start-up (s) | first record (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        steady = statistics.median(r[0] for r in values)
        print(f"| {name} | {steady:.2f} | {steady / local:.2f} | "
              f"{statistics.median(r[1] for r in values):.1f} | "
              f"{statistics.median(r[2] for r in values):.1f} |")
    print("\nCPU taken by processes other than this one and its children (Ray's workers and "
          "services count as others) during each: "
          + ", ".join(phase.text() for phase in phases))
    print("\nCommand: .venv/bin/python benchmarks/bench_ray.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

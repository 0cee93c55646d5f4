"""Folder tagging speed and memory: naive loop vs ``resnet-desktop tag`` vs the inference bound.

Run by hand (not a test)::

    .venv/bin/python benchmarks/bench_tag.py                 # 200 and 1000 images
    .venv/bin/python benchmarks/bench_tag.py --repeat 3      # the same, three times: medians
    .venv/bin/python benchmarks/bench_tag.py --sizes 50 --naive 20   # a quick look

What it does, in one run:

1. makes (once, then reuses from ``--cache``) N 12-megapixel JPEGs: 4000x3000, scikit-image's
   colour photos cropped at random, upscaled, with sensor-like luminance noise, quality 90
   (about 3 MB each, like a phone or camera photo);
2. takes the full-size ResNet-50 graph the ``onnx`` package ships for its backend tests
   (``onnx/backend/test/data/light/light_resnet50.onnx``: real ResNet-50 shapes and FLOPs,
   constant weights, fixed batch 1, softmax output) and uses it as a custom model
   (a copy with a manifest: labels "imagenet", output "probabilities");
3. copies the photos into a RAM-backed folder (``/dev/shm``; ``--from-disk`` skips this), so
   that the disk's speed and the luck of the page cache stay out of the figures;
4. measures, with ``Classifier`` sessions on the CPU provider:

   (a) the naive reference: per file a full PIL decode, then the ONNX Model Zoo's
       ``imagenet_preprocess.py`` steps (resize the shorter side to 256 with bilinear, centre
       crop 224, normalise, CHW), then one ``session.run``, sequentially, in this process,
       on a session with ONNX Runtime's default options;
   (b) ``resnet-desktop tag FOLDER --no-skip --csv --json`` run as a real subprocess with a
       fresh results store; its images/s is the batch's own figure from the JSON summary
       (first image to last record, model loading and interpreter start excluded; the wall
       time with them is printed too); peak RSS from ``os.wait4`` of that child;
   (c) the inference bound: ``session.run`` alone on a ready tensor, repeated, on the
       default-options session (spinning threads: the fastest for runs back to back);
   (c2) the stricter bound for the way ``tag`` runs the model: ``session.run`` alone on ready
       tensors from as many threads at once as the tagger has lanes, on the app's throughput
       session (one intra-op thread per lane, see ``core.inference.throughput_layout``).
       On 2 cores this is a little faster than (c), so b/c2 is the harder ratio;

   (d) the decode-only bound: the app's own decode and preprocessing
       (``load_image`` in draft mode + ``preprocess``) on every core at once, no model; and
       (b0) ``tag`` as in (b) with a near-free model (global average pooling and one 3x1000
       matrix), whose images/s against (d) says how much the pipeline itself costs;

   (c) and (c2) are measured before and after the rest and the median taken, because a shared
   machine's speed drifts (by 10-20% within minutes on the 2-core development VM);
   ``--repeat N`` runs the whole measurement N times and reports the medians, each
   repetition's ratios taken from its own figures. The share of the CPU other processes took
   during each phase is printed so that a contaminated figure is visible. Finally the CPU cost
   of one image's decoding and of one ``session.run`` give the ceiling no pipeline can pass on
   this machine.

Prints a Markdown table for the README and the ratios b/a and b/c.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WIDTH, HEIGHT = 4000, 3000
SOURCES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
           "motorcycle_right.png", "hubble_deep_field.jpg")
NOISE_SIGMA = 6.0


def light_resnet50() -> Path:
    import onnx

    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: this onnx package does not ship the light models")
    return path


def make_model(cache: Path) -> Path:
    """A custom model folder: the light ResNet-50 plus its sidecar manifest."""
    target = cache / "model" / "resnet50-light.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(light_resnet50(), target)
    target.with_suffix(".json").write_text(json.dumps({
        "name": "ResNet-50 (onnx backend-test graph, constant weights)",
        "labels": "imagenet", "input_size": 224, "resize": 256, "output": "probabilities",
    }, indent=2))
    return target


def make_free_model(cache: Path) -> Path:
    """A near-free classifier with ResNet's input and output: global average pooling, then one
    3x1000 matrix (logits), so that ``tag`` with it is bound by decoding alone."""
    import onnx
    from onnx import TensorProto, helper

    target = cache / "model" / "near-free.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        weights = np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])],
            "near-free",
            [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 224, 224])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
            [onnx.numpy_helper.from_array(weights, "w")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(target))
    target.with_suffix(".json").write_text(json.dumps({
        "name": "near-free (pooling + 3x1000 matrix)", "labels": "imagenet", "input_size": 224,
        "resize": 256, "output": "logits"}, indent=2))
    return target


def decode_bound(files: list[Path]) -> float:
    """(d) images/s of the app's decode + preprocessing alone, one thread per core."""
    from concurrent.futures import ThreadPoolExecutor

    from resnet_desktop.core.imaging.decode import draft_size_for, load_image
    from resnet_desktop.core.imaging.preprocess import preprocess
    from resnet_desktop.core.models.manifest import Preprocessing

    pre = Preprocessing()
    draft = draft_size_for(pre)
    start = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for _ in pool.map(lambda f: preprocess(load_image(f, draft=draft), pre), files):
            pass
    return len(files) / (time.perf_counter() - start)


def _photo(index: int) -> None:
    """Worker: write image ``index`` of the set (deterministic from the index)."""
    import skimage.data

    out = _photo.folder / f"IMG_{index:05d}.jpg"  # type: ignore[attr-defined]
    if out.exists():
        return
    rng = np.random.default_rng(index)
    source = Path(skimage.data.__file__).parent / SOURCES[index % len(SOURCES)]
    with Image.open(source) as opened:
        base = opened.convert("RGB")
    w, h = base.size
    cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = base.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    big = np.asarray(crop.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), np.float32)
    noise = rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32) * NOISE_SIGMA
    pixels = np.clip(big * rng.uniform(0.85, 1.1) + noise, 0, 255).astype(np.uint8)
    tmp = out.with_suffix(".tmp")
    Image.fromarray(pixels).save(tmp, "JPEG", quality=90)
    os.replace(tmp, out)


def _init(folder: Path) -> None:
    _photo.folder = folder  # type: ignore[attr-defined]


def make_photos(cache: Path, count: int) -> Path:
    folder = cache / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(count) if not (folder / f"IMG_{i:05d}.jpg").exists()]
    if missing:
        print(f"generating {len(missing)} 12-megapixel JPEGs in {folder} (kept for next time)",
              file=sys.stderr, flush=True)
        with ProcessPoolExecutor(os.cpu_count() or 1, initializer=_init,
                                 initargs=(folder,)) as pool:
            for done, _ in enumerate(pool.map(_photo, missing, chunksize=4), 1):
                if done % 50 == 0:
                    print(f"  {done}/{len(missing)}", file=sys.stderr, flush=True)
    return folder


def ram_copy(photos: Path, count: int, ram: Path) -> Path:
    """The first ``count`` photos copied into a RAM-backed folder.

    Measured from a disk, the figures would be the disk's: this development VM reads 40-80 MB/s
    (a 12-megapixel JPEG is 3-4 MB) and reclaims idle page cache within minutes, so which run
    finds its files cached is luck. tmpfs keeps every run CPU-bound and comparable.
    """
    folder = ram / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"IMG_{i:05d}.jpg"
        if not (folder / name).exists():
            shutil.copyfile(photos / name, folder / name)
    return folder


def subset(cache: Path, photos: Path, count: int) -> Path:
    """A folder holding exactly the first ``count`` photos (hard links, no copies)."""
    folder = cache / f"set-{count}"
    wanted = {f"IMG_{i:05d}.jpg" for i in range(count)}
    folder.mkdir(exist_ok=True)
    for extra in folder.iterdir():
        if extra.name not in wanted:
            extra.unlink()
    for name in sorted(wanted):
        target = folder / name
        if not target.exists():
            try:
                os.link(photos / name, target)
            except OSError:
                shutil.copy(photos / name, target)
    return folder


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, steal) jiffies of the whole machine from /proc/stat, or None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]) - idle, steal


class Phase:
    """How much of the machine other processes (and other VMs) took during a measurement.

    Busy CPU time of the whole machine minus this process and its children; steal is time
    the hypervisor gave our virtual CPUs to someone else. Either one above a few percent
    makes that phase's figure unreliable.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.others: float | None = None
        self.steal: float | None = None

    def __enter__(self) -> Phase:
        self._wall = time.perf_counter()
        self._own = self._own_cpu()
        self._machine = _cpu_jiffies()
        return self

    @staticmethod
    def _own_cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        machine = _cpu_jiffies()
        if machine is None or self._machine is None or wall <= 0:
            return
        tick = os.sysconf("SC_CLK_TCK")
        busy = (machine[0] - self._machine[0]) / tick
        own = self._own_cpu() - self._own
        cores = os.cpu_count() or 1
        self.others = max(0.0, busy - own) / (wall * cores) * 100
        self.steal = (machine[1] - self._machine[1]) / tick / (wall * cores) * 100

    def text(self) -> str:
        if self.others is None:
            return f"{self.name} n/a"
        return f"{self.name} {self.others:.0f}% (steal {self.steal:.0f}%)"


def wait_until_quiet(limit: float) -> None:
    """Wait (up to ``limit`` seconds) until the 1-minute load average is below 0.5."""
    deadline = time.monotonic() + limit
    while os.getloadavg()[0] >= 0.5 and time.monotonic() < deadline:
        time.sleep(5)
    print(f"load average {os.getloadavg()[0]:.2f} at the start", file=sys.stderr, flush=True)


def cpu_ceiling(session, input_name: str, files: list[Path]) -> tuple[float, float, float]:
    """(decode+preprocess CPU ms, session.run CPU ms, images/s if both kept every core busy)."""
    from resnet_desktop.core.imaging.decode import draft_size_for, load_image
    from resnet_desktop.core.imaging.preprocess import preprocess
    from resnet_desktop.core.models.manifest import Preprocessing

    pre = Preprocessing()
    start = time.process_time()
    tensors = [preprocess(load_image(f, draft=draft_size_for(pre)), pre) for f in files]
    decode = (time.process_time() - start) / len(files)
    start = time.process_time()
    for tensor in tensors:
        session.run(None, {input_name: tensor[np.newaxis]})
    infer = (time.process_time() - start) / len(files)
    return decode * 1000, infer * 1000, (os.cpu_count() or 1) / (decode + infer)


def naive_reference(session, input_name: str, files: list[Path]) -> float:
    """(a) images/s: full decode, the zoo's preprocessing, one session.run per file."""
    mean_vec = np.array([0.485, 0.456, 0.406])
    stddev_vec = np.array([0.229, 0.224, 0.225])

    def preprocess(image: Image.Image) -> np.ndarray:
        ratio = 256.0 / min(image.size[0], image.size[1])
        if image.size[0] > image.size[1]:
            new_size = (int(round(ratio * image.size[0])), 256)  # noqa: RUF046 (as the zoo)
        else:
            new_size = (256, int(round(ratio * image.size[1])))  # noqa: RUF046
        pixels = np.array(image.resize(new_size, Image.BILINEAR))
        h, w, _ = pixels.shape
        start_x, start_y = w // 2 - 112, h // 2 - 112
        pixels = pixels[start_y:start_y + 224, start_x:start_x + 224, :]
        data = pixels.transpose(2, 0, 1).astype("float32")
        norm = np.zeros(data.shape).astype("float32")
        for i in range(data.shape[0]):
            norm[i, :, :] = (data[i, :, :] / 255 - mean_vec[i]) / stddev_vec[i]
        return norm.reshape(1, 3, 224, 224).astype("float32")

    start = time.perf_counter()
    for path in files:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        session.run(None, {input_name: preprocess(image)})
    return len(files) / (time.perf_counter() - start)


def inference_bound(session, input_name: str, runs: int) -> float:
    """(c) images/s of session.run alone on a ready tensor."""
    tensor = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    session.run(None, {input_name: tensor})
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, {input_name: tensor})
    return runs / (time.perf_counter() - start)


def lanes_bound(classifier, runs: int) -> float:
    """(c2) images/s of session.run alone, from ``classifier.lanes`` threads at once."""
    import threading

    tensor = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    classifier.run(tensor)

    def loop() -> None:
        for _ in range(runs):
            classifier.run(tensor)

    threads = [threading.Thread(target=loop) for _ in range(classifier.lanes)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs * len(threads) / (time.perf_counter() - start)


class PeakRss:
    """The child's own peak RSS, from ``VmHWM`` in ``/proc/PID/status`` (Linux).

    ``ru_maxrss`` from ``wait4`` is not the child's figure: Linux carries the high-water mark of
    the memory the child had between fork and exec over, and that memory is this benchmark's
    own (a few hundred MB with its sessions), so a 200-image and a 1000-image run would both
    report the parent's size. ``VmHWM`` belongs to the process's memory after exec; it only
    grows, so the last value read before the child exits is its peak (polled every 20 ms).
    """

    def __init__(self, pid: int) -> None:
        import threading

        self.peak_kb = 0
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                for line in self._path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                return
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def tag_subprocess(folder: Path, model: Path, work: Path) -> dict:
    """(b) the real CLI in a child process with a fresh results store."""
    data = work / f"data-{folder.name}"
    shutil.rmtree(data, ignore_errors=True)
    env = dict(os.environ, RESNET_DESKTOP_DATA=str(data), PYTHONPATH=str(REPO))
    out_json, out_csv = work / f"{folder.name}.json", work / f"{folder.name}.csv"
    command = [sys.executable, "-m", "resnet_desktop", "tag", str(folder), "--model", str(model),
               "--provider", "cpu", "--no-skip", "--json", str(out_json), "--csv", str(out_csv)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, cwd=REPO)
    watcher = PeakRss(child.pid)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    watcher.stop()
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"resnet-desktop tag failed ({child.returncode}):\n{stderr}")
    summary = json.loads(out_json.read_text(encoding="utf-8"))["summary"]
    # ru_maxrss is in kilobytes on Linux, bytes on macOS; see PeakRss for why it is a fallback.
    rss = watcher.peak_kb * 1024 if watcher.peak_kb else (
        usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
    return {"images": summary["images"], "rate": summary["images_per_second"],
            "wall": wall, "wall_rate": summary["images"] / wall, "rss_mb": rss / 2**20,
            "errors": summary["errors"], "command": command}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000],
                        help="folder sizes for (b) and peak RSS (default 200 1000)")
    parser.add_argument("--naive", type=int, default=100,
                        help="images for the naive reference (a) (default 100)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "resnet-desktop-bench",
                        help="where the generated photos and model are kept between runs")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="repeat the whole measurement N times and report the medians "
                             "(this shared machine's speed drifts by 10-20%% within minutes)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to this long for the machine to be idle")
    parser.add_argument("--from-disk", action="store_true",
                        help="read the photos from --cache instead of a copy in /dev/shm "
                             "(then the disk's speed is part of every figure)")
    args = parser.parse_args()
    ram = Path("/dev/shm")
    if args.from_disk or not ram.is_dir():
        return measure(args, None)
    ram_dir = Path(tempfile.mkdtemp(prefix="resnet-desktop-bench-", dir=ram))
    try:
        return measure(args, ram_dir)
    finally:
        shutil.rmtree(ram_dir, ignore_errors=True)


def repetition(number: int | None, default, batch_session, files: list[Path], naive_count: int,
               sizes: list[int], root: Path, photos: Path, model: Path, work: Path,
               phases: list[Phase], free_model: Path) -> dict:
    """One whole measurement: (c) and (c2) rounds, (a), (b) for each size, (c) and (c2) again.

    The bounds are measured right before and right after, so that each repetition's ratios
    compare figures taken under the same conditions of a shared machine.
    """
    tag = f" #{number}" if number is not None else ""
    input_name = default.io.input_name
    bound, lanes = [], []
    with Phase(f"c before{tag}") as phase:
        bound += [inference_bound(default.session, input_name, 30) for _ in range(5)]
        lanes += [lanes_bound(batch_session, 15) for _ in range(5)]
    phases.append(phase)
    with Phase(f"a{tag}") as phase:
        naive = naive_reference(default.session, input_name, files[:naive_count])
    phases.append(phase)
    tagged = {}
    for size in sizes:
        folder = subset(root, photos, size)
        with Phase(f"b {size}{tag}") as phase:
            tagged[size] = tag_subprocess(folder, model, work)
        phases.append(phase)
    with Phase(f"d{tag}") as phase:
        decoded = decode_bound(files[:sizes[-1]])
    phases.append(phase)
    with Phase(f"b0{tag}") as phase:
        free = tag_subprocess(subset(root, photos, sizes[-1]), free_model, work)
    phases.append(phase)
    with Phase(f"c after{tag}") as phase:
        bound += [inference_bound(default.session, input_name, 30) for _ in range(5)]
        lanes += [lanes_bound(batch_session, 15) for _ in range(5)]
    phases.append(phase)
    if number is not None:
        print(f"repetition {number} done", file=sys.stderr, flush=True)
    return {"bound": bound, "lanes": lanes, "c": statistics.median(bound),
            "c2": statistics.median(lanes), "naive": naive, "tagged": tagged, "d": decoded,
            "free": free["rate"]}


def median_tagged(runs: list[dict]) -> dict:
    """The (b) run with the median rate (its own RSS and wall time stay with it)."""
    return sorted(runs, key=lambda r: r["rate"])[(len(runs) - 1) // 2]


def measure(args: argparse.Namespace, ram: Path | None) -> int:

    import onnxruntime as ort

    from resnet_desktop.core.inference.classifier import Classifier
    from resnet_desktop.core.models.manifest import load_manifest_for

    sizes_sorted = sorted(set(args.sizes))
    largest = sizes_sorted[-1]
    photos = make_photos(args.cache, max(largest, args.naive))
    root = args.cache
    if ram is not None:
        print(f"copying the photos to {ram}", file=sys.stderr, flush=True)
        photos, root = ram_copy(photos, max(largest, args.naive), ram), ram
    model = make_model(args.cache)
    free_model = make_free_model(args.cache)
    manifest = load_manifest_for(model)
    # (a) and (c) use ONNX Runtime's defaults (threads = cores, spinning on): the fastest
    # session for one run at a time. (b) and (c2) run the app's throughput session.
    default = Classifier(model, manifest, "cpu", model.stem)
    batch_session = Classifier(model, manifest, "cpu", model.stem, throughput=True)
    input_name = default.io.input_name
    files = sorted(photos.glob("IMG_*.jpg"))
    sizes = [f.stat().st_size for f in files[:largest]]
    work = args.cache / "runs"
    work.mkdir(exist_ok=True)
    if args.wait_quiet:
        wait_until_quiet(args.wait_quiet)

    phases: list[Phase] = []
    reps = []
    for rep in range(1, args.repeat + 1):
        reps.append(repetition(rep if args.repeat > 1 else None, default, batch_session, files,
                               args.naive, sizes_sorted, root, photos, model, work, phases,
                               free_model))
    with Phase("ceiling") as phase:
        decode_ms, infer_ms, ceiling = cpu_ceiling(batch_session.session, input_name,
                                                   files[:40])
    phases.append(phase)
    bound = [v for r in reps for v in r["bound"]]
    lanes = [v for r in reps for v in r["lanes"]]
    c = statistics.median(r["c"] for r in reps)
    c2 = statistics.median(r["c2"] for r in reps)
    naive = statistics.median(r["naive"] for r in reps)
    tagged = {size: median_tagged([r["tagged"][size] for r in reps]) for size in sizes_sorted}

    b_rate = tagged[largest]["rate"]
    ratio_ba = statistics.median(r["tagged"][largest]["rate"] / r["naive"] for r in reps)
    ratio_bc = statistics.median(r["tagged"][largest]["rate"] / r["c"] for r in reps)
    ratio_bc2 = statistics.median(r["tagged"][largest]["rate"] / r["c2"] for r in reps)
    print()
    print(f"Machine: {os.cpu_count()} CPU cores, onnxruntime {ort.__version__}, "
          f"Pillow {Image.__version__}, numpy {np.__version__}, Python "
          f"{sys.version.split()[0]}; photos 4000x3000 JPEG q90, mean "
          f"{statistics.mean(sizes) / 1e6:.1f} MB, read from "
          f"{'a RAM-backed copy (tmpfs)' if ram is not None else 'disk'}; model "
          f"light_resnet50.onnx (ResNet-50, fixed batch 1)")
    print()
    print("| measurement | images | images/s | notes |")
    print("|---|---:|---:|---|")
    if len(reps) > 1:
        print(f"Each figure is the median of {len(reps)} repetitions of the whole measurement; "
              "the ratios are the medians of each repetition's own ratios.")
        print()
    print(f"| (a) naive: full decode + zoo preprocessing + `session.run`, sequential | "
          f"{args.naive} | {naive:.2f} | in-process, ONNX Runtime defaults |")
    for size in sizes_sorted:
        t = tagged[size]
        print(f"| (b) `resnet-desktop tag` (CLI subprocess) | {size} | {t['rate']:.2f} | "
              f"{t['wall_rate']:.2f}/s counting start-up and model load ({t['wall']:.1f} s); "
              f"peak RSS {t['rss_mb']:.0f} MB |")
    print(f"| (c) `session.run` alone on ready tensors | {30 * len(bound)} runs | {c:.2f} | "
          f"ONNX Runtime defaults; rounds of 30: {', '.join(f'{v:.1f}' for v in bound)} |")
    print(f"| (c2) `session.run` alone, {batch_session.lanes} threads at once | "
          f"{15 * batch_session.lanes * len(lanes)} runs | {c2:.2f} | the app's throughput "
          f"session; rounds: {', '.join(f'{v:.1f}' for v in lanes)} |")
    d = statistics.median(r["d"] for r in reps)
    free = statistics.median(r["free"] for r in reps)
    ratio_free = statistics.median(r["free"] / r["d"] for r in reps)
    print(f"| (d) decode + preprocess alone, {os.cpu_count()} threads | {largest} | {d:.2f} | "
          f"the app's `load_image` (draft) + `preprocess`, no model |")
    print(f"| (b0) `resnet-desktop tag` with a near-free model | {largest} | {free:.2f} | "
          f"global average pooling + 3x1000 matrix; same subprocess as (b) |")
    print()
    if len(reps) > 1:
        print("| repetition | (a) | (b) " + " | (b) ".join(map(str, sizes_sorted))
              + " | (c) | (c2) | b/a | b/c | b/c2 |")
        print("|---:" * (7 + len(sizes_sorted)) + "|")
        for n, r in enumerate(reps, 1):
            b = r["tagged"][largest]["rate"]
            print(f"| {n} | {r['naive']:.2f} | "
                  + " | ".join(f"{r['tagged'][size]['rate']:.2f}" for size in sizes_sorted)
                  + f" | {r['c']:.2f} | {r['c2']:.2f} | {b / r['naive']:.2f} | "
                  f"{b / r['c']:.2f} | {b / r['c2']:.2f} |")
        print()
    print(f"- b/a = {ratio_ba:.2f} (target >= 2.5)")
    print(f"- b/c = {ratio_bc:.2f} (target >= 0.7); b/c2 = {ratio_bc2:.2f}")
    print(f"- b0/d = {ratio_free:.2f} (target >= 0.85): what the pipeline costs when the model "
          "is free")
    if len(sizes_sorted) > 1:
        low, high = tagged[sizes_sorted[0]], tagged[sizes_sorted[-1]]
        print(f"- peak RSS {high['rss_mb']:.0f} MB at {sizes_sorted[-1]} images vs "
              f"{low['rss_mb']:.0f} MB at {sizes_sorted[0]}: "
              f"{high['rss_mb'] - low['rss_mb']:+.0f} MB (target within 50 MB)")
    print(f"- CPU cost per image: draft decode + preprocess {decode_ms:.0f} ms, "
          f"`session.run` (throughput session, one thread) {infer_ms:.0f} ms; "
          f"with every core busy all the "
          f"time the ceiling is {ceiling:.2f} images/s = {ceiling / c:.2f} of (c), "
          f"{ceiling / c2:.2f} of (c2); "
          f"(b) reaches {b_rate / ceiling:.0%} of it")
    print("- CPU taken by other processes during each phase: "
          + ", ".join(phase.text() for phase in phases))
    print()
    print("Command: .venv/bin/python benchmarks/bench_tag.py " + " ".join(sys.argv[1:]))
    print("(b) ran: resnet-desktop " + " ".join(
        Path(a).name if a.startswith("/") else a for a in tagged[largest]["command"][3:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

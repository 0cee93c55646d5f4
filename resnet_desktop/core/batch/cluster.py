"""Folder batches on a Ray cluster: decoding and classification on the cluster's workers.

:class:`RayPipeline` stands in for the local
:class:`~resnet_desktop.core.batch.pipeline.ClassifyPipeline` inside
:class:`~resnet_desktop.core.batch.run.BatchRun`, so everything around it stays as a local run
does it on this machine (the driver): discovery, the results store, the exports, sidecars,
embedded keywords, the undo journal, per-file errors, cancellation.

The cluster side is Ray Data's batch inference (no scheduler of our own): a dataset of the
file paths that need work, ``map_batches`` with a pool of :class:`ClassifyWorker` actors, each
holding one ONNX Runtime session and running the local pipeline over its batch (so a file
gives the same probabilities and the same error message as in a local run), in the dataset's
order. Ray restarts an actor whose process dies and retries its batch there, so every file
still gets exactly one outcome. When the cluster has GPUs, each actor takes one.

Workers read the files at the same path (shared storage), or with ``ship_bytes`` a reading
stage pinned to the driver's node reads each file and the bytes travel through Ray's object
store. The model and its labels always travel with the job: the driver's model cache is not
shared storage.

The driver hands Ray at most :attr:`ClusterOptions.window` files at a time (one Ray Data
execution each), so its memory stays bounded on an archive of millions of files; each window
starts its actor pool again (a few seconds, next to minutes of work).

Ray is an optional dependency (the ``cluster`` extra); it is imported only here, and only
when a run asks for a cluster.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from resnet_desktop.core.batch.pipeline import ClassifyPipeline, Outcome
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import ModelError, ResNetDesktopError
from resnet_desktop.core.foundation.regular_file import open_regular
from resnet_desktop.core.imaging.decode import DEFAULT_MAX_PIXELS, load_image
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.labels import IMAGENET, Label
from resnet_desktop.core.models.manifest import ModelManifest

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCAL = "local"
"""Start a Ray of our own on this machine for the run (to try it)."""
AUTO = "auto"
"""The running cluster (``ray start --head`` here, or ``RAY_ADDRESS``): Ray's convention."""

DEFAULT_WINDOW = 4096
"""Files handed to Ray per execution (see the module doc)."""
DEFAULT_RAY_BATCH = 32
"""Files per Ray Data batch (one actor call): enough to amortise a call, small enough that a
retried batch repeats little work and results stream back steadily."""

STOP_SECONDS = 10
"""How long a run that stops early waits for Ray's driver process to shut Ray down."""

SHIP_LIMIT = 256 << 20
"""With ``ship_bytes``, a file larger than this is not sent (no photo is this large, and the
decoder refuses such files by their pixel count anyway)."""


class ClusterError(ResNetDesktopError):
    """Ray is missing, the cluster cannot be reached, or it went away during the run."""


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how a folder batch runs on Ray."""

    address: str = AUTO
    """:data:`AUTO`, :data:`LOCAL` or a cluster address (``ray://head:10001``, ``head:6379``)."""
    ship_bytes: bool = False
    """The driver reads each file and sends its bytes (clusters without shared storage)."""
    cpus_per_worker: int = 1
    """CPUs each CPU actor asks for: its decoding threads and its session's threads."""
    batch_size: int = DEFAULT_RAY_BATCH
    window: int = DEFAULT_WINDOW


def ray_missing() -> str | None:
    """Why Ray cannot be used here, or None when it can."""
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        return (f"Ray is not installed ({exc}); install the cluster extra: "
                "pip install 'resnet-desktop[cluster]'")
    return None


@dataclass(frozen=True)
class _ModelPayload:
    """What a worker needs to open the model the driver opened, whatever its file system."""

    model_id: str
    sha256: str
    manifest: ModelManifest
    labels: tuple[Label, ...]
    provider: str
    model_ref: Any
    """A Ray object reference to the model file's bytes."""


def _materialise(payload: _ModelPayload, model_bytes: bytes) -> tuple[Path, ModelManifest]:
    """The model (and a labels file, unless ImageNet's) in this node's temporary folder,
    written once per node and version, atomically, since actors on one node share it; a copy
    whose checksum is not the model's (a shared temporary folder) is replaced."""
    folder = Path(tempfile.gettempdir()) / "resnet-desktop-ray"
    folder.mkdir(mode=0o700, exist_ok=True)
    model_path = folder / f"{payload.sha256[:24]}.onnx"
    if not model_path.is_file() or \
            hashlib.sha256(model_path.read_bytes()).hexdigest() != payload.sha256:
        partial = model_path.with_name(f"{model_path.name}.{os.getpid()}.tmp")
        partial.write_bytes(model_bytes)
        os.replace(partial, model_path)
    manifest = payload.manifest
    if manifest.labels != IMAGENET:
        labels_path = folder / f"{payload.sha256[:24]}-{os.getpid()}.labels.txt"
        labels_path.write_text("".join(f"{label.wnid}\t{label.name}\n" if label.wnid
                                       else f"{label.name}\n" for label in payload.labels),
                               encoding="utf-8")
        manifest = replace(manifest, labels=str(labels_path))
    return model_path, manifest


class ClassifyWorker:
    """A Ray Data actor: one ONNX Runtime session, the local pipeline over each batch.

    A batch holds ``index`` and ``path`` columns, and with ``ship_bytes`` ``data`` (the
    file's bytes) and ``error`` (why the driver could not read it). It gives back ``index``,
    ``probabilities`` (zeros where there is an error) and ``error`` ("" for none).
    """

    def __init__(self, payload: _ModelPayload, cores: int, max_pixels: int) -> None:
        import ray

        model_path, manifest = _materialise(payload, ray.get(payload.model_ref))
        self.classifier = Classifier(model_path, manifest, payload.provider, payload.model_id,
                                     throughput=True, cores=cores)
        self.pipeline = ClassifyPipeline(self.classifier, workers=cores, max_pixels=max_pixels)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [Path(p) for p in batch["path"]]
        count = len(paths)
        read_errors = batch["error"] if "error" in batch else [""] * count
        with tempfile.TemporaryDirectory(prefix="resnet-desktop-") as scratch:
            files: list[Path | None] = []
            for i, path in enumerate(paths):
                if read_errors[i]:
                    files.append(None)
                elif "data" in batch:
                    # A folder per file: two files of one name from different folders.
                    shipped = Path(scratch) / str(i) / path.name
                    shipped.parent.mkdir()
                    shipped.write_bytes(batch["data"][i])
                    files.append(shipped)
                else:
                    files.append(path)
            outcomes: list[Outcome] = [None] * count
            for chunk in self.pipeline.chunks(iter(range(count)), files.__getitem__):
                for i, outcome in chunk:
                    outcomes[i] = outcome
        probabilities = np.zeros((count, self.classifier.io.num_classes), np.float32)
        errors = np.array([str(e) for e in read_errors], dtype=object)
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, np.ndarray):
                probabilities[i] = outcome
            elif isinstance(outcome, str):
                errors[i] = outcome
        return {"index": batch["index"], "probabilities": probabilities, "error": errors}


def _read_error(path: Path, exc: BaseException) -> str:
    """The message a local run gives for a file this process cannot read: the decoder's own."""
    try:
        load_image(path)
    except ResNetDesktopError as decode_error:
        return str(decode_error)
    return f"{path.name}: cannot be read ({exc})"


def _read_files(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``ship_bytes`` stage on the driver's node: each file's bytes, or why not."""
    data: list[bytes] = []
    errors: list[str] = []
    for name in batch["path"]:
        path = Path(name)
        try:
            with open_regular(path) as handle:
                content = handle.read(SHIP_LIMIT + 1)
            if len(content) > SHIP_LIMIT:
                raise ClusterError(f"{path.name}: larger than {SHIP_LIMIT >> 20} MB, not sent "
                                   "to the cluster")
        except ClusterError as exc:
            data.append(b"")
            errors.append(str(exc))
        except Exception as exc:  # FIFOs, permissions, vanished files: the decoder's words
            data.append(b"")
            errors.append(_read_error(path, exc))
        else:
            data.append(content)
            errors.append("")
    return {"index": batch["index"], "path": batch["path"],
            "data": np.array(data, dtype=object), "error": np.array(errors, dtype=object)}


def _application_error(exc: BaseException) -> ResNetDesktopError | None:
    """Our own error (a model that cannot run) wrapped in Ray's task errors, if it is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ResNetDesktopError):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (
            current.__cause__ or current.__context__)
    return None


@dataclass(frozen=True)
class _Job:
    """What the Ray driver process needs to run the model the parent opened."""

    options: ClusterOptions
    model_path: Path
    model_id: str
    sha256: str
    manifest: ModelManifest
    labels: tuple[Label, ...]
    provider: str
    max_pixels: int
    worker: bytes
    """The actor class, cloudpickled (a test's own subclass travels by value)."""


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _drive(connection: Connection, job: _Job) -> None:
    """The Ray driver, in a process of its own (see :meth:`RayPipeline.chunks`).

    Receives lists of ``(index, path)``, sends ``("batch", index, probabilities, errors)``
    for each Ray Data batch, in order, then ``("done",)``; ``None`` ends it. A failure is sent
    as ``("failed", kind, message)`` with ``kind`` "model" for a model that cannot run.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's; it stops us
    signal.signal(signal.SIGTERM, _stop)  # ... with SIGTERM, and Ray is shut down
    import ray
    import ray.data
    from ray import cloudpickle

    logging.getLogger("ray").setLevel(logging.ERROR)
    address = job.options.address
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR,
                 configure_logging=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        connection.send(("failed", "connect", f"cannot reach the Ray cluster at {address!r}: "
                                              f"{_first_line(exc)}"))
        return
    try:
        payload = _ModelPayload(job.model_id, job.sha256, job.manifest, job.labels,
                                job.provider, ray.put(job.model_path.read_bytes()))
        worker = cloudpickle.loads(job.worker)
        while (files := connection.recv()) is not None:
            dataset = _dataset(files, payload, job, worker)
            try:
                for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    connection.send(("batch", batch["index"], batch["probabilities"],
                                     batch["error"]))
            except Exception as exc:  # Ray wraps everything in its own types
                own = _application_error(exc)
                connection.send(("failed", "model" if own is not None else "cluster",
                                 str(own) if own is not None else _first_line(exc)))
                return
            connection.send(("done",))
    except (EOFError, OSError):
        pass  # the parent stopped listening (it was interrupted or cancelled)
    finally:
        ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _dataset(files: list[tuple[int, str]], payload: _ModelPayload, job: _Job, worker: type):
    """The window's Ray Data pipeline: paths (or, with ``ship_bytes``, the bytes read on this
    node), then the pool of classifying actors, results in the paths' order."""
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    opts = job.options
    # One block per batch and one batch per block (batch_size=None below): a batch size over
    # blocks of uneven length makes Ray Data bundle two blocks per call, and the run's last,
    # double-size call then keeps one worker busy while the others have stopped.
    blocks = max(1, -(-len(files) // opts.batch_size))
    dataset = ray.data.from_items([{"index": k, "path": path} for k, path in files],
                                  override_num_blocks=blocks)
    if opts.ship_bytes:
        # Only this node sees the files: Ray's node-id label pins the reading stage here. It
        # asks for no CPU (it waits on the disk), so the workers can have every CPU.
        here = {"ray.io/node-id": ray.get_runtime_context().get_node_id()}
        dataset = dataset.map_batches(_read_files, batch_size=None, num_cpus=0,
                                      label_selector=here)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpus = gpus > 0 and payload.provider != "cpu"
    per_worker = max(1, opts.cpus_per_worker)
    size = gpus if use_gpus else max(1, int(resources.get("CPU", 1)) // per_worker)
    return dataset.map_batches(
        worker, batch_size=None,
        # All at once: an autoscaling pool starting from one actor stayed at one on a small
        # machine, half the throughput.
        compute=ray.data.ActorPoolStrategy(size=size),
        fn_constructor_kwargs={"payload": payload, "cores": per_worker,
                               "max_pixels": job.max_pixels},
        num_cpus=per_worker, num_gpus=1 if use_gpus else None)


class RayPipeline:
    """Outcomes for a stream of entries from Ray Data; the same interface as
    :class:`~resnet_desktop.core.batch.pipeline.ClassifyPipeline` (see the module doc)."""

    def __init__(self, classifier: Classifier, sha256: str, options: ClusterOptions, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS, cancel: CancelToken = NEVER,
                 pause: PauseToken | None = None) -> None:
        if problem := ray_missing():
            raise ClusterError(problem)
        self.classifier = classifier
        self.sha256 = sha256
        self.options = options
        self.max_pixels = max_pixels
        self.cancel = cancel
        self.pause = pause or PauseToken()
        self.paused_seconds = 0.0
        self.done = 0
        """Files the cluster has given outcomes for in this run (for the message when it
        goes away)."""

    def chunks(self, entries: Iterator[T], file_of: Callable[[T], Path | None]
               ) -> Iterator[list[tuple[T, Outcome]]]:
        """Lists of ``(entry, outcome)`` in the entries' order, as the local pipeline's.

        Ray's driver runs in a child process: when a cluster's node or head dies, Ray ends
        its driver's process outright, and this one has to stay to say so, keep what it has
        written and close its outputs.
        """
        from ray import cloudpickle

        c = self.classifier
        job = _Job(self.options, c.model_path, c.model_id, self.sha256, c.manifest, c.labels,
                   c.provider.requested, self.max_pixels, cloudpickle.dumps(ClassifyWorker))
        context = multiprocessing.get_context("spawn")
        connection, theirs = context.Pipe()
        process = context.Process(target=_drive, args=(theirs, job), name="resnet-desktop-ray")
        process.start()
        theirs.close()  # so that the child's end closing reads as EOF here
        try:
            window: list[tuple[T, Path | None]] = []
            needing = 0
            for entry in entries:
                file = file_of(entry)
                window.append((entry, file))
                needing += file is not None
                if needing >= self.options.window:
                    yield from self._window(window, connection, process)
                    window, needing = [], 0
            if window:
                yield from self._window(window, connection, process)
            connection.send(None)
            process.join()
        finally:
            # Stopped early (Ctrl+C, cancel, an error): the driver's next send fails, and it
            # shuts Ray down; one that does not within a few seconds is terminated.
            connection.close()
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.terminate()
                process.join()

    def _window(self, window: list[tuple[T, Path | None]], connection: Connection,
                process: BaseProcess) -> Iterator[list[tuple[T, Outcome]]]:
        files = [(k, str(file)) for k, (_, file) in enumerate(window) if file is not None]
        if not files:
            yield [(entry, None) for entry, _ in window]
            return
        outcomes: list[Outcome] = [None] * len(window)
        emitted = 0
        connection.send(files)
        while (message := self._receive(connection, process))[0] == "batch":
            _, index, probabilities, errors = message
            last = emitted
            for k, row, error in zip(index, probabilities, errors, strict=True):
                outcomes[k] = str(error) if error else np.asarray(row)
                last = int(k) + 1
                self.done += 1
            # Order is preserved, so everything before the batch's last file is done;
            # entries without a file that follow it go out with it.
            while last < len(window) and window[last][1] is None:
                last += 1
            if last > emitted:
                yield [(window[i][0], outcomes[i]) for i in range(emitted, last)]
                emitted = last
        if emitted < len(window):
            yield [(window[i][0], outcomes[i]) for i in range(emitted, len(window))]

    def _receive(self, connection: Connection, process: BaseProcess) -> tuple:
        """The driver process's next message; pause and cancel are checked while waiting,
        and a failure or the process's end becomes our own error."""
        while True:
            self.paused_seconds += self.pause.wait_while_paused(self.cancel)
            self.cancel.raise_if_cancelled()
            if connection.poll(0.1):
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    break
                if message[0] != "failed":
                    return message
                _, kind, text = message
                if kind == "model":
                    raise ModelError(text)
                if kind == "connect":
                    raise ClusterError(text)
                raise ClusterError(self._gone(text))
            if not process.is_alive() and not connection.poll():
                break
        process.join()
        raise ClusterError(self._gone(f"Ray's driver process ended with status "
                                      f"{process.exitcode}"))

    def _gone(self, why: str) -> str:
        return (f"the Ray cluster stopped after {self.done} image(s) ({why}); the results so "
                "far are kept, and running the same command again resumes")

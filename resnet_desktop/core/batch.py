"""Folder batches: find the images, decode them in parallel, classify them in batches.

The pipeline, all of it streamed so memory does not grow with the folder:

1. **discovery**: :func:`discover_images` walks the folder with ``os.scandir`` (files sorted by
   name in each folder, then its subfolders, so runs are deterministic; hidden entries and
   symlinked folders are skipped);
2. **results store**: an image whose path, size, modification time and model match an earlier
   run is not decoded again; its stored top-k is reused (a cancelled batch resumes);
3. **reading ahead**: a few threads pull the next files into the OS cache, so a slow disk
   or a network share serves several requests at once;
4. **decoding and inference**: a small pool of worker threads runs
   :func:`~resnet_desktop.core.imaging.load_image` in JPEG draft mode (libjpeg decodes a
   12-megapixel photo at 1/8 scale) and :func:`~resnet_desktop.core.preprocess.preprocess`;
   Pillow, NumPy and ONNX Runtime release the GIL there. How the model runs depends on the
   session:

   - a CPU throughput session (``Classifier.lanes > 1``, see
     :func:`~resnet_desktop.core.inference.throughput_layout`): each worker runs the model on
     the image it has just decoded, several workers at once on the one session, so every core
     alternates between decoding and inference with no hand-over;
   - any other session (a GPU, or a session built for one image at a time): the calling thread
     stacks ready tensors into batches and runs them, so decoding overlaps inference and the
     provider gets the batches it gains from.

   At most ``inflight`` images are read and decoded ahead of the consumer, which bounds memory.

Records come out in discovery order. A file that cannot be read or decoded becomes a record
with an ``error`` and the batch goes on. Cancellation and pause are checked between images, by
the consumer and by every worker before it decodes or classifies one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from resnet_desktop.core.cancel import NEVER, CancelToken
from resnet_desktop.core.errors import Cancelled, ModelError, ResNetDesktopError
from resnet_desktop.core.imaging import DEFAULT_MAX_PIXELS, EXTENSIONS, draft_size_for, load_image
from resnet_desktop.core.inference import Classifier, Prediction
from resnet_desktop.core.manifest import ModelManifest, Preprocessing
from resnet_desktop.core.preprocess import preprocess
from resnet_desktop.core.results_store import ResultsStore

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
"""Images per ``Classifier.run`` when the model's batch dimension is dynamic. On a CPU a
ResNet gains little beyond 8; a GPU provider gains more, and 8 keeps latency to the first
results low."""


def default_workers(classifier: Classifier) -> int:
    """Worker threads for a batch on ``classifier``.

    A CPU throughput session: one worker per lane, each decoding and classifying. Otherwise
    decoding threads only, as many as there are cores and at most 4: inference on the calling
    thread is the bound, and more decoders gain nothing.
    """
    if classifier.lanes > 1:
        return classifier.lanes
    return max(1, min(4, os.cpu_count() or 1))


def normalise_extensions(extensions: Iterable[str]) -> tuple[str, ...]:
    """``["JPG", ".png", "tif"]`` -> ``(".jpg", ".png", ".tif")``; empty entries dropped."""
    result: list[str] = []
    for ext in extensions:
        ext = ext.strip().lower()
        if not ext:
            continue
        ext = ext if ext.startswith(".") else f".{ext}"
        if ext not in result:
            result.append(ext)
    return tuple(result)


@dataclass(frozen=True)
class BatchOptions:
    """What to classify and how. ``extensions`` are lower-case with the dot."""

    recursive: bool = False
    extensions: tuple[str, ...] = EXTENSIONS
    top_k: int = 5
    skip_done: bool = True
    """Reuse results from the store for unchanged images (``--no-skip`` turns it off)."""
    batch_size: int | None = None
    """None: the model's fixed batch size, or :data:`DEFAULT_BATCH_SIZE` when it is dynamic."""
    workers: int | None = None
    """Threads that decode (and on a CPU throughput session also classify); None:
    :func:`default_workers`."""
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class BatchRecord:
    """One image's outcome: its top-k, or the error that stopped it."""

    path: str
    """Relative to the batch folder, with ``/`` separators on every platform."""
    file: Path
    """The absolute path, to open the image."""
    model: str
    top: tuple[Prediction, ...] = ()
    error: str | None = None
    cached: bool = False
    """True when the result came from the results store (an earlier run) instead of the model."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        return self.top[0].label if self.top else ""

    @property
    def probability(self) -> float | None:
        return self.top[0].probability if self.top else None

    def tags(self, min_confidence: float) -> tuple[str, ...]:
        """The labels of the top-k at or above ``min_confidence`` (0..1), most probable first."""
        return tuple(p.label for p in self.top if p.probability >= min_confidence)


@dataclass
class BatchProgress:
    """Where a batch stands; ``total`` is None until the folder has been counted."""

    done: int = 0
    total: int | None = None
    classified: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0
    """Time spent working (pauses excluded), from the first image to now."""
    classify_seconds: float = 0.0
    """The part of ``seconds`` spent on images that were not in the results store."""

    @property
    def rate(self) -> float:
        """Images per second over the images the model classified (store hits excluded)."""
        computed = self.classified + self.failed
        return computed / self.classify_seconds if self.classify_seconds > 0 and computed else 0.0

    @property
    def remaining_seconds(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(0, self.total - self.done) / self.rate


class PauseToken:
    """A thread-safe pause switch that the pipeline checks between images."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._waiting = 0

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def holding(self) -> bool:
        """True while a pipeline is actually blocked on this token (it has stopped)."""
        return self._waiting > 0

    def wait_while_paused(self, cancel: CancelToken, *, holds: bool = True) -> float:
        """Block while paused (waking on cancel); returns the seconds spent waiting.

        ``holds=False`` is for helper threads (the pipeline's workers): their waiting does not
        make :attr:`holding` true, which means the pipeline's consumer has stopped.
        """
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        if holds:
            self._waiting += 1
        try:
            while not self._running.wait(0.05):
                if cancel.cancelled:
                    break
        finally:
            if holds:
                self._waiting -= 1
        return time.perf_counter() - start


@dataclass(frozen=True)
class FolderProblem:
    """A subfolder that could not be listed; it becomes an error record."""

    path: Path
    message: str


def _is_hidden(name: str) -> bool:
    # Dot files include macOS "._IMG_1.jpg" AppleDouble files, which are not images.
    return name.startswith(".")


def discover_images(folder: Path, *, recursive: bool = False,
                    extensions: Iterable[str] = EXTENSIONS,
                    cancel: CancelToken = NEVER) -> Iterator[Path | FolderProblem]:
    """Image files under ``folder`` in a deterministic order, streamed.

    Each folder's files come first, sorted by name, then its subfolders in name order.
    A subfolder that cannot be read yields a :class:`FolderProblem` and the walk goes on.
    """
    wanted = set(normalise_extensions(extensions))
    stack: list[Path] = [Path(folder)]
    while stack:
        cancel.raise_if_cancelled()
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if current == Path(folder):
                raise
            yield FolderProblem(current, f"{current.name}: folder cannot be read "
                                         f"({exc.strerror or exc})")
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if _is_hidden(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        subfolders.append(Path(entry.path))
                    continue
                is_file = entry.is_file()
            except OSError:
                is_file = False
            if is_file and os.path.splitext(entry.name)[1].lower() in wanted:
                yield Path(entry.path)
        stack.extend(reversed(subfolders))


def count_images(folder: Path, *, recursive: bool = False,
                 extensions: Iterable[str] = EXTENSIONS, cancel: CancelToken = NEVER) -> int:
    """How many entries :func:`discover_images` will yield (one cheap pass, no decoding)."""
    return sum(1 for _ in discover_images(folder, recursive=recursive, extensions=extensions,
                                          cancel=cancel))


def relative_posix(path: Path, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return Path(path).as_posix()


_sha_cache: dict[tuple[str, int, int], str] = {}
_sha_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for the life of the process."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _sha_lock:
        if key in _sha_cache:
            return _sha_cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _sha_lock:
        _sha_cache[key] = value
    return value


def model_fingerprint(model_sha256: str, manifest: ModelManifest) -> str:
    """What makes two runs' results interchangeable: the weights and the preprocessing."""
    pre = manifest.preprocessing
    recipe = repr((pre, manifest.labels, manifest.output)).encode()
    return f"{model_sha256}:{hashlib.sha256(recipe).hexdigest()[:16]}"


READ_AHEAD_THREADS = 4
"""Files read ahead at once. A slow disk or a network share serves several requests in
parallel faster than one after the other (measured here: 43 MB/s for one reader, 82 MB/s for
eight), and a 12-megapixel JPEG is 3-5 MB, so reading can otherwise bound a batch."""

_READ_CHUNK = 1 << 20
_READ_LIMIT = 64 << 20
"""Read ahead no further than this: a multi-gigabyte file named .jpg is refused by the
decoder from its header, and reading all of it first would only waste time."""


def _read_ahead(path: Path) -> None:
    """Pull a file into the OS cache so the decoder does not wait for the disk.

    The bytes are discarded (the decoder reads the cached file again, cheaply), so
    :func:`~resnet_desktop.core.imaging.load_image` stays the one place that reports a file
    that cannot be read.
    """
    try:
        with open(path, "rb", buffering=0) as handle:
            buffer = bytearray(_READ_CHUNK)
            done = 0
            while done < _READ_LIMIT and (count := handle.readinto(buffer)):
                done += count
    except OSError:
        pass


@dataclass(frozen=True)
class _Tokens:
    """What a worker checks before it starts on an image."""

    cancel: CancelToken
    pause: PauseToken

    def wait(self) -> None:
        self.pause.wait_while_paused(self.cancel, holds=False)
        self.cancel.raise_if_cancelled()


def _prepare(path: Path, pre: Preprocessing, max_pixels: int, tokens: _Tokens,
             read: Future | None = None) -> np.ndarray:
    tokens.wait()
    if read is not None:
        read.result()
    image = load_image(path, max_pixels=max_pixels, draft=draft_size_for(pre))
    return preprocess(image, pre)


class _InferenceFailed(Exception):
    """The model failed on a worker thread: the batch cannot go on (unlike a bad file)."""


def _prepare_and_classify(classifier: Classifier, path: Path, max_pixels: int,
                          tokens: _Tokens, read: Future | None = None) -> np.ndarray:
    """One image's probabilities, decoded and classified on the calling worker thread."""
    tensor = _prepare(path, classifier.preprocessing, max_pixels, tokens, read)
    tokens.wait()
    try:
        return classifier.run(tensor[np.newaxis])[0]
    except Exception as exc:  # ORT raises many types; the model cannot run at all
        raise _InferenceFailed(str(exc)) from exc


@dataclass
class _Item:
    """One discovered entry on its way through the pipeline."""

    path: str
    file: Path
    size: int = 0
    mtime_ns: int = 0
    future: Future | None = None
    record: BatchRecord | None = None


@dataclass
class _Clock:
    """Working time, pauses excluded."""

    started: float = field(default_factory=time.perf_counter)
    paused: float = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused


class BatchRun:
    """One pass over a folder; iterate it to get :class:`BatchRecord` in discovery order.

    ``store`` (a :class:`~resnet_desktop.core.results_store.ResultsStore`) and
    ``model_key`` (see :func:`model_fingerprint`) enable skipping images done before; results
    are written to the store as they come, so a cancelled run resumes. ``progress`` is a live
    :class:`BatchProgress` the caller may read between records; ``on_progress`` is called after
    every record. Cancelling raises :class:`~resnet_desktop.core.errors.Cancelled` from the
    iteration, after the records already yielded.
    """

    def __init__(self, classifier: Classifier, folder: Path,
                 options: BatchOptions | None = None, *, store: ResultsStore | None = None,
                 model_key: str | None = None,
                 cancel: CancelToken | None = None, pause: PauseToken | None = None,
                 on_progress: Callable[[BatchProgress], None] | None = None) -> None:
        self.classifier = classifier
        self.folder = Path(folder)
        self.options = options or BatchOptions()
        if self.options.top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.store = store
        self.model_key = model_key
        self.cancel = cancel or CancelToken()
        self.pause = pause or PauseToken()
        self.on_progress = on_progress
        self.progress = BatchProgress()
        fixed = classifier.io.batch
        self.batch_size = max(1, self.options.batch_size or fixed or DEFAULT_BATCH_SIZE)
        """Images classified (or, in workers, collected) together: one store commit each."""
        self.classify_in_workers = classifier.lanes > 1
        self.workers = max(1, self.options.workers or default_workers(classifier))
        # Enough read and decoded ahead to keep every thread busy while a batch runs.
        self.inflight = self.batch_size + 2 * self.workers + READ_AHEAD_THREADS
        self._clock = _Clock()

    def __iter__(self) -> Iterator[BatchRecord]:
        folder = self.folder
        if not folder.is_dir():
            raise ResNetDesktopError(f"{folder}: not a folder")
        opts = self.options
        try:
            self.progress.total = count_images(folder, recursive=opts.recursive,
                                               extensions=opts.extensions, cancel=self.cancel)
        except OSError as exc:
            raise ResNetDesktopError(f"{folder}: the folder cannot be read "
                                     f"({exc.strerror or exc})") from None
        entries = discover_images(folder, recursive=opts.recursive, extensions=opts.extensions,
                                  cancel=self.cancel)
        clock = self._clock = _Clock()
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="batch-worker")
        reader = ThreadPoolExecutor(READ_AHEAD_THREADS, thread_name_prefix="batch-read")
        pending: deque[_Item] = deque()
        decoding = 0
        pre = self.classifier.preprocessing
        tokens = _Tokens(self.cancel, self.pause)
        try:
            exhausted = False

            def refill() -> None:
                nonlocal exhausted, decoding
                while (not exhausted and decoding < self.inflight
                       and len(pending) < 4 * self.inflight):
                    entry = next(entries, None)
                    if entry is None:
                        exhausted = True
                        return
                    item = self._item_for(entry)
                    if item.record is None:
                        read = reader.submit(_read_ahead, item.file)
                        if self.classify_in_workers:
                            item.future = pool.submit(_prepare_and_classify, self.classifier,
                                                      item.file, opts.max_pixels, tokens, read)
                        else:
                            item.future = pool.submit(_prepare, item.file, pre,
                                                      opts.max_pixels, tokens, read)
                        decoding += 1
                    pending.append(item)

            while True:
                clock.paused += self.pause.wait_while_paused(self.cancel)
                self.cancel.raise_if_cancelled()
                refill()
                if not pending:
                    break
                # The front of the queue up to the next batch's worth of images to classify.
                chunk: list[_Item] = []
                needing = 0
                while pending and needing < self.batch_size:
                    item = pending.popleft()
                    chunk.append(item)
                    if item.future is not None:
                        needing += 1
                        decoding -= 1
                    refill()
                started, paused_before = time.perf_counter(), clock.paused
                self._classify(chunk)
                started += clock.paused - paused_before
                for item in chunk:
                    record = item.record
                    assert record is not None
                    self._count(record)
                    self.progress.seconds = clock.elapsed()
                    if self.on_progress is not None:
                        self.on_progress(self.progress)
                    yield record
                    waited = self.pause.wait_while_paused(self.cancel)
                    clock.paused += waited
                    started += waited
                    self.cancel.raise_if_cancelled()
                if needing:
                    self.progress.classify_seconds += time.perf_counter() - started
        finally:
            for item in pending:
                if item.future is not None:
                    item.future.cancel()
            reader.shutdown(wait=False, cancel_futures=True)
            pool.shutdown(wait=True, cancel_futures=True)
            reader.shutdown(wait=True)

    def _item_for(self, entry: Path | FolderProblem) -> _Item:
        if isinstance(entry, FolderProblem):
            rel = relative_posix(entry.path, self.folder)
            return _Item(rel, entry.path, record=BatchRecord(rel, entry.path,
                                                             self.classifier.model_id,
                                                             error=entry.message))
        rel = relative_posix(entry, self.folder)
        item = _Item(rel, entry)
        try:
            stat = entry.stat()
            item.size, item.mtime_ns = stat.st_size, stat.st_mtime_ns
        except OSError as exc:
            item.record = BatchRecord(rel, entry, self.classifier.model_id,
                                      error=f"{entry.name}: cannot be read "
                                            f"({exc.strerror or exc})")
            return item
        if self.store is not None and self.model_key and self.options.skip_done:
            top = self.store.get(entry, item.size, item.mtime_ns, self.model_key,
                                 self.options.top_k)
            if top is not None:
                item.record = BatchRecord(rel, entry, self.classifier.model_id, top,
                                          cached=True)
        return item

    def _result(self, future: Future) -> np.ndarray:
        """The worker's result; while paused, stop waiting for it and hold here instead.

        The worker itself may be held by the pause, so only this wait lets the consumer report
        that the pipeline has stopped (:attr:`PauseToken.holding`).
        """
        while True:
            try:
                return future.result(timeout=0.05)
            except FutureTimeout:
                self._clock.paused += self.pause.wait_while_paused(self.cancel)
                self.cancel.raise_if_cancelled()

    def _classify(self, chunk: list[_Item]) -> None:
        """Wait for the chunk's workers, classify what they decoded, fill in records."""
        model_id = self.classifier.model_id
        ready: list[tuple[_Item, np.ndarray]] = []
        for item in chunk:
            if item.future is None:
                continue
            try:
                ready.append((item, self._result(item.future)))
            except _InferenceFailed as exc:
                raise ModelError(f"{model_id}: inference failed ({exc})") from exc
            except Cancelled:
                raise
            except ResNetDesktopError as exc:
                item.record = BatchRecord(item.path, item.file, model_id, error=str(exc))
            except Exception as exc:  # a decoder bug must not end the batch
                log.exception("unexpected error decoding %s", item.file)
                item.record = BatchRecord(item.path, item.file, model_id,
                                          error=f"{item.file.name}: cannot be decoded ({exc})")
            finally:
                item.future = None
        if not ready:
            return
        if self.classify_in_workers:
            probabilities = [probs for _, probs in ready]
        else:
            tensors = np.stack([tensor for _, tensor in ready])
            try:
                probabilities = self.classifier.run(tensors)
            except Exception as exc:  # ORT raises many types; the model cannot run at all
                raise ModelError(f"{model_id}: inference failed ({exc})") from exc
        rows = []
        for (item, _), probs in zip(ready, probabilities, strict=True):
            top = tuple(self.classifier.top_k(probs, self.options.top_k))
            item.record = BatchRecord(item.path, item.file, model_id, top)
            rows.append((item.file, item.size, item.mtime_ns, top))
        if self.store is not None and self.model_key:
            self.store.put_many(rows, self.model_key, self.options.top_k)

    def _count(self, record: BatchRecord) -> None:
        p = self.progress
        p.done += 1
        if p.total is not None and p.done > p.total:
            p.total = p.done
        if record.error is not None:
            p.failed += 1
        elif record.cached:
            p.cached += 1
        else:
            p.classified += 1

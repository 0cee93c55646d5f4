"""Folder batches: find the images, skip those done before, classify the rest.

All of it is streamed, so memory does not grow with the folder:

1. **discovery**: :func:`discover_images` walks the folder with ``os.scandir`` (files sorted by
   name in each folder, then its subfolders, so runs are deterministic; hidden entries and
   symlinked folders are skipped);
2. **results store**: an image whose path, size, modification time and model match an earlier
   run is not decoded again; its stored top-k is reused (a cancelled batch resumes);
3. **reading, decoding and inference**:
:class:`~resnet_desktop.core.batch.pipeline.ClassifyPipeline`
   (read-ahead threads, decoding workers, and the model run either in the workers on a CPU
   throughput session or in batches on this thread), which bounds how many images are in
   flight.

Records come out in discovery order. A file that cannot be read or decoded becomes a record
with an ``error`` and the batch goes on. Cancellation and pause are checked between images, by
the consumer and by every worker before it decodes or classifies one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from resnet_desktop.core.batch.pipeline import ClassifyPipeline, Outcome
from resnet_desktop.core.batch.results_store import ResultsStore
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.imaging.decode import DEFAULT_MAX_PIXELS, EXTENSIONS
from resnet_desktop.core.inference.classifier import Classifier, Prediction
from resnet_desktop.core.inference.results import CategoryMasses
from resnet_desktop.core.keywords.rollup import category_masses
from resnet_desktop.core.models.manifest import ModelManifest

log = logging.getLogger(__name__)

T = TypeVar("T")


class ChunkSource(Protocol):
    """What turns entries into outcomes for :class:`BatchRun`: the local
    :class:`~resnet_desktop.core.batch.pipeline.ClassifyPipeline`, or a cluster's
    (:class:`~resnet_desktop.core.batch.cluster.RayPipeline`)."""

    paused_seconds: float

    def chunks(self, entries: Iterator[T], file_of: Callable[[T], Path | None]
               ) -> Iterator[list[tuple[T, Outcome]]]: ...


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
    """None: the model's fixed batch size, or
    :data:`~resnet_desktop.core.batch.pipeline.DEFAULT_BATCH_SIZE` when it is dynamic."""
    workers: int | None = None
    """Threads that decode (and on a CPU throughput session also classify); None:
    :func:`~resnet_desktop.core.batch.pipeline.default_workers`."""
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
    categories: CategoryMasses | None = None
    """The category masses summed over the whole probability vector (kept in the results
    store); None for an error, or a store row from before they were kept."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        return self.top[0].label if self.top else ""

    @property
    def probability(self) -> float | None:
        return self.top[0].probability if self.top else None


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
    Entries named like images that are not regular files (a FIFO, a device, a broken link) are
    yielded too, so that each becomes an error record instead of vanishing.
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
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            # Not only regular files: a FIFO, device or broken link named like an image gets
            # its own error record (the decoder refuses it without blocking), not silence.
            if not is_folder and os.path.splitext(entry.name)[1].lower() in wanted:
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


def model_fingerprint(model_sha256: str, manifest: ModelManifest) -> str:
    """What makes two runs' results interchangeable: the weights and the preprocessing."""
    pre = manifest.preprocessing
    recipe = repr((pre, manifest.labels, manifest.output)).encode()
    return f"{model_sha256}:{hashlib.sha256(recipe).hexdigest()[:16]}"


@dataclass
class _Item:
    """One discovered entry on its way through the pipeline."""

    path: str
    file: Path
    size: int = 0
    mtime_ns: int = 0
    record: BatchRecord | None = None
    """Set before the pipeline for folder problems, unreadable entries and store hits."""


class BatchRun:
    """One pass over a folder; iterate it to get :class:`BatchRecord` in discovery order.

    ``store`` (a :class:`~resnet_desktop.core.batch.results_store.ResultsStore`) and
    ``model_key`` (see :func:`model_fingerprint`) enable skipping images done before; results
    are written to the store as they come, so a cancelled run resumes. ``progress`` is a live
    :class:`BatchProgress` the caller may read between records; ``on_progress`` is called
    after every record. ``pipeline`` replaces the local pipeline (a cluster's, built with the
    same ``cancel`` and ``pause``). Cancelling raises
    :class:`~resnet_desktop.core.foundation.errors.Cancelled` from the iteration, after the
    records already yielded.
    """

    def __init__(self, classifier: Classifier, folder: Path,
                 options: BatchOptions | None = None, *, store: ResultsStore | None = None,
                 model_key: str | None = None,
                 cancel: CancelToken | None = None, pause: PauseToken | None = None,
                 on_progress: Callable[[BatchProgress], None] | None = None,
                 pipeline: ChunkSource | None = None) -> None:
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
        self._wnids = tuple(label.wnid for label in classifier.labels)
        self.pipeline = pipeline or ClassifyPipeline(
            classifier, batch_size=self.options.batch_size, workers=self.options.workers,
            max_pixels=self.options.max_pixels, cancel=self.cancel, pause=self.pause)

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
        items = (self._item_for(entry) for entry in entries)
        pipeline = self.pipeline
        pipeline.paused_seconds = 0.0  # every pause, in the pipeline or here, is added there

        def working_since(moment: float, paused_then: float) -> float:
            return time.perf_counter() - moment - (pipeline.paused_seconds - paused_then)

        begun = time.perf_counter()
        chunks = pipeline.chunks(items, lambda item: None if item.record else item.file)
        try:
            while True:
                started, paused_then = time.perf_counter(), pipeline.paused_seconds
                chunk = next(chunks, None)
                if chunk is None:
                    break
                classified = self._records(chunk)
                for item, _ in chunk:
                    record = item.record
                    assert record is not None
                    self._count(record)
                    self.progress.seconds = working_since(begun, 0.0)
                    if self.on_progress is not None:
                        self.on_progress(self.progress)
                    yield record
                    pipeline.paused_seconds += self.pause.wait_while_paused(self.cancel)
                    self.cancel.raise_if_cancelled()
                if classified:
                    self.progress.classify_seconds += working_since(started, paused_then)
        finally:
            chunks.close()

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
            why = ("a symbolic link to a file that does not exist"
                   if isinstance(exc, FileNotFoundError) and entry.is_symlink()
                   else f"cannot be read ({exc.strerror or exc})")
            item.record = BatchRecord(rel, entry, self.classifier.model_id,
                                      error=f"{entry.name}: {why}")
            return item
        if self.store is not None and self.model_key and self.options.skip_done:
            stored = self.store.get(entry, item.size, item.mtime_ns, self.model_key,
                                    self.options.top_k)
            if stored is not None:
                item.record = BatchRecord(rel, entry, self.classifier.model_id, stored.top,
                                          cached=True, categories=stored.categories)
        return item

    def _records(self, chunk: list[tuple[_Item, Outcome]]) -> bool:
        """Fill in the records of the chunk's items; True if any went through the model."""
        model_id = self.classifier.model_id
        rows = []
        for item, outcome in chunk:
            if outcome is None:
                continue
            if isinstance(outcome, str):
                item.record = BatchRecord(item.path, item.file, model_id, error=outcome)
                continue
            top = tuple(self.classifier.top_k(outcome, self.options.top_k))
            categories = category_masses(outcome, self._wnids)
            item.record = BatchRecord(item.path, item.file, model_id, top,
                                      categories=categories)
            rows.append((item.file, item.size, item.mtime_ns, top, categories))
        if rows and self.store is not None and self.model_key:
            self.store.put_many(rows, self.model_key, self.options.top_k)
        return any(outcome is not None for _, outcome in chunk)

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

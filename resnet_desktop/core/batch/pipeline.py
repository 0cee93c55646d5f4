"""Many image files through one model, in order: the pipeline behind folder batches and
validation.

1. **reading ahead**: a few threads pull the next files into the OS cache, so a slow disk or a
   network share serves several requests at once;
2. **decoding and inference**: a small pool of worker threads runs
   :func:`~resnet_desktop.core.imaging.decode.load_image` in JPEG draft mode (libjpeg decodes a
   12-megapixel photo at 1/8 scale) and :func:`~resnet_desktop.core.imaging.preprocess.preprocess`;
   Pillow, NumPy and ONNX Runtime release the GIL there. How the model runs depends on the
   session:

   - a CPU throughput session (``Classifier.lanes > 1``, see
     :func:`~resnet_desktop.core.inference.classifier.throughput_layout`): each worker runs the
     model on the image it has just decoded, several workers at once on the one session, so every
     core alternates between decoding and inference with no hand-over;
   - any other session (a GPU, or a session built for one image at a time): the consuming
     thread stacks ready tensors into batches and runs them, so decoding overlaps inference
     and the provider gets the batches it gains from.

At most ``inflight`` images are read and decoded ahead of the consumer, which bounds memory
whatever the number of files. Results come out in the order the entries went in. A file that
cannot be read or decoded, or whose output holds NaN or infinity, gives its error message and
the rest goes on; a model that fails raises
:class:`~resnet_desktop.core.foundation.errors.ModelError`. Cancellation and pause are checked
by the consumer and by every worker before it decodes or classifies an image.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from resnet_desktop.core.batch.decode_pool import DecodeGate, initial_decoders
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import Cancelled, ModelError, ResNetDesktopError
from resnet_desktop.core.foundation.regular_file import NotRegularFileError, open_regular
from resnet_desktop.core.imaging.decode import DEFAULT_MAX_PIXELS, draft_size_for, load_image
from resnet_desktop.core.imaging.preprocess import preprocess
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import Preprocessing

log = logging.getLogger(__name__)

T = TypeVar("T")

Outcome = np.ndarray | str | None
"""What the pipeline gives back for one entry: the probability vector, the message saying
why the file could not be read or decoded, or None for an entry with no file to classify."""

INVALID_NUMBERS = "the model produced invalid numbers (NaN or infinity)"
"""An image's error when its output is not all finite: never a result, never stored."""

DEFAULT_BATCH_SIZE = 8
"""Images per ``Classifier.run`` when the model's batch dimension is dynamic. On a CPU a
ResNet gains little beyond 8, and 8 keeps latency to the first results low."""

GPU_BATCH_SIZE = 32
"""Images per run on a GPU provider with a dynamic batch dimension: GPUs gain from batches of
16-64 (not measured here: no GPU was at hand; with cuDNN's HEURISTIC search, see
:mod:`~resnet_desktop.core.inference.gpu`, a smaller last chunk costs no exhaustive search).
DirectML sessions have their batch fixed
(:data:`~resnet_desktop.core.inference.gpu.DIRECTML_BATCH`), so this applies to CUDA."""

READ_AHEAD_THREADS = 4
"""Files read ahead at once. A slow disk or a network share serves several requests in
parallel faster than one after the other (measured here: 43 MB/s for one reader, 82 MB/s for
eight), and a 12-megapixel JPEG is 3-5 MB, so reading can otherwise bound a batch."""

_READ_CHUNK = 1 << 20
_READ_LIMIT = 64 << 20
"""Read ahead no further than this: a multi-gigabyte file named .jpg is refused by the
decoder from its header, and reading all of it first would only waste time."""


def default_workers(classifier: Classifier) -> int:
    """Worker threads for ``classifier``.

    A CPU throughput session: one worker per lane, each decoding and classifying. Otherwise
    decoding threads only, one per core; how many decode at once is measured (see
    :mod:`~resnet_desktop.core.batch.decode_pool`): every core when inference is cheap next to
    decoding (a GPU, a small model), a few when the model on the CPU is the bound.
    """
    if classifier.lanes > 1:
        return classifier.lanes
    return max(1, os.cpu_count() or 1)


def _read_ahead(path: Path) -> None:
    """Pull a file into the OS cache so the decoder does not wait for the disk.

    The bytes are discarded (the decoder reads the cached file again, cheaply), so
    :func:`~resnet_desktop.core.imaging.decode.load_image` stays the one place that reports a file
    that cannot be read.
    """
    try:
        with open_regular(path) as handle:
            buffer = bytearray(_READ_CHUNK)
            done = 0
            while done < _READ_LIMIT and (count := handle.readinto(buffer)):
                done += count
    except (OSError, NotRegularFileError):
        pass


@dataclass(frozen=True)
class _Tokens:
    """What a worker checks before it starts on an image."""

    cancel: CancelToken
    pause: PauseToken

    def wait(self) -> None:
        self.pause.wait_while_paused(self.cancel, holds=False)
        self.cancel.raise_if_cancelled()


class _InferenceFailed(Exception):
    """The model failed on a worker thread: nothing can go on (unlike a bad file)."""


def _prepare(path: Path, pre: Preprocessing, max_pixels: int, tokens: _Tokens,
             read: Future | None, gate: DecodeGate | None = None) -> np.ndarray:
    tokens.wait()
    if read is not None:
        read.result()
    with gate.decoding() if gate is not None else contextlib.nullcontext():
        image = load_image(path, max_pixels=max_pixels, draft=draft_size_for(pre))
        return preprocess(image, pre)


def _prepare_and_classify(classifier: Classifier, path: Path, max_pixels: int,
                          tokens: _Tokens, read: Future | None) -> np.ndarray:
    """One image's probabilities, decoded and classified on the calling worker thread."""
    tensor = _prepare(path, classifier.preprocessing, max_pixels, tokens, read)
    tokens.wait()
    try:
        return classifier.run(tensor[np.newaxis])[0]
    except Exception as exc:  # ORT raises many types; the model cannot run at all
        raise _InferenceFailed(str(exc)) from exc


@dataclass
class _Pending(Generic[T]):
    entry: T
    file: Path | None
    future: Future | None = None


class ClassifyPipeline:
    """Classifies the files of a stream of entries with ``classifier``; see the module doc.

    ``batch_size``: entries that need work handed back together (one chunk), and images per
    ``Classifier.run`` when the consumer runs the model; None: the model's fixed batch size, or
    :data:`DEFAULT_BATCH_SIZE` (:data:`GPU_BATCH_SIZE` on a GPU). ``workers``: None for
    :func:`default_workers`.
    ``paused_seconds`` adds up the time the consumer spent held by ``pause`` inside
    :meth:`chunks`. ``clock`` times decoding and inference for the decode gate (a test passes
    its own, so what the gate decides does not depend on the machine's load).
    """

    def __init__(self, classifier: Classifier, *, batch_size: int | None = None,
                 workers: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                 cancel: CancelToken = NEVER, pause: PauseToken | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.classifier = classifier
        self.batch_size = max(1, batch_size or classifier.io.batch or (
            DEFAULT_BATCH_SIZE if classifier.provider.active == "cpu" else GPU_BATCH_SIZE))
        self.classify_in_workers = classifier.lanes > 1
        self.workers = max(1, workers or default_workers(classifier))
        # The consumer runs the model and the pool was not fixed by the caller: how many
        # threads decode at once is measured on the first chunk.
        self.gate = (DecodeGate(initial_decoders(classifier.provider.active == "cpu",
                                                 self.workers), self.workers, clock)
                     if not self.classify_in_workers and workers is None else None)
        self.max_pixels = max_pixels
        self.cancel = cancel
        self.pause = pause or PauseToken()
        # Enough read and decoded ahead to keep every thread busy while a chunk is handled.
        self.inflight = self.batch_size + 2 * self.workers + READ_AHEAD_THREADS
        self.paused_seconds = 0.0
        self._clock = clock
        self._input: np.ndarray | None = None
        """The batched path's input tensor, kept between chunks (see :meth:`_batch`)."""

    def chunks(self, entries: Iterator[T], file_of: Callable[[T], Path | None]
               ) -> Iterator[list[tuple[T, Outcome]]]:
        """Lists of ``(entry, outcome)`` in the entries' order (see :data:`Outcome`).

        ``entries`` is pulled lazily, a few ahead of the consumer; ``file_of(entry)`` is the
        file to classify, or None to pass the entry through untouched. Each list holds up to
        ``batch_size`` entries with a file, and any entries without one among them.
        """
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pipeline-worker")
        reader = ThreadPoolExecutor(READ_AHEAD_THREADS, thread_name_prefix="pipeline-read")
        tokens = _Tokens(self.cancel, self.pause)
        queue: deque[_Pending[T]] = deque()
        working = 0
        exhausted = False

        def refill() -> None:
            nonlocal exhausted, working
            while not exhausted and working < self.inflight and len(queue) < 4 * self.inflight:
                entry = next(entries, None)
                if entry is None:
                    exhausted = True
                    return
                pending = _Pending(entry, file_of(entry))
                if pending.file is not None:
                    read = reader.submit(_read_ahead, pending.file)
                    if self.classify_in_workers:
                        pending.future = pool.submit(_prepare_and_classify, self.classifier,
                                                     pending.file, self.max_pixels, tokens,
                                                     read)
                    else:
                        pending.future = pool.submit(_prepare, pending.file,
                                                     self.classifier.preprocessing,
                                                     self.max_pixels, tokens, read, self.gate)
                    working += 1
                queue.append(pending)

        try:
            while True:
                self.paused_seconds += self.pause.wait_while_paused(self.cancel)
                self.cancel.raise_if_cancelled()
                refill()
                if not queue:
                    return
                chunk: list[_Pending[T]] = []
                needing = 0
                while queue and needing < self.batch_size:
                    pending = queue.popleft()
                    chunk.append(pending)
                    if pending.future is not None:
                        needing += 1
                        working -= 1
                    refill()
                yield self._finish(chunk)
        finally:
            for pending in queue:
                if pending.future is not None:
                    pending.future.cancel()
            reader.shutdown(wait=False, cancel_futures=True)
            pool.shutdown(wait=True, cancel_futures=True)
            reader.shutdown(wait=True)

    def _finish(self, chunk: list[_Pending[T]]) -> list[tuple[T, Outcome]]:
        """Wait for the chunk's workers and classify what they decoded."""
        outcomes: list[Outcome] = [None] * len(chunk)
        ready: list[tuple[int, np.ndarray]] = []
        for i, pending in enumerate(chunk):
            if pending.future is None:
                continue
            try:
                ready.append((i, self._result(pending.future)))
            except _InferenceFailed as exc:
                raise ModelError(f"{self.classifier.model_id}: inference failed ({exc})") \
                    from exc
            except Cancelled:
                raise
            except ResNetDesktopError as exc:
                outcomes[i] = str(exc)
            except Exception as exc:  # a decoder bug must not end the batch
                log.exception("unexpected error decoding %s", pending.file)
                outcomes[i] = f"{pending.file.name}: cannot be decoded ({exc})"
            finally:
                pending.future = None
        if ready and self.classify_in_workers:
            for i, probabilities in ready:
                outcomes[i] = probabilities
        elif ready:
            started = self._clock()
            try:
                rows = self.classifier.run(self._batch([tensor for _, tensor in ready]))
            except Exception as exc:  # ORT raises many types; the model cannot run at all
                raise ModelError(f"{self.classifier.model_id}: inference failed ({exc})") \
                    from exc
            if self.gate is not None:
                self.gate.observe(len(ready), self._clock() - started)
            for (i, _), probabilities in zip(ready, rows, strict=True):
                outcomes[i] = probabilities
        for i, (pending, outcome) in enumerate(zip(chunk, outcomes, strict=True)):
            if isinstance(outcome, np.ndarray) and not np.isfinite(outcome).all():
                outcomes[i] = f"{pending.file.name}: {INVALID_NUMBERS}"
        return [(pending.entry, outcome) for pending, outcome in zip(chunk, outcomes,
                                                                      strict=True)]

    def _batch(self, tensors: list[np.ndarray]) -> np.ndarray:
        """The decoded images as one input tensor, written into a buffer kept from chunk to
        chunk: a GPU batch of 32 ResNet inputs is 19 MB that need not be allocated and freed
        again for every chunk (the classifier passes it to ONNX Runtime without a copy)."""
        first = tensors[0]
        buffer = self._input
        if (buffer is None or buffer.shape[1:] != first.shape or buffer.dtype != first.dtype
                or buffer.shape[0] < len(tensors)):
            buffer = self._input = np.empty((max(len(tensors), self.batch_size), *first.shape),
                                            first.dtype)
        batch = buffer[:len(tensors)]
        np.stack(tensors, out=batch)
        return batch

    def _result(self, future: Future) -> np.ndarray:
        """The worker's result; while paused, stop waiting for it and hold here instead.

        The worker itself may be held by the pause, so only this wait lets the consumer report
        that the pipeline has stopped (:attr:`PauseToken.holding`).
        """
        while True:
            try:
                return future.result(timeout=0.05)
            except FutureTimeout:
                self.paused_seconds += self.pause.wait_while_paused(self.cancel)
                self.cancel.raise_if_cancelled()

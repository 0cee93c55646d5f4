"""How many threads decode at once when the model runs on the consuming thread.

With a GPU provider, or a model much cheaper than decoding a photo, decoding is the bound and
should have every core; with a CPU session whose model costs as much as decoding, extra
decoders only take cores from ONNX Runtime's own threads. Which case holds is measured, not
assumed: the pipeline's pool has a thread per core, a :class:`DecodeGate` lets
:func:`initial_decoders` of them decode at once, and after the first chunk
:meth:`DecodeGate.observe` compares what decoding and inference cost per image and opens the
gate as far as :func:`decoders_for` says.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

CPU_DECODERS = 4
"""Decoders at first beside a CPU session: on a CPU, inference is usually the bound."""


def initial_decoders(on_cpu: bool, cores: int) -> int:
    """Every core for a GPU provider (the model does not use the CPU); a few on the CPU."""
    return max(1, cores if not on_cpu else min(CPU_DECODERS, cores))


def decoders_for(decode_seconds: float, infer_seconds: float, cores: int, current: int) -> int:
    """Decoders that keep the model busy: one image's decoding time over its inference time,
    never fewer than ``current`` nor more than ``cores``."""
    if infer_seconds <= 0:
        return max(current, cores)
    needed = math.ceil(decode_seconds / infer_seconds) if decode_seconds > 0 else 1
    return max(current, min(cores, needed))


class DecodeGate:
    """At most :attr:`limit` decodes at once; the limit only grows, once it is measured.

    ``clock`` times each decode (seconds; a test passes its own so the measurement does not
    depend on how loaded the machine is).
    """

    def __init__(self, limit: int, cores: int,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.limit = max(1, limit)
        self.cores = max(self.limit, cores)
        self._active = 0
        self._decoded = 0
        self._decode_seconds = 0.0
        self._measured = False
        self._condition = threading.Condition()
        self._clock = clock

    @contextmanager
    def decoding(self) -> Iterator[None]:
        """Held while one image is decoded and preprocessed; its time is measured."""
        with self._condition:
            self._condition.wait_for(lambda: self._active < self.limit)
            self._active += 1
        start = self._clock()
        try:
            yield
        finally:
            elapsed = self._clock() - start
            with self._condition:
                self._active -= 1
                self._decoded += 1
                self._decode_seconds += elapsed
                self._condition.notify()

    def observe(self, images: int, infer_seconds: float) -> None:
        """The first chunk's inference (``images`` in ``infer_seconds``) sizes the gate."""
        if self._measured or images <= 0:
            return
        with self._condition:
            if not self._decoded:
                return
            self._measured = True
            decode = self._decode_seconds / self._decoded
            infer = infer_seconds / images
            limit = decoders_for(decode, infer, self.cores, self.limit)
            log.info("decoding %.1f ms/image, inference %.1f ms/image: %d decoder(s)",
                     decode * 1000, infer * 1000, limit)
            if limit != self.limit:
                self.limit = limit
                self._condition.notify_all()

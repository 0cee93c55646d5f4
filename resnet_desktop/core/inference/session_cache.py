"""The last few open sessions, so switching back to a model is instant and each opens once."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resnet_desktop.core.inference.classifier import Classifier
    from resnet_desktop.core.models.manifest import ModelManifest

log = logging.getLogger(__name__)


class ClassifierCache:
    """The last ``size`` sessions per (model file, manifest, provider, layout); thread-safe.

    Opening a session takes seconds and hundreds of MB for the large ResNets, so a second
    caller asking for a session that is being opened waits for that one instead of opening
    its own; if opening fails, every caller waiting for it gets the same error, and the next
    request tries again.

    A session that runs on a GPU serves both layouts: a throughput session differs from an
    interactive one only in its CPU threads (fewer, and not spinning), which a GPU does not
    use, and a second session would take the device's memory again and, on DirectML, run
    beside the first on one device (see :mod:`~resnet_desktop.core.inference.gpu`).
    """

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._items: OrderedDict[tuple, Classifier] = OrderedDict()
        self._opening: dict[tuple, Future[Classifier]] = {}
        self._lock = threading.Lock()

    def get(self, model_path: Path, manifest: ModelManifest, provider: str,
            model_id: str | None = None, *, throughput: bool = False) -> Classifier:
        path = Path(model_path).resolve()
        stat = path.stat() if path.exists() else None
        key = (str(path), stat.st_size if stat else None, stat.st_mtime_ns if stat else None,
               manifest, provider, throughput)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            other = self._items.get((*key[:-1], not throughput))
            if other is not None and other.provider.active != "cpu":
                self._items.move_to_end((*key[:-1], not throughput))
                return other
            opening = self._opening.get(key)
            if opening is None:
                opening = self._opening[key] = Future()
                opener = True
            else:
                opener = False
        if not opener:
            log.info("%s: waiting for the session another caller is opening",
                     model_id or path.stem)
            return opening.result()
        # Imported here: the cache is made with the engine, before the window's first paint,
        # which does without the classifier's numpy and ONNX Runtime wrapper.
        from resnet_desktop.core.inference.classifier import Classifier

        try:
            classifier = Classifier(path, manifest, provider, model_id, throughput=throughput)
        except BaseException as exc:
            with self._lock:
                del self._opening[key]
            opening.set_exception(exc)
            raise
        with self._lock:
            del self._opening[key]
            self._items[key] = classifier
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        opening.set_result(classifier)
        return classifier

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

"""Compare models on the same images: each model's top-k, time and provider, side by side.

Models run one at a time: a model is loaded (downloaded first if needed), classifies every
image, and is released before the next is loaded, so memory holds one session whatever the
list (ResNet-152 and ResNet-101 together are over 400 MB). A model that cannot be loaded (not
downloaded while offline, a bad file) becomes one error record per image and the others still
run. Everything runs on the caller's thread; a GUI calls it from its model worker and relays
what the :class:`CompareSink` hears. ``Engine.compare`` builds the models from ids and paths.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import Cancelled, ResNetDesktopError
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.inference.results import Classification
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.rollup import CategoryMatch
from resnet_desktop.core.models.download import ProgressCallback

log = logging.getLogger(__name__)

ModelLoader = Callable[[ProgressCallback | None, CancelToken], Classifier]
"""Opens one model's session, downloading it first if needed (raises ResNetDesktopError)."""
Classify = Callable[[Classifier, Path, int], Classification]
"""Classifies one file; a bad image is a ``Classification.error``, not an exception."""


@dataclass(frozen=True)
class CompareModel:
    """One model to compare, with the figures its publisher gives (catalog models only)."""

    id: str
    load: ModelLoader
    top1: float | None = None
    top5: float | None = None
    size: int | None = None
    """The model file's bytes (the catalog's figure, or the custom file's size)."""

    @property
    def published(self) -> str:
        """``"75.81 / 92.82"``: the published ImageNet top-1 / top-5 in percent, ``-`` for a
        figure the publisher does not give (EfficientNet-Lite0 has a top-1 only), and a single
        ``-`` for a model with no published figures (a custom model)."""
        if self.top1 is None and self.top5 is None:
            return "-"
        return " / ".join("-" if value is None else f"{value:.2f}"
                          for value in (self.top1, self.top5))


class CompareSink:
    """What a front end hears from :func:`compare_models`; every method is a no-op here.
    Called on the thread that runs the comparison."""

    def model_started(self, model: CompareModel, index: int, count: int) -> None:
        """Model ``index`` (0-based) of ``count`` is being loaded."""

    def download_progressed(self, done: int, total: int, rate: float) -> None:
        """Bytes of the current model downloaded so far."""

    def result_ready(self, result: Classification) -> None:
        """One image's answer (or error) from one model."""


def compare_models(models: Sequence[CompareModel], images: Sequence[Path], classify: Classify,
                   top_k: int = 5, sink: CompareSink | None = None,
                   cancel: CancelToken = NEVER) -> list[Classification]:
    """Every model on every image, model by model: one record per model and image, in that
    order. Raises ``Cancelled`` (between images and during a download)."""
    sink = sink if sink is not None else CompareSink()
    records: list[Classification] = []

    def emit(result: Classification) -> None:
        records.append(result)
        sink.result_ready(result)

    for index, model in enumerate(models):
        cancel.raise_if_cancelled()
        sink.model_started(model, index, len(models))
        try:
            classifier = model.load(sink.download_progressed, cancel)
        except Cancelled:
            raise
        except ResNetDesktopError as exc:
            log.info("compare: %s cannot be loaded: %s", model.id, exc)
            for path in images:
                emit(Classification(Path(path), model.id, error=str(exc)))
            continue
        for path in images:
            cancel.raise_if_cancelled()
            emit(classify(classifier, Path(path), top_k))
        del classifier  # the next model's session never shares memory with this one
    return records


def agreement(results: Sequence[Classification]) -> str | None:
    """The top-1 label most of ``results`` (one image, several models) share, if two or more
    models give it; None when every model says something different."""
    labels = Counter(r.top[0].label for r in results if r.ok and r.top)
    if not labels:
        return None
    label, count = labels.most_common(1)[0]
    return label if count >= 2 else None


def category(result: Classification, policy: KeywordPolicy) -> CategoryMatch | None:
    """The curated category of a model's answer, for models with WordNet ids (ImageNet)."""
    if not result.ok or not result.top or not result.top[0].wnid:
        return None
    return policy.category(result.top, result.categories)


def to_json(result: Classification, policy: KeywordPolicy) -> dict[str, object]:
    """``{"path", "model", "provider", "ms", "top", "category"}`` as ``classify --json``
    writes them, or ``{"path", "model", "error"}``."""
    if not result.ok:
        return {"path": str(result.path), "model": result.model, "error": result.error}
    match = category(result, policy)
    return result.to_json() | {"category": match.to_json() if match is not None else None}

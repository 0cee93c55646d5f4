"""Top-1 / top-5 accuracy of a model on a labelled folder, with a per-class summary.

How a user reproduces the zoo's accuracy table on their own copy of ImageNet val: read the
folder (``core.labelled_folder``: ImageFolder, ILSVRC2012 devkit, LOC_val_solution.csv or a
val.txt), then :func:`validate` decodes and preprocesses images on a small thread pool exactly
as classification does, runs them through the model in batches and counts. Images that cannot
be decoded are listed in ``failures`` and left out of the accuracy, never fatal.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_desktop.core.batch.pipeline import ClassifyPipeline
from resnet_desktop.core.foundation.atomic import atomic_open
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.validation.labelled_folder import LabelledSet

log = logging.getLogger(__name__)

ValidationProgress = Callable[[int, int, float], None]
"""``progress(done, total, images_per_second)``, called after every batch."""

TOP_K = 5
SUMMARY_COLUMNS = ("class", "images", "top1_percent", "top5_percent",
                   "most_frequent_wrong_prediction", "most_frequent_wrong_count", "wnid")


class _Accuracy:
    """Top-1 and top-5 accuracy from the ``images``, ``top1`` and ``top5`` counts."""

    images: int
    top1: int
    top5: int

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.images if self.images else 0.0

    @property
    def top5_accuracy(self) -> float:
        return self.top5 / self.images if self.images else 0.0


@dataclass(frozen=True)
class ClassSummary(_Accuracy):
    """One class of the labelled set: how often the model got it right, and what it said."""

    index: int
    label: str
    wnid: str | None
    images: int
    top1: int
    top5: int
    most_frequent_wrong: str | None
    most_frequent_wrong_count: int


@dataclass(frozen=True)
class ValidationResult(_Accuracy):
    """Counts over the images that decoded; ``k`` is 5, or the class count if smaller."""

    model: str
    root: Path
    form: str
    images: int
    top1: int
    top5: int
    k: int
    classes: tuple[ClassSummary, ...]
    failures: tuple[tuple[Path, str], ...]
    seconds: float

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "folder": str(self.root),
            "form": self.form,
            "images": self.images,
            "top1": round(self.top1_accuracy * 100, 4),
            "top5": round(self.top5_accuracy * 100, 4),
            "top1_correct": self.top1,
            "top5_correct": self.top5,
            "k": self.k,
            "failed": [{"path": str(p), "error": e} for p, e in self.failures],
            "seconds": round(self.seconds, 2),
        }


def validate(classifier: Classifier, dataset: LabelledSet, *,
             progress: ValidationProgress | None = None, cancel: CancelToken = NEVER,
             batch_size: int = 16, workers: int | None = None) -> ValidationResult:
    """Top-1/top-5 of ``classifier`` on ``dataset``; raises Cancelled when ``cancel`` fires."""
    count = classifier.io.num_classes
    if any(item.target >= count for item in dataset.images):
        worst = max(item.target for item in dataset.images)
        raise ResNetDesktopError(f"the labelled set uses class index {worst} but the model has "
                                 f"only {count} classes")
    k = min(TOP_K, count)
    total = len(dataset.images)
    start = time.perf_counter()
    per_class_images = np.zeros(count, np.int64)
    per_class_top1 = np.zeros(count, np.int64)
    per_class_top5 = np.zeros(count, np.int64)
    wrong: dict[int, Counter[int]] = {}
    failures: list[tuple[Path, str]] = []
    done = 0
    pipeline = ClassifyPipeline(classifier, batch_size=batch_size, workers=workers,
                                cancel=cancel)
    chunks = pipeline.chunks(iter(dataset.images), lambda item: item.path)
    try:
        for chunk in chunks:
            scored = [(item, outcome) for item, outcome in chunk
                      if isinstance(outcome, np.ndarray)]
            for item, outcome in chunk:
                if isinstance(outcome, str):
                    failures.append((item.path, outcome))
                    log.info("validation: %s", outcome)
            if scored:
                _score(np.stack([probabilities for _, probabilities in scored]),
                       np.asarray([item.target for item, _ in scored]), k, per_class_images,
                       per_class_top1, per_class_top5, wrong)
                done += len(scored)
            if progress is not None:
                elapsed = time.perf_counter() - start
                progress(done + len(failures), total,
                         (done + len(failures)) / elapsed if elapsed > 0 else 0.0)
            cancel.raise_if_cancelled()
    finally:
        chunks.close()  # stops the worker threads now, also on cancel or error
    labels = classifier.labels
    classes = []
    for index in np.flatnonzero(per_class_images):
        mistakes = wrong.get(int(index))
        common = max(mistakes.items(), key=lambda kv: (kv[1], -kv[0])) if mistakes else None
        classes.append(ClassSummary(
            index=int(index), label=labels[index].name, wnid=labels[index].wnid,
            images=int(per_class_images[index]), top1=int(per_class_top1[index]),
            top5=int(per_class_top5[index]),
            most_frequent_wrong=labels[common[0]].name if common else None,
            most_frequent_wrong_count=common[1] if common else 0,
        ))
    return ValidationResult(
        model=classifier.model_id, root=dataset.root, form=dataset.form,
        images=int(per_class_images.sum()), top1=int(per_class_top1.sum()),
        top5=int(per_class_top5.sum()), k=k, classes=tuple(classes),
        failures=tuple(failures), seconds=time.perf_counter() - start,
    )


def _score(probabilities: np.ndarray, targets: np.ndarray, k: int, images: np.ndarray,
           top1: np.ndarray, top5: np.ndarray, wrong: dict[int, Counter[int]]) -> None:
    # Ties go to the lower class index, as in Classifier.top_k (a stable sort).
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    first = order[:, 0]
    hit1 = first == targets
    hit5 = (order == targets[:, None]).any(axis=1)
    np.add.at(images, targets, 1)
    np.add.at(top1, targets, hit1.astype(np.int64))
    np.add.at(top5, targets, hit5.astype(np.int64))
    for target, predicted in zip(targets[~hit1], first[~hit1], strict=True):
        wrong.setdefault(int(target), Counter())[int(predicted)] += 1


def summary_rows(result: ValidationResult) -> list[list[str]]:
    """The per-class CSV's rows (header first), classes in the model's order."""
    rows = [list(SUMMARY_COLUMNS)]
    for c in result.classes:
        rows.append([c.label, str(c.images), f"{c.top1_accuracy * 100:.2f}",
                     f"{c.top5_accuracy * 100:.2f}", c.most_frequent_wrong or "",
                     str(c.most_frequent_wrong_count), c.wnid or ""])
    return rows


def write_summary_csv(result: ValidationResult, path: Path) -> Path:
    """Write the per-class summary atomically (a failed write leaves any old file intact)."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(summary_rows(result))
    return path

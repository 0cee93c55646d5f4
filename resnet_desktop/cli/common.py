"""Pieces the subcommands share: model and provider options, terminal progress, the engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

from resnet_desktop.core.engine import (
    POLICIES,
    CancelToken,
    Classifier,
    Engine,
    ModelRef,
    flavour_warning,
)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", metavar="ID|PATH",
                        help="catalog id (see `models list`) or a path to an .onnx file "
                             "(default: resnet50-v2-7 once downloaded, until then the "
                             "built-in efficientnet-lite0)")
    parser.add_argument("--provider", choices=POLICIES, default="auto",
                        help="execution provider (default auto: GPU if one starts, else CPU)")


def warn_flavours() -> None:
    warning = flavour_warning()
    if warning:
        print(f"resnet-desktop: warning: {warning}", file=sys.stderr)


@contextmanager
def download_bar(label: str) -> Iterator[Callable[[int, int, float], None]]:
    """A tqdm bar on stderr (when it is a terminal) fed by ``progress(done, total, rate)``."""
    bar: tqdm | None = None

    def progress(done: int, total: int, rate: float) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=0, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=f"Downloading {label}", file=sys.stderr, leave=True,
                       disable=None)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()


def load_classifier(engine: Engine, args: argparse.Namespace,
                    cancel: CancelToken | None = None,
                    throughput: bool = False) -> tuple[ModelRef, Classifier]:
    """Resolve ``--model``, download it with a progress bar if needed, open its session.

    ``throughput=True`` opens the session built for folder batches.
    """
    warn_flavours()
    if not args.model:
        note = engine.default_note()
        if note:
            print(f"resnet-desktop: {note}", file=sys.stderr)
    ref = engine.resolve(args.model)
    with download_bar(ref.id) as progress:
        classifier = engine.load(ref, args.provider, progress=progress, cancel=cancel,
                                 throughput=throughput)
    if classifier.provider.fallback_reason:
        print(f"resnet-desktop: running on CPU: {classifier.provider.fallback_reason}",
              file=sys.stderr)
    return ref, classifier

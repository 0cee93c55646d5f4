"""``resnet-desktop compare IMAGE... --models ID|PATH,ID|PATH``: several models side by side."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from resnet_desktop.cli.common import download_bar, warn_flavours
from resnet_desktop.core.engine import (
    POLICIES,
    Classification,
    Engine,
    KeywordPolicy,
    format_bytes,
)
from resnet_desktop.core.operations.compare import (
    CompareModel,
    CompareSink,
    agreement,
    category,
    to_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare", help="run several models on the same images",
        description="Classify each image with each model, one model in memory at a time, and "
                    "show them side by side: top-1 (with the rest of the top-k and the "
                    "curated category), where the models agree, the provider that ran and "
                    "its time, and the catalog's published ImageNet top-1/top-5 and file "
                    "size.")
    parser.add_argument("--models", required=True, metavar="ID|PATH,ID|PATH[,...]",
                        help="catalog ids (see `models list`) or .onnx paths, comma-separated; "
                             "catalog models are downloaded if needed")
    parser.add_argument("--provider", choices=POLICIES, default="auto",
                        help="execution provider (default auto: GPU if one starts, else CPU)")
    parser.add_argument("-k", "--top", type=int, default=5, metavar="K",
                        help="how many classes per image and model (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list: one object per image and model")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.set_defaults(func=run)


class _Progress(CompareSink):
    """A download bar per model that needs one."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._bar = None

    def model_started(self, model: CompareModel, index: int, count: int) -> None:
        self._stack.close()
        self._bar = self._stack.enter_context(download_bar(model.id))

    def download_progressed(self, done: int, total: int, rate: float) -> None:
        if self._bar is not None:
            self._bar(done, total, rate)


def _print_image(path: Path, rows: Sequence[tuple[CompareModel, Classification]],
                 policy: KeywordPolicy) -> None:
    agreed = agreement([result for _, result in rows])
    width = max(len(model.id) for model, _ in rows)
    print(f"{path}")
    print(f"  {'model':<{width}}  {'top-1':<28} {'':1} {'provider':<8} {'ms':>7}  "
          f"{'top-1 / top-5':>13} {'size':>9}")
    for model, result in rows:
        if not result.ok:
            print(f"  {model.id:<{width}}  error: {result.error}")
            continue
        best = result.top[0]
        answer = f"{best.label} {best.probability * 100:.1f}%"
        mark = "*" if agreed is not None and best.label == agreed else ""
        size = format_bytes(model.size) if model.size else "-"
        print(f"  {model.id:<{width}}  {answer:<28} {mark:1} {result.provider:<8} "
              f"{result.ms:7.1f}  {model.published:>13} {size:>9}")
        if len(result.top) > 1:
            rest = ", ".join(f"{p.label} {p.probability * 100:.1f}%" for p in result.top[1:])
            print(f"  {'':<{width}}    then {rest}")
        match = category(result, policy)
        if match is not None:
            print(f"  {'':<{width}}    category {match.label} {match.probability * 100:.1f}%")
    if agreed is not None:
        count = sum(1 for _, r in rows if r.ok and r.top and r.top[0].label == agreed)
        print(f"  * {count} of {len(rows)} models agree: {agreed}")
    else:
        print("  no two models agree on the top-1")


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        print("resnet-desktop: error: --top must be at least 1", file=sys.stderr)
        return 2
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    if not names:
        print("resnet-desktop: error: --models needs at least one ID or PATH", file=sys.stderr)
        return 2
    warn_flavours()
    engine = Engine()
    models = [engine.compare_model(name, args.provider) for name in names]
    with contextlib.ExitStack() as stack:
        results = engine.compare(models, args.images, args.top, _Progress(stack))
    for model_id, error in dict.fromkeys((r.model, r.error) for r in results if not r.ok):
        named = error if model_id in error else f"{model_id}: {error}"
        print(f"resnet-desktop: {named}", file=sys.stderr)
    # Records come model by model; people read them image by image.
    count = len(args.images)
    by_image = [[(model, results[m * count + i]) for m, model in enumerate(models)]
                for i in range(count)]
    policy = KeywordPolicy(0.0)
    if args.json:
        json.dump([to_json(r, policy) for rows in by_image for _, r in rows], sys.stdout,
                  indent=2, ensure_ascii=False)
        print()
    else:
        for path, rows in zip(args.images, by_image, strict=True):
            _print_image(path, rows, policy)
    return 0 if all(r.ok for r in results) else 1

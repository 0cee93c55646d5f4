"""``resnet-desktop classify IMAGE...``: the top-k of each image, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resnet_desktop.cli.common import add_model_options, load_classifier
from resnet_desktop.core.engine import Classification, Engine


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("classify", help="classify image files",
                            description="Print the top-k classes of each image.")
    add_model_options(parser)
    parser.add_argument("-k", "--top", type=int, default=5, metavar="K",
                        help="how many classes per image (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list, one object per image")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.set_defaults(func=run)


def _print_text(result: Classification) -> None:
    if not result.ok:
        print(f"resnet-desktop: {result.error}", file=sys.stderr)
        return
    print(f"{result.path}  ({result.model}, {result.provider}, {result.ms:.0f} ms)")
    for prediction in result.top:
        print(f"  {prediction.probability * 100:6.2f}%  {prediction.label}")


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        print("resnet-desktop: error: --top must be at least 1", file=sys.stderr)
        return 2
    engine = Engine()
    _, classifier = load_classifier(engine, args)
    results = []
    for path in args.images:
        result = engine.classify_file(classifier, path, args.top)
        results.append(result)
        if not args.json:
            _print_text(result)
    if args.json:
        for result in results:
            if not result.ok:
                print(f"resnet-desktop: {result.error}", file=sys.stderr)
        json.dump([r.to_json() for r in results], sys.stdout, indent=2, ensure_ascii=False)
        print()
    return 0 if all(r.ok for r in results) else 1

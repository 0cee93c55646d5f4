"""``resnet-desktop validate DIR --model ...``: top-1/top-5 on a labelled folder."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tqdm import tqdm

from resnet_desktop.cli.common import add_model_options, load_classifier
from resnet_desktop.core.engine import Engine, plural
from resnet_desktop.core.validation.labelled_folder import GROUND_TRUTH_NAMES, find_labelled_set
from resnet_desktop.core.validation.validate import validate, write_summary_csv

_SHOWN_FAILURES = 5


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate", help="top-1/top-5 accuracy on a labelled folder",
        description="Measure a model's top-1 and top-5 accuracy on a labelled folder and write "
                    "a per-class summary CSV. DIR is an ImageFolder (one subfolder per class, "
                    "named by label or WordNet id) or a folder of images with a ground-truth "
                    f"file ({', '.join(GROUND_TRUTH_NAMES)}; the devkit's file needs its "
                    "meta.mat).")
    add_model_options(parser)
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument("--summary", "--csv", type=Path, metavar="FILE", dest="summary",
                        help="per-class CSV to write (default: <model>_<folder>_per_class.csv "
                             "beside DIR)")
    parser.add_argument("--ground-truth", type=Path, metavar="FILE",
                        help="ground-truth file, when it is not in DIR or its parent")
    parser.add_argument("--meta", type=Path, metavar="FILE",
                        help="the ILSVRC2012 devkit's meta.mat, when it is not beside the "
                             "ground-truth file")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="validate N images spread evenly over the set (a quick estimate)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="B",
                        help="images per model run (default 16)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def _default_summary(model_id: str, folder: Path) -> Path:
    """``<model>_<folder>_per_class.csv`` beside the labelled folder, where its results belong
    (not wherever the command happened to be run)."""
    folder = folder.resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.name or "folder")
    return folder.parent / f"{model_id}_{name}_per_class.csv"


def run(args: argparse.Namespace) -> int:
    for option in ("limit", "batch_size"):
        value = getattr(args, option)
        if value is not None and value < 1:
            print(f"resnet-desktop: error: --{option.replace('_', '-')} must be at least 1",
                  file=sys.stderr)
            return 2
    engine = Engine()
    ref, classifier = load_classifier(engine, args, throughput=True)
    dataset = find_labelled_set(args.folder, classifier.labels, args.ground_truth, args.meta)
    dataset = dataset.sample(args.limit)
    if dataset.skipped:
        print(f"resnet-desktop: {plural(dataset.skipped, 'image')} in {args.folder} not in the "
              "ground truth; skipped", file=sys.stderr)
    with tqdm(total=len(dataset), unit="img", desc=f"Validating {ref.id}", file=sys.stderr,
              leave=True) as bar:
        def progress(done: int, total: int, rate: float) -> None:
            bar.update(done - bar.n)

        result = validate(classifier, dataset, progress=progress, batch_size=args.batch_size)
    summary = write_summary_csv(result, args.summary or _default_summary(ref.id, args.folder))
    for path, error in result.failures[:_SHOWN_FAILURES]:
        print(f"resnet-desktop: skipped {path}: {error}", file=sys.stderr)
    if len(result.failures) > _SHOWN_FAILURES:
        print(f"resnet-desktop: ... {plural(len(result.failures) - _SHOWN_FAILURES, 'more image')}"
              " could not be read", file=sys.stderr)
    if args.json:
        json.dump(result.to_json() | {"summary": str(summary)}, sys.stdout, indent=2,
                  ensure_ascii=False)
        print()
    else:
        print(f"{ref.name} on {plural(result.images, 'image')} ({dataset.form}):")
        print(f"  top-1  {result.top1_accuracy * 100:6.2f}%  ({result.top1}/{result.images})")
        print(f"  top-5  {result.top5_accuracy * 100:6.2f}%  "
              f"({result.top5}/{result.images})")
        if result.failures:
            print(f"  {plural(len(result.failures), 'image')} could not be read and are not "
                  "counted")
        print(f"per-class summary: {summary}")
    return 0 if result.images else 1

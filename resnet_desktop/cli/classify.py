"""``resnet-desktop classify IMAGE...``: the top-k of each image, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resnet_desktop.cli.common import add_model_options, load_classifier
from resnet_desktop.core.engine import (
    CategoryMatch,
    Classification,
    Classifier,
    Engine,
    KeywordPolicy,
    load_user_vocabulary,
    load_vocabulary,
)
from resnet_desktop.core.operations.where_it_looked import (
    CamReport,
    class_index,
    where_it_looked,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("classify", help="classify image files",
                            description="Print the top-k classes of each image.")
    add_model_options(parser)
    parser.add_argument("-k", "--top", type=int, default=5, metavar="K",
                        help="how many classes per image (default 5)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list, one object per image")
    parser.add_argument("--cam", type=Path, metavar="DIR",
                        help="write DIR/<stem>.cam.png per image: the photo with the top-1 "
                             "class activation map (where the model looked) over it; --json "
                             "adds \"cam\": {\"label\", \"peak\": [x, y]} in the photo's pixels")
    parser.add_argument("--cam-label", metavar="LABEL",
                        help="with --cam: map this class (name or WordNet id) instead of the "
                             "top-1")
    parser.add_argument("--vocabulary", type=Path, metavar="FILE",
                        help="a vocabulary JSON file (renames, blocked classes, per-class "
                             "thresholds, levels; see the README) applied to the category "
                             "(default: the one saved by the window's vocabulary editor)")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.set_defaults(func=run)


def _category_line(match: CategoryMatch | None) -> str:
    if match is None:
        return "  category: no confident match"
    return (f"  category: {match.label} {match.probability * 100:.2f}% "
            f"({' > '.join(match.path)})")


def _print_text(result: Classification, policy: KeywordPolicy | None) -> None:
    if not result.ok:
        print(f"resnet-desktop: {result.error}", file=sys.stderr)
        return
    print(f"{result.path}  ({result.model}, {result.provider}, {result.ms:.0f} ms)")
    if policy is not None:
        print(_category_line(policy.category(result.top, result.categories)))
    for prediction in result.top:
        print(f"  {prediction.probability * 100:6.2f}%  {prediction.label}")


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        print("resnet-desktop: error: --top must be at least 1", file=sys.stderr)
        return 2
    if args.cam_label and args.cam is None:
        print("resnet-desktop: error: --cam-label needs --cam DIR", file=sys.stderr)
        return 2
    vocabulary = load_vocabulary(args.vocabulary) if args.vocabulary else load_user_vocabulary()
    engine = Engine()
    _, classifier = load_classifier(engine, args)
    policy = KeywordPolicy(0.0, vocabulary)
    vocabulary.check_names(policy.known_names([label.name for label in classifier.labels]))
    # Models with their own labels (no WordNet ids) have no categories.
    categories = policy if any(label.wnid for label in classifier.labels) else None
    with_cam = args.cam is not None and _cam_available(classifier)
    cam_class = class_index(classifier.labels, args.cam_label) if with_cam and args.cam_label \
        else None
    results: list[Classification] = []
    cams: list[CamReport | None] = []
    for path in args.images:
        result = engine.classify_file(classifier, path, args.top, with_cam=with_cam)
        cam = (where_it_looked(result, classifier.labels, cam_class, args.cam)
               if with_cam and result.ok else None)
        results.append(result)
        cams.append(cam)
        if not args.json:
            _print_text(result, categories)
            if cam is not None:
                _print_cam(cam)
    if args.json:
        for result in results:
            if not result.ok:
                print(f"resnet-desktop: {result.error}", file=sys.stderr)
        records = [r.to_json() | _category_json(r, categories)
                   | ({"cam": cam.to_json()} if cam is not None else {})
                   for r, cam in zip(results, cams, strict=True)]
        json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
        print()
    return 0 if all(r.ok for r in results) else 1


def _category_json(result: Classification, policy: KeywordPolicy | None) -> dict:
    if not result.ok:
        return {}
    match = policy.category(result.top, result.categories) if policy is not None else None
    return {"category": match.to_json() if match is not None else None}


def _cam_available(classifier: Classifier) -> bool:
    """True when the model has activation maps; otherwise says so once."""
    if classifier.cam_available():
        return True
    print(f"resnet-desktop: {classifier.model_id}: activation maps are not available for this "
          "model (it does not end in global average pooling and one fully connected layer)",
          file=sys.stderr)
    return False


def _print_cam(report: CamReport) -> None:
    x, y = report.peak
    print(f"  where it looked for {report.label}: peak at ({x}, {y}), {report.image}")

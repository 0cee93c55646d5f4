"""``resnet-desktop import MODEL.onnx --labels FILE``: check a custom model, write its sidecar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resnet_desktop.core.operations.import_model import (
    COLORS,
    CUSTOM,
    LAYOUTS,
    OUTPUTS,
    PRESET_CHOICES,
    PRESETS,
    ImportRequest,
    ManifestExistsError,
    check_import,
    import_model,
)


def register(sub: argparse._SubParsersAction) -> None:
    presets = "; ".join(f"{p.key}: {p.title}" for p in PRESETS.values())
    parser = sub.add_parser(
        "import", help="import a custom .onnx classifier with its labels",
        description="Check a custom model (any number of classes, NCHW or NHWC, fixed or "
                    "dynamic batch) by opening and test-running it, then write its sidecar "
                    "manifest (MODEL.json beside MODEL.onnx). Settings not given are read "
                    "from the model.")
    parser.add_argument("model", type=Path, metavar="MODEL.onnx")
    parser.add_argument("--labels", required=True, metavar="FILE",
                        help="labels file, one class per line in output order "
                             "(or 'imagenet' for the 1000 ImageNet classes)")
    parser.add_argument("--name", help="display name (default: the file name)")
    parser.add_argument("--preset", choices=PRESET_CHOICES, default=None,
                        help=f"normalisation ({presets}; custom: give --mean and --std). "
                             "Default imagenet, or custom when --mean/--std are given")
    parser.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                        help="custom mean per channel in 0-255 units, R G B order")
    parser.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"),
                        help="custom std per channel in 0-255 units, R G B order")
    parser.add_argument("--color", choices=COLORS, type=str.upper,
                        help="channel order the model expects (custom preset; default RGB)")
    parser.add_argument("--input-size", type=int, metavar="PIXELS",
                        help="side of the square input (default: the model's, else 224)")
    parser.add_argument("--resize", type=int, metavar="PIXELS",
                        help="shorter side before the centre crop (default: input size x "
                             "256/224)")
    parser.add_argument("--layout", choices=LAYOUTS, type=str.upper,
                        help="input layout (default: detected from the model)")
    parser.add_argument("--output", choices=OUTPUTS,
                        help="what the model outputs (default: detected by a test run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check only; do not write the sidecar")
    parser.add_argument("--force", action="store_true",
                        help="replace the model's existing sidecar manifest")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    custom_values = args.mean is not None or args.std is not None or args.color is not None
    preset = args.preset or (CUSTOM if custom_values else "imagenet")
    request = ImportRequest(
        model=args.model,
        labels=args.labels,
        name=args.name,
        preset=preset,
        mean=tuple(args.mean) if args.mean else None,
        std=tuple(args.std) if args.std else None,
        color=args.color,
        input_size=args.input_size,
        resize=args.resize,
        layout=args.layout,
        output=args.output,
    )
    try:
        result = check_import(request) if args.dry_run else \
            import_model(request, overwrite=args.force)
    except ManifestExistsError as exc:
        raise ManifestExistsError(f"{exc}; add --force to replace it", exc.field) from None
    manifest_json = result.manifest.to_json(result.model_path.parent)
    if args.json:
        json.dump({"model": str(result.model_path),
                   "sidecar": str(result.sidecar) if result.sidecar else None,
                   "classes": result.num_classes, "detected": list(result.detected),
                   "manifest": manifest_json}, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    pre = result.manifest.preprocessing
    print(f"{result.manifest.name}: {result.num_classes} classes, input {pre.input_size}x"
          f"{pre.input_size} {pre.layout} {pre.color}, resize {pre.resize}, "
          f"{result.manifest.output}")
    for item in result.detected:
        print(f"  read from the model: {item}")
    if result.sidecar:
        print(f"wrote {result.sidecar}")
    else:
        print("checked (dry run; nothing written)")
    return 0

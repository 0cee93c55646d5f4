"""``resnet-desktop info MODEL [--json]``: parameters, MACs, opset, inputs, outputs, file."""

from __future__ import annotations

import argparse
import json
import sys

from resnet_desktop.core.engine import Engine, ModelDescription, format_bytes, format_count


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info", help="facts of a model: parameters, MACs, opset, inputs, outputs, SHA-256",
        description="Read a model's facts from its graph. MACs are multiply-accumulates of the "
                    "convolutions and fully connected layers for one image at the model's input "
                    "size (what the ResNet papers and mmpretrain call FLOPs).")
    parser.add_argument("model", metavar="MODEL",
                        help="catalog id of a downloaded model, or a path to an .onnx file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _print_text(info: ModelDescription) -> None:
    facts = info.facts
    rows = [
        ("model", f"{info.name} ({info.id})"),
        ("file", str(facts.path)),
        ("size", f"{format_bytes(facts.bytes)} ({facts.bytes:,} bytes)"),
        ("sha256", facts.sha256 or "-"),
        ("parameters", f"{format_count(facts.params)} ({facts.params:,})"),
        ("MACs", f"{format_count(facts.macs)} ({facts.macs:,}) at {facts.input_size}x"
                 f"{facts.input_size}" if facts.macs is not None else "unknown"),
        ("opset", str(facts.opset) if facts.opset is not None else "-"),
        ("labels", f"{info.labels} ({info.labels_source})" if info.labels is not None
         else f"unreadable: {info.labels_error}"),
        *([("warning", info.labels_error)] if info.labels is not None and info.labels_error
          else []),
    ]
    rows += [(f"input {t.name}", f"{t.shape_text} {t.dtype}") for t in facts.inputs]
    rows += [(f"output {t.name}", f"{t.shape_text} {t.dtype}") for t in facts.outputs]
    if info.top1 is not None:
        rows.append(("published", f"top-1 {info.top1:.2f}%, top-5 {info.top5:.2f}%"
                     if info.top5 is not None else f"top-1 {info.top1:.2f}%"))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for note in facts.notes:
        print(f"note: {note}")


def run(args: argparse.Namespace) -> int:
    info = Engine().describe(args.model)
    if args.json:
        json.dump(info.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        _print_text(info)
    return 0

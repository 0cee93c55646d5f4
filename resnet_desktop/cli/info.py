"""``resnet-desktop info MODEL [--json]``: parameters, MACs, opset, inputs, outputs, file.

A catalog model that is not downloaded yet gets the catalog's facts (size, published accuracy,
licence, preprocessing, labels) and a note on what needs the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from resnet_desktop.core.engine import (
    CatalogEntry,
    Engine,
    ModelDescription,
    format_bytes,
    format_count,
    preprocessing_text,
)

NEEDS_THE_FILE = "parameters, MACs, opset, inputs and outputs"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info", help="facts of a model: parameters, MACs, opset, inputs, outputs, SHA-256",
        description="Read a model's facts from its graph. MACs are multiply-accumulates of the "
                    "convolutions and fully connected layers for one image at the model's input "
                    "size (what the ResNet papers and mmpretrain call FLOPs).")
    parser.add_argument("model", metavar="MODEL",
                        help="catalog id (downloaded or not) or a path to an .onnx file")
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
        rows.append(("published", _published(info.top1, info.top5)))
    rows += [("licence", info.license or "not stated"), ("preprocessing", info.preprocessing),
             ("added", "built in" if info.builtin else _date(info.file_date))]
    _print_rows(rows)
    for note in facts.notes:
        print(f"note: {note}")


def _published(top1: float, top5: float | None) -> str:
    return f"top-1 {top1:.2f}%, top-5 {top5:.2f}%" if top5 is not None else f"top-1 {top1:.2f}%"


def _date(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def _print_catalog_entry(entry: CatalogEntry, as_json: bool) -> None:
    """What the catalog knows before the download, and what needs the file."""
    manifest = entry.manifest
    labels = "ImageNet (1000 classes)" if manifest.labels == "imagenet" else manifest.labels
    command = f"resnet-desktop models download {entry.id}"
    if as_json:
        json.dump({"id": entry.id, "name": entry.name, "downloaded": False,
                   "bytes": entry.bytes, "sha256": entry.sha256,
                   "published": {"top1": entry.top1, "top5": entry.top5},
                   "license": entry.license, "labels_source": manifest.labels,
                   "preprocessing": preprocessing_text(manifest.preprocessing),
                   "sources": len(entry.urls), "needs_download": command},
                  sys.stdout, indent=2, ensure_ascii=False)
        print()
        return
    rows = [("model", f"{entry.name} ({entry.id})"),
            ("status", "not downloaded"),
            ("size", f"{format_bytes(entry.bytes)} to download ({entry.bytes:,} bytes)"),
            ("sha256", entry.sha256)]
    if entry.top1 is not None:
        rows.append(("published", _published(entry.top1, entry.top5)))
    rows += [("licence", entry.license or "not stated"), ("labels", labels),
             ("preprocessing", preprocessing_text(manifest.preprocessing)),
             ("sources", f"{len(entry.urls)} download URLs")]
    _print_rows(rows)
    print(f"note: {NEEDS_THE_FILE} are read from the file: `{command}` first")


def run(args: argparse.Namespace) -> int:
    engine = Engine()
    entry = engine.catalog.get(args.model)
    if entry is not None and not engine.is_ready(engine.resolve(args.model)):
        _print_catalog_entry(entry, args.json)
        return 0
    info = engine.describe(args.model)
    if args.json:
        json.dump(info.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        _print_text(info)
    return 0

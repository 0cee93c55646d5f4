"""``resnet-desktop models list|download|remove|verify|path``: the download cache."""

from __future__ import annotations

import argparse
import sys

from resnet_desktop.cli.common import download_bar
from resnet_desktop.core.engine import CatalogEntry, Engine, ModelError, format_bytes


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list, download, remove or verify models",
                            description="Manage the catalog's models in the download cache.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the catalog, with what is downloaded")
    for name, text in (("download", "download and verify a model"),
                       ("remove", "delete a downloaded model (and any partial download)"),
                       ("verify", "re-check a downloaded model's SHA-256"),
                       ("path", "print where a model's file is (or would be)")):
        actions.add_parser(name, help=text).add_argument("id", metavar="ID")
    parser.set_defaults(func=run)


def _status(engine: Engine, entry: CatalogEntry) -> str:
    cache = engine.cache
    if entry.builtin:
        return "built in"
    if cache.is_cached(entry.id):
        return "downloaded"
    partial = cache.partial_bytes(entry.id)
    return f"partial ({format_bytes(partial)})" if partial else "-"


def _print_list(engine: Engine) -> None:
    """The catalog as a table whose columns fit their longest cell in every row."""
    rows = [("id", "name", "size", "top-1", "top-5", "status")]
    for entry in engine.catalog:
        rows.append((entry.id, entry.name, format_bytes(entry.bytes),
                     f"{entry.top1:.2f}" if entry.top1 is not None else "-",
                     f"{entry.top5:.2f}" if entry.top5 is not None else "-",
                     _status(engine, entry)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        left = "  ".join(cell.ljust(width) for cell, width in zip(row[:2], widths, strict=False))
        right = "  ".join(cell.rjust(width) for cell, width in zip(row[2:5], widths[2:],
                                                                    strict=True))
        print(f"{left}  {right}  {row[5]}")


def run(args: argparse.Namespace) -> int:
    engine = Engine()
    cache = engine.cache
    if args.action == "list":
        _print_list(engine)
        return 0
    if engine.catalog.get(args.id) is None:
        raise ModelError(f"unknown model {args.id!r}; `resnet-desktop models list` shows the "
                         "catalog")
    if args.action == "path":
        print(cache.path_for(args.id))
        return 0
    if args.action == "download":
        with download_bar(args.id) as progress:
            path = cache.ensure(args.id, progress=progress)
        print(path)
        return 0
    if args.action == "remove":
        if cache.remove(args.id):
            print(f"removed {args.id}")
            return 0
        print(f"resnet-desktop: {args.id} is not downloaded", file=sys.stderr)
        return 1
    if not cache.is_cached(args.id):
        print(f"resnet-desktop: {args.id} is not downloaded", file=sys.stderr)
        return 1
    if cache.verify(args.id):
        print(f"{args.id}: OK (SHA-256 matches)")
        return 0
    print(f"resnet-desktop: {args.id}: checksum mismatch; the damaged file was removed, "
          f"download it again", file=sys.stderr)
    return 1

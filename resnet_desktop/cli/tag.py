"""``resnet-desktop tag FOLDER``: classify a folder, write CSV/JSON and XMP sidecars.

Per-file problems (unreadable, truncated, not an image, too large) are recorded in the outputs
and printed, and the batch goes on; the exit status is non-zero only when the batch itself
could not run (no such folder, no model, an export that cannot be written, an interrupt).
Everything is streamed: records go to the exports and sidecars as they come.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from tqdm import tqdm

from resnet_desktop.cli.common import add_model_options, download_bar, warn_flavours
from resnet_desktop.core.engine import (
    DEFAULT_NAMING,
    EXTENSIONS,
    BatchOptions,
    BatchProgress,
    BatchRecord,
    Engine,
    SidecarMode,
    SidecarNaming,
    TaggingModel,
    TagRequest,
    TagSink,
    UndoError,
    load_user_vocabulary,
    load_vocabulary,
    normalise_extensions,
    undo_last,
)
from resnet_desktop.core.operations.tag_folder import ClusterOptions


def _extensions(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return EXTENSIONS
    return normalise_extensions(part for value in values for part in value.split(","))


def _probability(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (or 0% and 100%)")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tag", help="classify every image in a folder; write CSV, JSON, XMP sidecars",
        description="Classify the images in FOLDER. Results are remembered, so running again "
                    "skips unchanged images and an interrupted run resumes.")
    parser.add_argument("folder", type=Path, metavar="FOLDER")
    add_model_options(parser)
    parser.add_argument("-r", "--recursive", action="store_true", help="include subfolders")
    parser.add_argument("--extensions", nargs="+", metavar="EXT",
                        help="file extensions to include, e.g. jpg png or jpg,png "
                             "(default: every supported image format)")
    parser.add_argument("-k", "--top", type=int, default=5, metavar="K",
                        help="classes per image in the outputs (default 5)")
    parser.add_argument("--min-confidence", type=_probability, default=0.2, metavar="P",
                        help="labels at or above this probability become tags/keywords, "
                             "0..1 or a percentage (default 0.2)")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the results as CSV")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the results and the run's provenance as JSON")
    parser.add_argument("--xmp", action="store_true",
                        help="write the tags into XMP sidecars (merged into existing ones)")
    parser.add_argument("--xmp-naming", choices=[n.value for n in SidecarNaming],
                        default=DEFAULT_NAMING.value,
                        help="append: IMG_1.jpg.xmp (digiKam, darktable, Immich; default); "
                             "replace: IMG_1.xmp (Lightroom for raw files, Capture One)")
    parser.add_argument("--dry-run", action="store_true",
                        help="write no sidecars; print which files would get which keywords "
                             "(CSV and JSON are still written when asked for)")
    parser.add_argument("--embed", action="store_true",
                        help="write the keywords into the image files themselves (JPEG, TIFF, "
                             "PNG, WebP: what Lightroom, Apple Photos and Windows Explorer "
                             "read); HEIC and raw files get XMP sidecars instead. Modifies the "
                             "originals (only their metadata); --undo restores them")
    parser.add_argument("--vocabulary", type=Path, metavar="FILE",
                        help="a vocabulary JSON file: renames, blocked classes, per-class "
                             "thresholds and levels for every output (see the README; "
                             "default: the one saved by the window's vocabulary editor)")
    parser.add_argument("--undo", action="store_true",
                        help="revert the sidecars and image files written by the last run in "
                             "FOLDER (with an interrupted run it resumed), and stop; again for "
                             "the run before")
    parser.add_argument("--keep-changed", action="store_true",
                        help="with --undo: files changed since the run wrote them stay as they "
                             "are, and the run is marked undone anyway")
    parser.add_argument("--no-skip", action="store_true",
                        help="classify every image again, even those done before")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="decode and classify on a Ray cluster (the cluster extra): 'auto' "
                             "(the running cluster, or RAY_ADDRESS), 'local' (start Ray on this "
                             "machine) or the head's address; outputs are written here as "
                             "without --ray")
    parser.add_argument("--ray-ship-bytes", action="store_true",
                        help="with --ray: send each file's bytes from this machine (for "
                             "clusters whose workers cannot see FOLDER at the same path)")
    parser.add_argument("--ray-cpus", type=int, default=1, metavar="N",
                        help="with --ray: CPUs per worker, each holding one model session "
                             "(default 1)")
    parser.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"resnet-desktop: error: {message}", file=sys.stderr)
    return 2


def _run_undo(folder: Path, keep_changed: bool) -> int:
    try:
        report = undo_last(folder, keep_changed=keep_changed)
    except UndoError as exc:
        print(f"resnet-desktop: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    for line in report.conflicts + report.failed:
        print(f"resnet-desktop: {line}", file=sys.stderr)
    if not report.runs:
        print(f"resnet-desktop: the run is not marked undone; once those files are dealt "
              f"with, `resnet-desktop tag --undo {folder}` tries again (add --keep-changed to "
              "keep them as they are and move on)", file=sys.stderr)
        return 1
    if report.remaining:
        print(f"`resnet-desktop tag --undo {folder}` again undoes the run before")
    return 0


class _TerminalSink(TagSink):
    """tqdm bars on stderr (when it is a terminal): the model's download, then the images;
    per-file problems are printed above the bar."""

    def __init__(self, stack: contextlib.ExitStack, model_label: str) -> None:
        self._stack = stack
        self._download_stack = stack.enter_context(contextlib.ExitStack())
        self._download = self._download_stack.enter_context(download_bar(model_label))
        self._bar: tqdm | None = None

    def download_progressed(self, done: int, total: int, rate: float) -> None:
        self._download(done, total, rate)

    def model_loaded(self, model: TaggingModel) -> None:
        self._download_stack.close()
        if model.fallback_reason:
            print(f"resnet-desktop: running on CPU: {model.fallback_reason}", file=sys.stderr)
        self._bar = self._stack.enter_context(tqdm(
            total=None, unit="img", desc="Tagging", file=sys.stderr, disable=None,
            dynamic_ncols=True))

    def record_done(self, record: BatchRecord, progress: BatchProgress) -> None:
        if self._bar.total is None and progress.total is not None:
            self._bar.total = progress.total
        self._bar.update(1)
        if record.error:
            self._bar.write(f"resnet-desktop: {record.error}", file=sys.stderr)

    def sidecar_failed(self, message: str) -> None:
        self._bar.write(f"resnet-desktop: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    folder: Path = args.folder.expanduser()
    if not folder.is_dir():
        return _error(f"{folder}: no such folder" if not folder.exists()
                      else f"{folder}: not a folder")
    if args.undo:
        return _run_undo(folder, args.keep_changed)
    if args.top < 1:
        return _error("--top must be at least 1")
    if (args.ray_ship_bytes or args.ray_cpus != 1) and not args.ray:
        return _error("--ray-ship-bytes and --ray-cpus need --ray")
    if args.ray_cpus < 1:
        return _error("--ray-cpus must be at least 1")
    extensions = _extensions(args.extensions)
    if not extensions:
        return _error("--extensions: no extension given")
    vocabulary = load_vocabulary(args.vocabulary) if args.vocabulary else load_user_vocabulary()
    mode = (SidecarMode.PREVIEW if args.dry_run
            else SidecarMode.WRITE if args.xmp else SidecarMode.NONE)
    request = TagRequest(
        folder, BatchOptions(recursive=args.recursive, extensions=extensions, top_k=args.top,
                             skip_done=not args.no_skip),
        min_confidence=args.min_confidence, csv=args.csv, json=args.json, sidecars=mode,
        naming=SidecarNaming(args.xmp_naming), vocabulary=vocabulary,
        embed=args.embed and not args.dry_run,
        cluster=(ClusterOptions(args.ray, ship_bytes=args.ray_ship_bytes,
                                cpus_per_worker=args.ray_cpus) if args.ray else None))
    warn_flavours()
    engine = Engine()
    note = None if args.model else engine.default_note()
    if note:
        print(f"resnet-desktop: {note}", file=sys.stderr)
    ref = engine.resolve(args.model)
    with contextlib.ExitStack() as stack:
        result = engine.tag_folder(ref, args.provider, request, _TerminalSink(stack, ref.id))
    print(f"resnet-desktop: {result.summary()}", file=sys.stderr)
    if args.csv:
        print(f"resnet-desktop: wrote {args.csv}", file=sys.stderr)
    if args.json:
        print(f"resnet-desktop: wrote {args.json}", file=sys.stderr)
    if result.sidecars is not None:
        for problem in result.preview.skipped:
            print(f"resnet-desktop: sidecar skipped: {problem}", file=sys.stderr)
        print(f"resnet-desktop: {result.sidecars.summary()}; `resnet-desktop tag --undo {folder}` "
              "reverts them", file=sys.stderr)
    if result.embedded is not None:
        print(f"resnet-desktop: {result.embedded.summary()}; `resnet-desktop tag --undo "
              f"{folder}` restores the files", file=sys.stderr)
    if result.preview is not None and result.sidecars is None:
        print("Dry run: no sidecar was written. Writing sidecars would change:")
        for line in result.preview.lines():
            print(f"  {line}")
    return 0

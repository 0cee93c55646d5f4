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
import time
from pathlib import Path

from tqdm import tqdm

from resnet_desktop.cli.common import add_model_options, load_classifier
from resnet_desktop.core.batch.export import CsvExport, JsonExport, Provenance
from resnet_desktop.core.batch.results_store import open_results_store
from resnet_desktop.core.batch.run import (
    BatchOptions,
    BatchProgress,
    BatchRun,
    file_sha256,
    model_fingerprint,
    normalise_extensions,
)
from resnet_desktop.core.engine import Engine, ModelRef
from resnet_desktop.core.imaging.decode import EXTENSIONS
from resnet_desktop.core.sidecars.undo_journal import UndoError, UndoJournal, undo_last
from resnet_desktop.core.sidecars.xmp import (
    DEFAULT_NAMING,
    SidecarNaming,
    SidecarPlanner,
    SidecarReport,
    XmpError,
    apply_change,
)


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
    parser.add_argument("--undo", action="store_true",
                        help="revert the sidecars written by the last run in FOLDER, and stop")
    parser.add_argument("--no-skip", action="store_true",
                        help="classify every image again, even those done before")
    parser.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"resnet-desktop: error: {message}", file=sys.stderr)
    return 2


def _model_sha(ref: ModelRef, path: Path) -> str:
    return ref.entry.sha256 if ref.entry is not None else file_sha256(path)


def _run_undo(folder: Path) -> int:
    try:
        report = undo_last(folder)
    except UndoError as exc:
        print(f"resnet-desktop: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    for line in report.conflicts + report.failed:
        print(f"resnet-desktop: {line}", file=sys.stderr)
    return 1 if report.failed else 0


def _summary(progress: BatchProgress, wall: float) -> str:
    return (f"{progress.done} image(s) in {wall:.1f} s: {progress.classified} classified "
            f"({progress.rate:.1f} images/s), {progress.cached} from earlier runs, "
            f"{progress.failed} error(s)")


def run(args: argparse.Namespace) -> int:
    folder: Path = args.folder.expanduser()
    if not folder.is_dir():
        return _error(f"{folder}: no such folder" if not folder.exists()
                      else f"{folder}: not a folder")
    if args.undo:
        return _run_undo(folder)
    if args.top < 1:
        return _error("--top must be at least 1")
    extensions = _extensions(args.extensions)
    if not extensions:
        return _error("--extensions: no extension given")
    engine = Engine()
    ref, classifier = load_classifier(engine, args, throughput=True)
    sha = _model_sha(ref, classifier.model_path)
    options = BatchOptions(recursive=args.recursive, extensions=extensions, top_k=args.top,
                           skip_done=not args.no_skip)
    store = open_results_store()
    naming = SidecarNaming(args.xmp_naming)
    planner = SidecarPlanner(args.min_confidence, naming) if (args.xmp or args.dry_run) else None
    write_xmp = args.xmp and not args.dry_run
    sidecars = SidecarReport()
    provenance = Provenance(model=classifier.model_id, model_sha256=sha,
                            provider=classifier.provider.active, folder=str(folder.resolve()),
                            top_k=args.top, min_confidence=args.min_confidence)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if store is not None:
            stack.callback(store.close)
        # Opened before the batch, so an unwritable path stops it before any work is done.
        csv_out = stack.enter_context(CsvExport(args.csv, args.min_confidence)) \
            if args.csv else None
        json_out = stack.enter_context(JsonExport(args.json, provenance, args.min_confidence)) \
            if args.json else None
        journal = stack.enter_context(UndoJournal.start(folder)) if write_xmp else None
        batch = BatchRun(classifier, folder, options, store=store,
                         model_key=model_fingerprint(sha, classifier.manifest))
        bar = stack.enter_context(tqdm(total=None, unit="img", desc="Tagging", file=sys.stderr,
                                       disable=None, dynamic_ncols=True))
        for record in batch:
            if bar.total is None and batch.progress.total is not None:
                bar.total = batch.progress.total
            bar.update(1)
            if record.error:
                bar.write(f"resnet-desktop: {record.error}", file=sys.stderr)
            if csv_out is not None:
                csv_out.write(record)
            if json_out is not None:
                json_out.write(record)
            change = planner.change_for(record) if planner is not None else None
            if change is not None and journal is not None:
                try:
                    outcome = apply_change(change, journal, model=classifier.model_id)
                except XmpError as exc:
                    sidecars.failed.append(str(exc))
                    bar.write(f"resnet-desktop: {exc}", file=sys.stderr)
                else:
                    setattr(sidecars, outcome, getattr(sidecars, outcome) + 1)
        if json_out is not None:
            json_out.set_summary(batch.progress)
    print(f"resnet-desktop: {_summary(batch.progress, time.perf_counter() - started)}",
          file=sys.stderr)
    if args.csv:
        print(f"resnet-desktop: wrote {args.csv}", file=sys.stderr)
    if args.json:
        print(f"resnet-desktop: wrote {args.json}", file=sys.stderr)
    if write_xmp:
        for problem in planner.preview.skipped:
            print(f"resnet-desktop: sidecar skipped: {problem}", file=sys.stderr)
    if args.dry_run:
        print("Dry run: no sidecar was written. Writing sidecars would change:")
        for line in planner.preview.lines():
            print(f"  {line}")
    elif write_xmp:
        print(f"resnet-desktop: {sidecars.summary()}; `resnet-desktop tag --undo {folder}` "
              "reverts them", file=sys.stderr)
    return 0

"""Tag a folder: the one operation behind ``resnet-desktop tag`` and the Batch tab.

:func:`tag_folder` does everything after the model is loaded: the model's checksum and
fingerprint (what makes stored results reusable), the results store, the run itself, the CSV
and JSON exports, the XMP sidecars with their undo journal, and the summary. A front end
passes a :class:`TagSink` to hear what happens (records, sidecar problems) and a
:class:`~resnet_desktop.core.foundation.cancel.CancelToken` /
:class:`~resnet_desktop.core.foundation.cancel.PauseToken` to steer it; everything runs on the
caller's thread, so a GUI calls it from a worker thread and relays what the sink hears.
``Engine.tag_folder`` loads the model (downloading it if needed) and then calls this.

Per-file problems become records with an ``error`` and the run goes on. Exports are opened
before the first image, so an unwritable path stops the run before any work; they are
written atomically, so a cancelled or failed run leaves no half-written file. Cancelling
raises :class:`~resnet_desktop.core.foundation.errors.Cancelled` after the records already
reported; sidecars written so far stay, and their journal lets Undo revert them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from resnet_desktop.core.batch.cluster import ClusterOptions, RayPipeline
from resnet_desktop.core.batch.export import CsvExport, JsonExport, Provenance
from resnet_desktop.core.batch.results_store import open_results_store
from resnet_desktop.core.batch.run import (
    BatchOptions,
    BatchProgress,
    BatchRecord,
    BatchRun,
    model_fingerprint,
)
from resnet_desktop.core.foundation.atomic import remove_stale_temporaries
from resnet_desktop.core.foundation.cancel import CancelToken, PauseToken
from resnet_desktop.core.foundation.folder_lock import folder_lock
from resnet_desktop.core.foundation.formatting import plural
from resnet_desktop.core.foundation.hashing import sha256_file_remembered
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.vocabulary import DEFAULT_VOCABULARY, Vocabulary
from resnet_desktop.core.sidecars.embedded import EmbedReport, EmbedWriter
from resnet_desktop.core.sidecars.undo_journal import UndoJournal
from resnet_desktop.core.sidecars.xmp import (
    DEFAULT_NAMING,
    SidecarChange,
    SidecarNaming,
    SidecarPlanner,
    SidecarPreview,
    SidecarReport,
    XmpError,
    apply_change,
    write_sidecars,
)


class SidecarMode(StrEnum):
    """What a run does with XMP sidecars."""

    NONE = "none"
    PREVIEW = "preview"
    """Plan them (``--dry-run``): :attr:`TagResult.preview` says what writing would change."""
    WRITE = "write"
    """Merge them as records come, journaled for undo."""


@dataclass(frozen=True)
class TagRequest:
    """What to tag and which outputs to write; the model is loaded by the caller."""

    folder: Path
    options: BatchOptions = field(default_factory=BatchOptions)
    min_confidence: float = 0.2
    """Labels at or above this probability (0..1) become tags and sidecar keywords."""
    csv: Path | None = None
    json: Path | None = None
    sidecars: SidecarMode = SidecarMode.NONE
    naming: SidecarNaming = DEFAULT_NAMING
    vocabulary: Vocabulary = DEFAULT_VOCABULARY
    """Renames, blocks, per-class thresholds and levels for every output's keywords."""
    embed: bool = False
    """Write the keywords into the images themselves (JPEG, TIFF, PNG, WebP; other formats
    get a sidecar), journaled for undo."""
    cluster: ClusterOptions | None = None
    """Decode and classify on a Ray cluster (``tag --ray``); everything else stays here."""


@dataclass(frozen=True)
class TaggingModel:
    """The model a run uses: id, weights checksum, the provider that actually runs."""

    model_id: str
    sha256: str
    provider: str
    provider_display: str
    fallback_reason: str | None = None

    def provenance(self, folder: Path, top_k: int, min_confidence: float) -> Provenance:
        """The JSON export's provenance for results of this model."""
        return Provenance(model=self.model_id, model_sha256=self.sha256, provider=self.provider,
                          folder=str(Path(folder).resolve()), top_k=top_k,
                          min_confidence=min_confidence)


class TagSink:
    """What a front end hears from :func:`tag_folder`; each method is a no-op here, so a sink
    overrides only what it shows. Called on the thread that runs the operation."""

    def download_progressed(self, done: int, total: int, rate: float) -> None:
        """Bytes of the model downloaded so far (``Engine.tag_folder`` only)."""

    def model_loaded(self, model: TaggingModel) -> None:
        """The model is open and checksummed; images come next."""

    def record_done(self, record: BatchRecord, progress: BatchProgress) -> None:
        """One image's outcome, in discovery order; ``progress`` is live (copy it to keep)."""

    def sidecar_failed(self, message: str) -> None:
        """One sidecar could not be written (one line); the run goes on."""


@dataclass
class TagResult:
    """How a completed run went."""

    model: TaggingModel
    progress: BatchProgress
    seconds: float
    """Wall time from the first image to the end of the outputs."""
    preview: SidecarPreview | None = None
    """The sidecars planned (``PREVIEW`` and ``WRITE``), with the images skipped."""
    sidecars: SidecarReport | None = None
    """What writing did (``WRITE`` only)."""
    embedded: EmbedReport | None = None
    """What writing into the images did (``TagRequest.embed`` only)."""

    def summary(self) -> str:
        p = self.progress
        return (f"{plural(p.done, 'image')} in {self.seconds:.1f} s: {p.classified} classified "
                f"({p.rate:.1f} images/s), {p.cached} from earlier runs, "
                f"{plural(p.failed, 'error')}")


def describe_model(classifier: Classifier, sha256: str | None = None) -> TaggingModel:
    """``sha256`` is the catalog's checksum when known; otherwise the file is hashed (once per
    file version for the life of the process)."""
    status = classifier.provider
    sha256 = sha256 or sha256_file_remembered(classifier.model_path)
    return TaggingModel(classifier.model_id, sha256, status.active, status.display,
                        status.fallback_reason)


def tag_folder(classifier: Classifier, request: TagRequest, sink: TagSink | None = None, *,
               model_sha256: str | None = None, cancel: CancelToken | None = None,
               pause: PauseToken | None = None) -> TagResult:
    """Classify ``request.folder`` with ``classifier`` and write the outputs it asks for.

    Raises :class:`~resnet_desktop.core.foundation.errors.ResNetDesktopError` (an unreadable
    folder, an export that cannot be written, another run writing into the folder:
    :class:`~resnet_desktop.core.foundation.folder_lock.FolderBusyError`) or ``Cancelled``;
    per-image problems and failed sidecars are reported through ``sink`` instead.
    """
    sink = sink if sink is not None else TagSink()
    model = describe_model(classifier, model_sha256)
    sink.model_loaded(model)
    policy = KeywordPolicy(request.min_confidence, request.vocabulary)
    request.vocabulary.check_names(policy.known_names([label.name for label in classifier.labels]))
    planner = (SidecarPlanner(request.min_confidence, request.naming, keywords=policy)
               if request.sidecars is not SidecarMode.NONE else None)
    report = SidecarReport() if request.sidecars is SidecarMode.WRITE else None
    embedder = (EmbedWriter(policy, request.naming, classifier.model_id,
                            fallback=report is None) if request.embed else None)
    provenance = replace(model.provenance(request.folder, request.options.top_k,
                                          request.min_confidence),
                         vocabulary_sha256=request.vocabulary.sha256)
    if request.cluster is not None:
        provenance = replace(provenance, cluster=request.cluster.address,
                             provider=classifier.provider.requested)
    # Before anything is opened: a missing Ray stops the run here.
    pipeline = (RayPipeline(classifier, model.sha256, request.cluster,
                            max_pixels=request.options.max_pixels,
                            cancel=cancel or CancelToken(), pause=pause)
                if request.cluster is not None else None)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if report is not None or embedder is not None:
            # One writer per folder: a second run says who holds it instead of interleaving.
            stack.enter_context(folder_lock(request.folder))
            # What a killed run left half-written; no other run writes here while this one
            # holds the lock.
            remove_stale_temporaries(request.folder, recursive=request.options.recursive)
        store = open_results_store()
        if store is not None:
            stack.callback(store.close)
        csv_out = (stack.enter_context(CsvExport(request.csv, request.min_confidence, policy))
                   if request.csv else None)
        json_out = (stack.enter_context(JsonExport(request.json, provenance,
                                                   request.min_confidence, policy))
                    if request.json else None)
        journal = (stack.enter_context(UndoJournal.start(request.folder))
                   if report is not None or embedder is not None else None)
        run = BatchRun(classifier, request.folder, request.options, store=store,
                       model_key=model_fingerprint(model.sha256, classifier.manifest),
                       cancel=cancel, pause=pause, pipeline=pipeline)
        for record in run:
            if csv_out is not None:
                csv_out.write(record)
            if json_out is not None:
                json_out.write(record)
            change = planner.change_for(record) if planner is not None else None
            if change is not None and report is not None:
                try:
                    outcome = apply_change(change, journal, model=classifier.model_id)
                except XmpError as exc:
                    report.failed.append(str(exc))
                    sink.sidecar_failed(str(exc))
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
            problem = embedder.write(record, journal) if embedder is not None else None
            if problem is not None:
                sink.sidecar_failed(problem)
            sink.record_done(record, run.progress)
        if json_out is not None:
            json_out.set_summary(run.progress)
    return TagResult(model, run.progress, time.perf_counter() - started,
                     planner.preview if planner is not None else None, report,
                     embedder.report if embedder is not None else None)


def write_planned_sidecars(folder: Path, changes: Iterable[SidecarChange], model: str,
                           cancel: CancelToken | None = None) -> SidecarReport:
    """Write sidecars planned earlier (the Batch tab's confirmed preview) under one undo
    journal for ``folder``; a file that fails is reported and the rest go on."""
    changes = list(changes)
    with folder_lock(folder), UndoJournal.start(folder) as journal:
        for parent in dict.fromkeys(change.sidecar.parent for change in changes):
            remove_stale_temporaries(parent)
        return write_sidecars(changes, journal, model=model, cancel=cancel or CancelToken())

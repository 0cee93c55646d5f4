"""The Batch tab: tag a whole folder, watch results arrive, export CSV/JSON, write XMP sidecars
(or, with "Write into the image files", the keywords into the photos themselves).

The tab runs the app's selected model (it observes :class:`ModelService`; there is no model
choice of its own) and the jobs of :mod:`resnet_desktop.gui.batch.jobs` on its own
:class:`TaskRunner`; this widget only reacts to the runner's signals. A model that must be
downloaded shows in the window's status-bar download bar, like every tab's.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QModelIndex, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMessageBox,
    QWidget,
)

from resnet_desktop.core.batch.export import ExportError, Provenance, write_csv, write_json
from resnet_desktop.core.engine import (
    DEFAULT_NAMING,
    EXTENSIONS,
    BatchOptions,
    BatchProgress,
    BatchRecord,
    PauseToken,
    SidecarNaming,
    TaggingModel,
    TagResult,
    UndoReport,
    normalise_extensions,
    plural,
)
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.vocabulary import DEFAULT_VOCABULARY, Vocabulary
from resnet_desktop.core.sidecars.embedded import EmbedReport, can_embed
from resnet_desktop.core.sidecars.undo_journal import undoable_runs
from resnet_desktop.core.sidecars.xmp import SidecarReport
from resnet_desktop.gui.batch import jobs
from resnet_desktop.gui.batch.dialogs import SidecarPreviewDialog
from resnet_desktop.gui.batch.results import ERROR, RECORD_ROLE, BatchResultsModel, make_proxy
from resnet_desktop.gui.batch.view import BatchView, extensions_text
from resnet_desktop.gui.models.picker import provider_choices
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.widgets.formatting import format_duration
from resnet_desktop.gui.widgets.inline_errors import show_error
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import TaskRunner

log = logging.getLogger(__name__)

SETTINGS_GROUP = "batch"


class BatchPanel(BatchView):
    """Folder tagging. ``remember=False`` neither reads nor writes the settings."""

    image_activated = Signal(str)
    """The absolute path of a row the user double-clicked (to open it in the main pane)."""
    batch_finished = Signal(object)
    """The final :class:`BatchProgress` of a batch that ran to its end."""
    batch_stopped = Signal(object)
    """The :class:`BatchProgress` of a batch that was cancelled."""
    sidecars_written = Signal(object)
    """The :class:`SidecarReport` after "Write XMP sidecars…"."""
    keywords_embedded = Signal(object)
    """The :class:`EmbedReport` after writing with "Write into the image files"."""
    sidecars_undone = Signal(object)
    """The :class:`UndoReport` after "Undo sidecars"."""
    records_added = Signal(object)
    """The :class:`BatchProgress` after a chunk of new rows reached the table."""

    def __init__(self, models: ModelService, parent: QWidget | None = None, *,
                 remember: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("BatchPanel")
        self.models = models
        self._remember = remember
        self._running = False
        self._folder: Path | None = None
        self._loaded: TaggingModel | None = None
        self._last_options: BatchOptions | None = None
        self._progress = BatchProgress()
        self._pause = PauseToken()
        self._dialog: SidecarPreviewDialog | None = None
        self._vocabulary: Vocabulary = DEFAULT_VOCABULARY

        self.runner = TaskRunner(self, "the batch")
        self.results = BatchResultsModel(self)
        self.proxy = make_proxy(self.results, self)
        self.thumbnail_size = self.results.thumbnails.size
        self._build()
        self._connect()
        self._restore()
        self._update_state()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _connect(self) -> None:
        self.choose_button.clicked.connect(self.choose_folder)
        self.folder_edit.editingFinished.connect(self._update_state)
        self.models.selection_changed.connect(self._show_model)
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cancel_button.clicked.connect(self.cancel)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.export_csv_button.clicked.connect(self._choose_csv)
        self.export_json_button.clicked.connect(self._choose_json)
        self.write_xmp_button.clicked.connect(self.prepare_sidecars)
        self.embed_box.toggled.connect(self._on_embed_toggled)
        self.undo_button.clicked.connect(self.undo_sidecars)
        self.naming_combo.activated.connect(self._save)
        self.runner.progressed.connect(self._on_progressed)
        self.runner.returned.connect(self._on_returned)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)
        self.runner.busy_changed.connect(self._update_state)
        self._show_model()

    # -- settings --------------------------------------------------------------------------------

    def _restore(self) -> None:
        if not self._remember:
            return
        settings = app_settings()
        settings.beginGroup(SETTINGS_GROUP)
        self.folder_edit.setText(str(settings.value("folder", "")))
        self.recursive.setChecked(str(settings.value("recursive", "false")).lower() == "true")
        self.extensions.setText(str(settings.value("extensions",
                                                   extensions_text(EXTENSIONS))))
        self.top_k.setValue(int(settings.value("top_k", 5)))
        self.min_confidence.setValue(float(settings.value("min_confidence", 20.0)))
        naming = str(settings.value("xmp_naming", DEFAULT_NAMING.value))
        index = self.naming_combo.findData(naming)
        self.naming_combo.setCurrentIndex(max(0, index))
        settings.endGroup()

    @Slot()
    def _save(self) -> None:
        if not self._remember:
            return
        settings = app_settings()
        settings.beginGroup(SETTINGS_GROUP)
        settings.setValue("folder", self.folder_edit.text())
        settings.setValue("recursive", "true" if self.recursive.isChecked() else "false")
        settings.setValue("extensions", self.extensions.text())
        settings.setValue("top_k", self.top_k.value())
        settings.setValue("min_confidence", self.min_confidence.value())
        settings.setValue("xmp_naming", self.naming)
        settings.endGroup()

    # -- the API the main window and the tests use -----------------------------------------------

    @property
    def naming(self) -> SidecarNaming:
        return SidecarNaming(self.naming_combo.currentData() or DEFAULT_NAMING.value)

    def current_model(self) -> str:
        return self.models.current_model()

    def current_provider(self) -> str:
        return self.models.current_provider()

    @property
    def holding(self) -> bool:
        """True once a paused batch has actually stopped (every record so far was sent)."""
        return self._pause.holding

    def records(self) -> list[BatchRecord]:
        """Every result row, in arrival order."""
        return self.results.records()

    def set_folder(self, folder: Path | str) -> None:
        self.folder_edit.setText(str(folder))
        self._update_state()

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to tag", self.folder_edit.text())
        if folder:
            self.set_folder(folder)

    @Slot()
    def start(self) -> None:
        show_error(self.error, "")
        folder = Path(self.folder_edit.text().strip()).expanduser()
        if not self.folder_edit.text().strip() or not folder.is_dir():
            show_error(self.error, f"{folder}: not a folder; choose the folder of photos to tag"
                       if self.folder_edit.text().strip() else "Choose a folder first")
            return
        extensions = normalise_extensions(self.extensions.text().replace(";", ",").split(","))
        if not extensions:
            show_error(self.error, "Give at least one file extension, e.g. jpg, png")
            return
        self._save()
        self._folder = folder
        self._loaded = None
        self._progress = BatchProgress()
        self._last_options = BatchOptions(recursive=self.recursive.isChecked(),
                                          extensions=extensions, top_k=self.top_k.value())
        self.results.clear()
        self.table.setColumnHidden(ERROR, True)
        self.show_counting(0, 0)
        self.rate_label.setText("")
        self.status.setText("Starting…")
        self._running = True
        self.pause_button.setChecked(False)
        self._pause = PauseToken()
        self.runner.start(partial(jobs.run_batch, self.models, folder, self.current_model(),
                                  self.current_provider(), self._last_options, self._pause))
        self._update_state()

    @Slot()
    def cancel(self) -> None:
        self.runner.cancel()
        self._pause.resume()

    def export_csv(self, path: Path | str) -> bool:
        """Write the table as CSV; False (with the reason shown) if it cannot be written."""
        try:
            count = write_csv(Path(path), self.results.records(), self.min_confidence_value,
                              self.keyword_policy())
        except ExportError as exc:
            show_error(self.error, str(exc))
            return False
        show_error(self.error, "")
        self.status.setText(f"Wrote {count} rows to {path}")
        return True

    def export_json(self, path: Path | str) -> bool:
        try:
            count = write_json(Path(path), self.results.records(), self._provenance(),
                               self.min_confidence_value, self.keyword_policy())
        except ExportError as exc:
            show_error(self.error, str(exc))
            return False
        show_error(self.error, "")
        self.status.setText(f"Wrote {count} records to {path}")
        return True

    @property
    def min_confidence_value(self) -> float:
        return self.min_confidence.value() / 100.0

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """The vocabulary for exports, the sidecar preview and what is written."""
        self._vocabulary = vocabulary

    def keyword_policy(self) -> KeywordPolicy:
        return KeywordPolicy(self.min_confidence_value, self._vocabulary)

    @Slot()
    def prepare_sidecars(self) -> None:
        """Plan the sidecars in the background; the preview dialog follows."""
        if not self.results.records():
            return
        show_error(self.error, "")
        self.status.setText("Preparing the sidecar preview…")
        self._save()
        records, naming = tuple(self.results.records()), self.naming
        minimum, vocabulary = self.min_confidence_value, self._vocabulary
        self.runner.start(lambda _report, _cancel: jobs.plan(records, minimum, naming,
                                                             vocabulary))

    @Slot()
    def undo_sidecars(self) -> None:
        if self._folder is None:
            return
        show_error(self.error, "")
        self.status.setText("Undoing sidecars…")
        folder = self._folder
        self.runner.start(lambda _report, _cancel: jobs.undo(folder))

    def shutdown(self) -> None:
        """Save the settings, cancel work and stop the worker; call before the window closes."""
        self._save()
        if self._dialog is not None:
            self._dialog.reject()
        self._pause.resume()
        self.runner.shutdown(10_000)
        self.results.thumbnails.shutdown()

    # -- reactions -------------------------------------------------------------------------------

    @Slot()
    def _show_model(self, *_args) -> None:
        model, provider = self.current_model(), self.current_provider()
        try:
            name = self.models.resolve(model).name
        except Exception:  # a stale custom model: the batch says why when it starts
            name = Path(model).name
        title = next((t for t, policy, _tip in provider_choices() if policy == provider),
                     provider)
        self.model_label.setText(f"{name} · run on: {title}")

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self._pause.pause()
            self.pause_button.setText("Resume")
            if self._running:
                self.status.setText("Paused")
                self._show_progress(self._progress)  # no time left while paused
        else:
            self._pause.resume()
            self.pause_button.setText("Pause")
            if self._running:
                self.status.setText("Tagging…")

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        record = index.data(RECORD_ROLE)
        if record is not None:
            self.image_activated.emit(str(record.file))

    @Slot(object)
    def _on_progressed(self, payload: object) -> None:
        if isinstance(payload, TaggingModel):
            self._loaded = payload
            text = f"Tagging with {payload.model_id} on {payload.provider_display}"
            if payload.fallback_reason:
                text += f" (GPU not used: {payload.fallback_reason})"
            self.status.setText(text)
        elif isinstance(payload, jobs.RecordsChunk):
            self.results.append(list(payload.records))
            if any(record.error for record in payload.records):
                self.table.setColumnHidden(ERROR, False)  # labels get the width until then
            self._show_progress(payload.progress)
            self.records_added.emit(payload.progress)

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        if isinstance(result, TagResult):
            self._on_completed(result.progress)
        elif isinstance(result, jobs.SidecarPlan):
            self._on_sidecars_planned(result)
        elif isinstance(result, SidecarReport):
            self._on_sidecars_written(result)
        elif isinstance(result, EmbedReport):
            self._on_keywords_embedded(result)
        elif isinstance(result, UndoReport):
            self._on_sidecars_undone(result)

    def _show_progress(self, progress: BatchProgress) -> None:
        self._progress = progress
        self.show_counting(progress.done, progress.total or 0)
        parts = []
        if progress.rate > 0:
            parts.append(f"{progress.rate:.1f} images/s")
        left = progress.remaining_seconds
        if left is not None and self._running and not self.pause_button.isChecked():
            parts.append(f"{format_duration(left)} left")
        self.rate_label.setText(" · ".join(parts))

    def _summary(self, progress: BatchProgress) -> str:
        text = f"{plural(progress.done, 'image')}: {progress.classified} classified"
        if progress.cached:
            text += f", {progress.cached} from earlier runs"
        if progress.failed:
            text += f", {progress.failed} could not be read (see the Error column)"
        return text

    def _on_completed(self, progress: BatchProgress) -> None:
        self._running = False
        self._show_progress(progress)
        if progress.total == 0:
            self.show_idle("No images")
        self.status.setText("Done. " + self._summary(progress))
        self._update_state()
        self.batch_finished.emit(progress)

    @Slot()
    def _on_cancelled(self) -> None:
        if not self._running:
            self.status.setText("")
            self._update_state()
            return
        self._running = False
        progress = self._progress
        self._show_progress(progress)
        self.status.setText("Cancelled. " + self._summary(progress)
                            + ". Start again to resume: finished images are skipped.")
        self._update_state()
        self.batch_stopped.emit(progress)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._running:
            self._running = False
            self.show_idle()
        self.status.setText("")
        show_error(self.error, message)
        self._update_state()

    def _on_sidecars_planned(self, plan: jobs.SidecarPlan) -> None:
        changes, preview = plan.changes, plan.preview
        self.status.setText("")
        if not changes:
            show_error(self.error, "No image has a label at or above "
                       f"{self.min_confidence.value():g} %: there is nothing to write")
            return
        embed_summary = None
        if self.embed_box.isChecked():
            inside = sum(1 for change in changes if can_embed(change.image))
            embed_summary = (f"{inside} image file(s) get the keywords inside them (JPEG, TIFF, "
                             f"PNG, WebP); {len(changes) - inside} other file(s) get XMP "
                             f"sidecars ({preview.naming.example} naming)")
        dialog = SidecarPreviewDialog(preview, self, embed_summary=embed_summary)
        self._dialog = dialog
        dialog.accepted.connect(lambda: self._write_sidecars(changes))
        dialog.finished.connect(self._forget_dialog)
        dialog.open()

    @Slot()
    def _forget_dialog(self) -> None:
        if self._dialog is not None:
            self._dialog.deleteLater()
            self._dialog = None

    def _write_sidecars(self, changes: tuple) -> None:
        if self._folder is None:
            return
        model = self._loaded.model_id if self._loaded else self.current_model()
        folder = self._folder
        if self.embed_box.isChecked():
            self.status.setText(f"Writing keywords into {len(changes)} file(s)…")
            self.runner.start(partial(jobs.embed, folder, changes, model))
            return
        self.status.setText(f"Writing {len(changes)} sidecar(s)…")
        self.runner.start(partial(jobs.write, folder, changes, model))

    def _on_sidecars_written(self, report: SidecarReport) -> None:
        self.status.setText(report.summary().capitalize() + ". Undo sidecars reverts them.")
        if report.failed:
            show_error(self.error, "\n".join(report.failed[:10]))
        self._update_state()
        self.sidecars_written.emit(report)

    def _on_keywords_embedded(self, report: EmbedReport) -> None:
        self.status.setText(report.summary().capitalize() + ". Undo restores the files.")
        if report.failed:
            show_error(self.error, "\n".join(report.failed[:10]))
        self._update_state()
        self.keywords_embedded.emit(report)

    @Slot(bool)
    def _on_embed_toggled(self, checked: bool) -> None:
        """Asked once: writing into the files modifies the originals."""
        if checked and not self._embedding_confirmed():
            self.embed_box.blockSignals(True)
            self.embed_box.setChecked(False)
            self.embed_box.blockSignals(False)
        self.write_xmp_button.setText("Write keywords…" if self.embed_box.isChecked()
                                      else "Write XMP sidecars…")

    def _embedding_confirmed(self) -> bool:
        settings = app_settings() if self._remember else None
        if settings is not None and str(settings.value(f"{SETTINGS_GROUP}/embed_confirmed",
                                                       "false")) == "true":
            return True
        answer = QMessageBox.question(
            self, "Write into the image files?",
            "This writes the keywords into your original photos (JPEG, TIFF, PNG and WebP): "
            "their metadata changes, their pixels do not. Undo restores every file byte for "
            "byte. HEIC and raw files get XMP sidecars instead.\n\nWrite into the image files "
            "from now on?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        if settings is not None:
            settings.setValue(f"{SETTINGS_GROUP}/embed_confirmed", "true")
        return True

    def _on_sidecars_undone(self, report: UndoReport) -> None:
        self.status.setText(report.summary().capitalize() + ".")
        problems = report.conflicts + report.failed
        if problems:
            show_error(self.error, "\n".join(problems[:10]))
        self._update_state()
        self.sidecars_undone.emit(report)

    def _provenance(self) -> Provenance:
        loaded = self._loaded
        options = self._last_options or BatchOptions()
        return Provenance(
            model=loaded.model_id if loaded else self.current_model(),
            model_sha256=loaded.sha256 if loaded else "",
            provider=loaded.provider if loaded else self.current_provider(),
            folder=str(self._folder.resolve()) if self._folder else "",
            top_k=options.top_k, min_confidence=self.min_confidence_value,
            vocabulary_sha256=self._vocabulary.sha256)

    @Slot()
    def _update_state(self, *_args) -> None:
        busy = self.runner.busy
        running = self._running
        has_rows = self.results.rowCount() > 0
        idle = not busy
        for widget in (self.folder_edit, self.choose_button, self.recursive, self.extensions,
                       self.top_k):
            widget.setEnabled(not running)
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.export_csv_button.setEnabled(idle and has_rows)
        self.export_json_button.setEnabled(idle and has_rows)
        self.write_xmp_button.setEnabled(idle and has_rows and self._folder is not None
                                         and any(r.ok for r in self.results.records()))
        runs = undoable_runs(self._folder) if idle and self._folder is not None else 0
        self.undo_button.setEnabled(runs > 0)
        self.undo_button.setText(f"Undo sidecars ({runs} run{'s' if runs > 1 else ''})" if runs
                                 else "Undo sidecars")

    # -- file dialogs ----------------------------------------------------------------------------

    def _default_export(self, suffix: str) -> str:
        folder = self._folder or Path.home()
        return str(folder / f"{folder.name or 'results'}-tags{suffix}")

    @Slot()
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", self._default_export(".csv"),
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    @Slot()
    def _choose_json(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export JSON",
                                              self._default_export(".json"),
                                              "JSON files (*.json)")
        if path:
            self.export_json(path)

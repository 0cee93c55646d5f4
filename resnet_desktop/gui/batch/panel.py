"""The Batch tab: tag a whole folder, watch results arrive, export CSV/JSON, write XMP sidecars.

Wiring (in the main window)::

    panel = BatchPanel(engine, window)
    window.add_tab(panel, "Batch")
    window.model_changed.connect(panel.set_model)       # follow the main model picker
    panel.image_activated.connect(lambda p: window.show_image_path(Path(p)))
    # and in closeEvent: panel.shutdown()

All work runs on :class:`~resnet_desktop.gui.batch.worker.BatchController`'s thread; this widget
only reacts to its signals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.batch.export import ExportError, Provenance, write_csv, write_json
from resnet_desktop.core.batch.run import BatchOptions, BatchProgress, normalise_extensions
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.imaging.decode import EXTENSIONS
from resnet_desktop.core.sidecars.undo_journal import UndoReport, last_journal
from resnet_desktop.core.sidecars.xmp import (
    DEFAULT_NAMING,
    SidecarNaming,
    SidecarPreview,
    SidecarReport,
)
from resnet_desktop.gui.batch.dialogs import SidecarPreviewDialog
from resnet_desktop.gui.batch.results import RECORD_ROLE, BatchResultsModel, make_proxy
from resnet_desktop.gui.batch.worker import BatchController, LoadedBatchModel
from resnet_desktop.gui.models.picker import CUSTOM_MODELS_KEY, PROVIDER_CHOICES
from resnet_desktop.gui.settings import app_settings, read_str_list
from resnet_desktop.gui.widgets.formatting import download_text, format_duration
from resnet_desktop.gui.widgets.inline_errors import error_label, show_error

log = logging.getLogger(__name__)

SETTINGS_GROUP = "batch"


def _extensions_text(extensions: tuple[str, ...]) -> str:
    return ", ".join(e.lstrip(".") for e in extensions)


class BatchPanel(QWidget):
    """Folder tagging. ``remember=False`` neither reads nor writes the settings."""

    image_activated = Signal(str)
    """The absolute path of a row the user double-clicked (to open it in the main pane)."""
    batch_finished = Signal(object)
    """The final :class:`BatchProgress` of a batch that ran to its end."""
    batch_stopped = Signal(object)
    """The :class:`BatchProgress` of a batch that was cancelled."""
    sidecars_written = Signal(object)
    """The :class:`SidecarReport` after "Write XMP sidecars…"."""
    sidecars_undone = Signal(object)
    """The :class:`UndoReport` after "Undo sidecars"."""

    def __init__(self, engine: Engine, parent: QWidget | None = None, *,
                 remember: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("BatchPanel")
        self._engine = engine
        self._remember = remember
        self._user_chose_model = False
        self._running = False
        self._folder: Path | None = None
        self._loaded: LoadedBatchModel | None = None
        self._last_options: BatchOptions | None = None
        self._progress = BatchProgress()
        self._dialog: SidecarPreviewDialog | None = None

        self.controller = BatchController(engine, self)
        self.results = BatchResultsModel(self)
        self.proxy = make_proxy(self.results, self)
        self._build()
        self._connect()
        self._restore()
        self._update_state()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setPlaceholderText("Folder of photos")
        self.folder_edit.setAccessibleName("Folder")
        self.choose_button = QPushButton("Choose…", self)
        self.recursive = QCheckBox("Include subfolders", self)
        self.extensions = QLineEdit(_extensions_text(EXTENSIONS), self)
        self.extensions.setAccessibleName("File extensions")
        self.extensions.setToolTip("File extensions to include, separated by commas")

        self.model_combo = QComboBox(self)
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setMinimumContentsLength(18)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for entry in self._engine.catalog:
            self.model_combo.addItem(entry.name, entry.id)
        for path in read_str_list(app_settings(), CUSTOM_MODELS_KEY) if self._remember else []:
            self._ensure_model_item(path)
        self.provider_combo = QComboBox(self)
        self.provider_combo.setAccessibleName("Execution provider")
        for title, policy, tip in PROVIDER_CHOICES:
            self.provider_combo.addItem(title, policy)
            self.provider_combo.setItemData(self.provider_combo.count() - 1, tip,
                                            Qt.ItemDataRole.ToolTipRole)
        self.top_k = QSpinBox(self)
        self.top_k.setRange(1, 20)
        self.top_k.setValue(5)
        self.top_k.setAccessibleName("Labels per image")
        self.min_confidence = QDoubleSpinBox(self)
        self.min_confidence.setRange(0.0, 100.0)
        self.min_confidence.setDecimals(1)
        self.min_confidence.setSingleStep(5.0)
        self.min_confidence.setSuffix(" %")
        self.min_confidence.setValue(20.0)
        self.min_confidence.setAccessibleName("Minimum confidence for tags")
        self.min_confidence.setToolTip("Labels at or above this probability become tags "
                                       "(XMP keywords, the tags column of the exports)")

        self.start_button = QPushButton("Start", self)
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setFormat("%v of %m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.rate_label = QLabel(self)
        self.rate_label.setTextFormat(Qt.TextFormat.PlainText)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by label")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter by label")
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.results.thumbnails.size + 6)
        self.table.setIconSize(QSize(self.results.thumbnails.size,
                                     self.results.thumbnails.size))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((260, 150, 90, 280)):
            header.resizeSection(column, width)

        self.export_csv_button = QPushButton("Export CSV…", self)
        self.export_json_button = QPushButton("Export JSON…", self)
        self.naming_combo = QComboBox(self)
        self.naming_combo.setAccessibleName("Sidecar file name")
        for naming in SidecarNaming:
            self.naming_combo.addItem(f"{naming.example} ({naming.readers})", naming.value)
        self.write_xmp_button = QPushButton("Write XMP sidecars…", self)
        self.undo_button = QPushButton("Undo sidecars", self)
        self.undo_button.setToolTip("Put back every sidecar of the last write in this folder")
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.error = error_label(self, "batchError")

        form = QGridLayout()
        form.addWidget(QLabel("Folder", self), 0, 0)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.choose_button)
        form.addLayout(folder_row, 0, 1, 1, 3)
        form.addWidget(self.recursive, 1, 1)
        form.addWidget(QLabel("Extensions", self), 1, 2)
        form.addWidget(self.extensions, 1, 3)
        form.addWidget(QLabel("Model", self), 2, 0)
        form.addWidget(self.model_combo, 2, 1)
        form.addWidget(QLabel("Provider", self), 2, 2)
        form.addWidget(self.provider_combo, 2, 3)
        form.addWidget(QLabel("Labels per image", self), 3, 0)
        form.addWidget(self.top_k, 3, 1)
        form.addWidget(QLabel("Tag at or above", self), 3, 2)
        form.addWidget(self.min_confidence, 3, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)

        run_row = QHBoxLayout()
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.pause_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.rate_label)

        output_row = QHBoxLayout()
        output_row.addWidget(self.export_csv_button)
        output_row.addWidget(self.export_json_button)
        output_row.addStretch(1)
        output_row.addWidget(QLabel("Sidecar name", self))
        output_row.addWidget(self.naming_combo)
        output_row.addWidget(self.write_xmp_button)
        output_row.addWidget(self.undo_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addLayout(output_row)
        layout.addWidget(self.status)
        layout.addWidget(self.error)

    def _connect(self) -> None:
        self.choose_button.clicked.connect(self.choose_folder)
        self.folder_edit.editingFinished.connect(self._update_state)
        self.model_combo.activated.connect(self._on_model_activated)
        self.provider_combo.activated.connect(self._on_model_activated)
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cancel_button.clicked.connect(self.cancel)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.export_csv_button.clicked.connect(self._choose_csv)
        self.export_json_button.clicked.connect(self._choose_json)
        self.write_xmp_button.clicked.connect(self.prepare_sidecars)
        self.undo_button.clicked.connect(self.undo_sidecars)
        self.naming_combo.activated.connect(self._save)
        c = self.controller
        c.model_loaded.connect(self._on_model_loaded)
        c.download_progressed.connect(self._on_download_progressed)
        c.records_ready.connect(self._on_records_ready)
        c.completed.connect(self._on_completed)
        c.cancelled.connect(self._on_cancelled)
        c.failed.connect(self._on_failed)
        c.sidecars_planned.connect(self._on_sidecars_planned)
        c.sidecars_written.connect(self._on_sidecars_written)
        c.sidecars_undone.connect(self._on_sidecars_undone)
        c.busy_changed.connect(self._update_state)

    # -- settings --------------------------------------------------------------------------------

    def _restore(self) -> None:
        if not self._remember:
            return
        settings = app_settings()
        settings.beginGroup(SETTINGS_GROUP)
        self.folder_edit.setText(str(settings.value("folder", "")))
        self.recursive.setChecked(str(settings.value("recursive", "false")).lower() == "true")
        self.extensions.setText(str(settings.value("extensions",
                                                   _extensions_text(EXTENSIONS))))
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
        return str(self.model_combo.currentData() or self._engine.default_model)

    def current_provider(self) -> str:
        return str(self.provider_combo.currentData() or "auto")

    def records(self):
        """Every result row, in arrival order."""
        return self.results.records()

    @Slot(str, str)
    def set_model(self, model_id: str, provider: str) -> None:
        """Follow the main window's model; ignored once the user picked one in this tab."""
        self._ensure_model_item(model_id)
        if self._user_chose_model:
            return
        self.model_combo.setCurrentIndex(self.model_combo.findData(model_id))
        index = self.provider_combo.findData(provider)
        if index >= 0:
            self.provider_combo.setCurrentIndex(index)

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
        self.progress_bar.setRange(0, 0)
        self.rate_label.setText("")
        self.status.setText("Starting…")
        self._running = True
        self.pause_button.setChecked(False)
        self.controller.start(folder, self.current_model(), self.current_provider(),
                              self._last_options)
        self._update_state()

    @Slot()
    def cancel(self) -> None:
        self.controller.cancel()

    def export_csv(self, path: Path | str) -> bool:
        """Write the table as CSV; False (with the reason shown) if it cannot be written."""
        try:
            count = write_csv(Path(path), self.results.records(), self.min_confidence_value)
        except ExportError as exc:
            show_error(self.error, str(exc))
            return False
        show_error(self.error, "")
        self.status.setText(f"Wrote {count} rows to {path}")
        return True

    def export_json(self, path: Path | str) -> bool:
        try:
            count = write_json(Path(path), self.results.records(), self._provenance(),
                               self.min_confidence_value)
        except ExportError as exc:
            show_error(self.error, str(exc))
            return False
        show_error(self.error, "")
        self.status.setText(f"Wrote {count} records to {path}")
        return True

    @property
    def min_confidence_value(self) -> float:
        return self.min_confidence.value() / 100.0

    @Slot()
    def prepare_sidecars(self) -> None:
        """Plan the sidecars in the background; the preview dialog follows."""
        if not self.results.records():
            return
        show_error(self.error, "")
        self.status.setText("Preparing the sidecar preview…")
        self._save()
        self.controller.plan_sidecars(self.results.records(), self.min_confidence_value,
                                      self.naming)

    @Slot()
    def undo_sidecars(self) -> None:
        if self._folder is None:
            return
        show_error(self.error, "")
        self.status.setText("Undoing sidecars…")
        self.controller.undo_sidecars(self._folder)

    def shutdown(self) -> None:
        """Cancel work and stop the worker thread; call before the window closes."""
        if self._dialog is not None:
            self._dialog.reject()
        self.controller.shutdown()
        self.results.thumbnails.shutdown()

    # -- reactions -------------------------------------------------------------------------------

    def _ensure_model_item(self, model: str) -> None:
        if not model or self.model_combo.findData(model) >= 0:
            return
        self.model_combo.addItem(Path(model).name, model)
        self.model_combo.setItemData(self.model_combo.count() - 1, model,
                                     Qt.ItemDataRole.ToolTipRole)

    @Slot()
    def _on_model_activated(self) -> None:
        self._user_chose_model = True

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.controller.pause()
            self.pause_button.setText("Resume")
            if self._running:
                self.status.setText("Paused")
        else:
            self.controller.resume()
            self.pause_button.setText("Pause")
            if self._running:
                self.status.setText("Tagging…")

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        record = index.data(RECORD_ROLE)
        if record is not None:
            self.image_activated.emit(str(record.file))

    @Slot(object)
    def _on_model_loaded(self, model: LoadedBatchModel) -> None:
        self._loaded = model
        text = f"Tagging with {model.model_id} on {model.provider_display}"
        if model.fallback_reason:
            text += f" (GPU not used: {model.fallback_reason})"
        self.status.setText(text)

    @Slot(int, int, float)
    def _on_download_progressed(self, done: int, total: int, rate: float) -> None:
        self.status.setText("Downloading " + download_text(self.current_model(), done, total,
                                                           rate))

    @Slot(object, object)
    def _on_records_ready(self, records: list, progress: BatchProgress) -> None:
        self.results.append(records)
        self._show_progress(progress)

    def _show_progress(self, progress: BatchProgress) -> None:
        self._progress = progress
        total = progress.total if progress.total is not None else 0
        self.progress_bar.setRange(0, max(total, progress.done, 1) if total else 0)
        self.progress_bar.setValue(progress.done)
        parts = []
        if progress.rate > 0:
            parts.append(f"{progress.rate:.1f} images/s")
        left = progress.remaining_seconds
        if left is not None and self._running:
            parts.append(f"{format_duration(left)} left")
        self.rate_label.setText(" · ".join(parts))

    def _summary(self, progress: BatchProgress) -> str:
        text = f"{progress.done} image(s): {progress.classified} classified"
        if progress.cached:
            text += f", {progress.cached} from earlier runs"
        if progress.failed:
            text += f", {progress.failed} could not be read (see the Error column)"
        return text

    @Slot(object)
    def _on_completed(self, progress: BatchProgress) -> None:
        self._running = False
        self._show_progress(progress)
        if progress.total == 0:
            self.progress_bar.setRange(0, 1)
        self.status.setText("Done. " + self._summary(progress))
        self._update_state()
        self.batch_finished.emit(progress)

    @Slot(object)
    def _on_cancelled(self, progress: BatchProgress) -> None:
        self._running = False
        self._show_progress(progress)
        self.status.setText("Cancelled. " + self._summary(progress)
                            + ". Start again to resume: finished images are skipped.")
        self._update_state()
        self.batch_stopped.emit(progress)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._running:
            self._running = False
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
        self.status.setText("")
        show_error(self.error, message)
        self._update_state()

    @Slot(object, object)
    def _on_sidecars_planned(self, changes: tuple, preview: SidecarPreview) -> None:
        self.status.setText("")
        if not changes:
            show_error(self.error, "No image has a label at or above "
                       f"{self.min_confidence.value():g} %: there is nothing to write")
            return
        dialog = SidecarPreviewDialog(preview, self)
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
        self.status.setText(f"Writing {len(changes)} sidecar(s)…")
        self.controller.write_sidecars(self._folder, changes, model)

    @Slot(object)
    def _on_sidecars_written(self, report: SidecarReport) -> None:
        self.status.setText(report.summary().capitalize() + ". Undo sidecars reverts them.")
        if report.failed:
            show_error(self.error, "\n".join(report.failed[:10]))
        self._update_state()
        self.sidecars_written.emit(report)

    @Slot(object)
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
            top_k=options.top_k, min_confidence=self.min_confidence_value)

    @Slot()
    def _update_state(self, *_args) -> None:
        busy = self.controller.busy
        running = self._running
        has_rows = self.results.rowCount() > 0
        idle = not busy
        for widget in (self.folder_edit, self.choose_button, self.recursive, self.extensions,
                       self.model_combo, self.provider_combo, self.top_k):
            widget.setEnabled(not running)
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.export_csv_button.setEnabled(idle and has_rows)
        self.export_json_button.setEnabled(idle and has_rows)
        self.write_xmp_button.setEnabled(idle and has_rows and self._folder is not None
                                         and any(r.ok for r in self.results.records()))
        self.undo_button.setEnabled(idle and self._folder is not None
                                    and last_journal(self._folder) is not None)

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

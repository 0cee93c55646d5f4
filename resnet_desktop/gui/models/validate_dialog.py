"""Measure a model's top-1/top-5 on a labelled folder, with progress, Cancel and the CSV.

The work (loading the model, reading the folder, validating) runs in one :class:`TaskRunner`
job through the same core functions as ``resnet-desktop validate``; the model comes from the
app's :class:`ModelService`, so a download shows in the status-bar download bar like every
tab's. The dialog only shows progress and results. Errors appear inline, never as a crash.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.engine import CancelToken, plural
from resnet_desktop.core.validation.labelled_folder import GROUND_TRUTH_NAMES, find_labelled_set
from resnet_desktop.core.validation.validate import (
    ValidationResult,
    summary_rows,
    validate,
    write_summary_csv,
)
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.widgets.formatting import format_duration, time_left
from resnet_desktop.gui.widgets.inline_errors import error_label, show_error
from resnet_desktop.gui.widgets.job_dialog import JobDialog
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import Report, throttled

LAST_FOLDER_KEY = "validate/last_folder"
_TABLE_HEADERS = ("Class", "Images", "Top-1 %", "Top-5 %", "Most frequent mistake", "Times")


def _folder_hint() -> str:
    return ("One subfolder per class (named by label or WordNet id), or images with "
            f"{', '.join(GROUND_TRUTH_NAMES)} beside them.")



UNREADABLE_SHOWN = 3


def unreadable_text(failures: tuple[tuple[Path, str], ...]) -> str:
    """``2 images could not be read (not counted): a.jpg, b.png`` (the first few names; the
    reasons are in the tooltip)."""
    names = [path.name for path, _error in failures[:UNREADABLE_SHOWN]]
    more = len(failures) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more else "")
    return f"{plural(len(failures), 'image')} could not be read (not counted): {listed}"

class ValidateDialog(JobDialog):
    """Validate ``model`` (catalog id or ``.onnx`` path) on a folder the user chooses."""

    validation_finished = Signal(object)
    """The ValidationResult just shown."""
    failed = Signal(str)
    """Why validation could not run (also shown in the dialog)."""
    validation_cancelled = Signal()

    def __init__(self, models: ModelService, model: str, provider: str = "auto",
                 parent: QWidget | None = None) -> None:
        super().__init__("validation", parent)
        self._models = models
        self._model = str(model)
        self._provider = provider
        self._result: ValidationResult | None = None
        self.runner.progressed.connect(self._on_progressed)
        self.runner.returned.connect(self._on_returned)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.busy_changed.connect(self._update_buttons)
        self.setWindowTitle("Validate on a labelled folder")
        form = self._build_form()
        hint = QLabel(_folder_hint(), self)
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._build_results()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(self._build_buttons())
        self.resize(640, 480)
        self._update_buttons()

    # -- building --------------------------------------------------------------------------------

    def _build_form(self) -> QFormLayout:
        """Model, folder, ground truth and how many images."""
        self.model_label = QLabel(self._model_title(), self)
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setPlaceholderText("Labelled folder")
        self.folder_edit.setToolTip(_folder_hint())
        self.folder_edit.textChanged.connect(self._update_buttons)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self.choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.ground_truth_edit = QLineEdit(self)
        self.ground_truth_edit.setPlaceholderText("Found in the folder or its parent")
        self.ground_truth_edit.setToolTip("Only when the ground-truth file is elsewhere")
        self.limit = QSpinBox(self)
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("All images")
        self.limit.setToolTip("Validate this many images spread evenly over the set, for a "
                              "quick estimate")
        form = QFormLayout()
        form.addRow("Model", self.model_label)
        folder_label = QLabel("&Folder", self)
        folder_label.setBuddy(self.folder_edit)
        form.addRow(folder_label, folder_row)
        form.addRow("&Ground truth", self.ground_truth_edit)
        form.addRow("&Images", self.limit)
        return form

    def _build_results(self) -> None:
        """Progress, the error line, the summary and the per-class table."""
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label = QLabel(self)
        self.error_label = error_label(self)
        self.summary_label = QLabel(self)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setWordWrap(True)
        self.table = QTableWidget(0, len(_TABLE_HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(_TABLE_HEADERS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.hide()

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("&Validate", self)
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save per-class CSV…", self)
        self.save_button.clicked.connect(self.choose_summary_file)
        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        return buttons

    # -- reading -------------------------------------------------------------------------------

    @property
    def result(self) -> ValidationResult | None:
        return self._result

    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    # -- actions -------------------------------------------------------------------------------

    def set_model(self, model: str, provider: str | None = None) -> None:
        self._model = str(model)
        if provider is not None:
            self._provider = provider
        self.model_label.setText(self._model_title())

    def set_folder(self, folder: Path | str) -> None:
        self.folder_edit.setText(str(folder))

    def choose_folder(self) -> None:
        start = self.folder_edit.text() or str(app_settings().value(LAST_FOLDER_KEY, ""))
        folder = QFileDialog.getExistingDirectory(self, "Labelled folder", start)
        if folder:
            self.set_folder(folder)

    def start(self) -> None:
        """Validate in the background; progress, then the result or an inline error."""
        text = self.folder_edit.text().strip()
        if not text:
            self._show_error("Choose a labelled folder first.")
            return
        folder = Path(text).expanduser()
        ground_truth = self.ground_truth_edit.text().strip()
        ground_truth_path = Path(ground_truth).expanduser() if ground_truth else None
        limit = self.limit.value() or None
        app_settings().setValue(LAST_FOLDER_KEY, str(folder))
        models, model, provider = self._models, self._model, self._provider
        self._result = None
        self.error_label.hide()
        self.summary_label.setText("")
        self.table.hide()
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Loading {self._model_title()}…")

        def job(report: Report, cancel: CancelToken) -> ValidationResult:
            classifier = models.load(model, provider, cancel, throughput=True)
            dataset = find_labelled_set(folder, classifier.labels, ground_truth_path)
            dataset = dataset.sample(limit)
            report((0, len(dataset), 0.0))
            return validate(classifier, dataset, cancel=cancel,
                            progress=throttled(lambda *payload: report(payload)))

        self.runner.start(job)

    def status_line(self) -> QLabel:
        return self.progress_label

    def choose_summary_file(self) -> None:
        if self._result is None:
            return
        folder = Path(self.folder_edit.text() or ".").expanduser()
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self._result.model}_{folder.name}")
        suggested = str(Path.home() / f"{name}_per_class.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Save per-class summary", suggested,
                                              "CSV files (*.csv)")
        if path:
            self.save_summary(Path(path))

    def save_summary(self, path: Path) -> bool:
        """Write the per-class CSV (atomically); an error is shown inline."""
        if self._result is None:
            return False
        try:
            write_summary_csv(self._result, path)
        except OSError as exc:
            self._show_error(f"Cannot save {Path(path).name}: {exc.strerror or exc}")
            return False
        self.progress_label.setText(f"Per-class summary saved to {path}")
        return True

    # -- updates -------------------------------------------------------------------------------

    def _model_title(self) -> str:
        try:
            return self._models.resolve(self._model).name
        except Exception:  # an unusable model is reported when validation starts
            return self._model

    def _show_error(self, message: str) -> None:
        show_error(self.error_label, message)

    def _update_buttons(self, *_args) -> None:
        busy = self.runner.busy
        self.start_button.setEnabled(not busy and bool(self.folder_edit.text().strip()))
        self.cancel_button.setVisible(busy)
        self.save_button.setEnabled(not busy and self._result is not None)
        self.folder_edit.setEnabled(not busy)
        self.ground_truth_edit.setEnabled(not busy)
        self.limit.setEnabled(not busy)

    def _on_progressed(self, payload: tuple) -> None:
        done, total, rate = payload
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        parts = [f"{done:,} of {plural(total, 'image')}"]
        if rate > 0:
            parts.append(f"{rate:.0f} images/s")
            left = time_left(done, total, rate)
            if left is not None and done < total:
                parts.append(f"{format_duration(left)} left")
        self.progress_label.setText(" · ".join(parts))

    def _on_returned(self, result: ValidationResult) -> None:
        self._result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress_label.setText(f"Done in {format_duration(result.seconds)}.")
        text = (f"Top-1 {result.top1_accuracy * 100:.2f}% ({result.top1:,}/{result.images:,})"
                f"    Top-5 {result.top5_accuracy * 100:.2f}% ({result.top5:,}/"
                f"{result.images:,})")
        if result.failures:
            text += "\n" + unreadable_text(result.failures)
        self.summary_label.setText(text)
        self.summary_label.setToolTip("\n".join(f"{path}: {error}"
                                                for path, error in result.failures))
        self._fill_table(result)
        self._update_buttons()
        self.validation_finished.emit(result)

    def _fill_table(self, result: ValidationResult) -> None:
        rows = summary_rows(result)[1:]
        numeric = {1, 2, 3, 5}
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c in range(len(_TABLE_HEADERS)):
                item = QTableWidgetItem()
                if c in numeric:
                    item.setData(Qt.ItemDataRole.DisplayRole, float(row[c]) if "." in row[c]
                                 else int(row[c]))
                else:
                    item.setText(row[c])
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.show()

    def _on_failed(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("")
        self._show_error(message)
        self._update_buttons()
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("Cancelled.")
        self._update_buttons()
        self.validation_cancelled.emit()

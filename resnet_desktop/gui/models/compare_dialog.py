"""Compare models on the same images: each model's top-5, time and provider, side by side.

The work is one :class:`TaskRunner` job calling ``Engine.compare``: models are loaded one at a
time (a catalog model not downloaded yet is fetched through the app's :class:`ModelService`,
so the status-bar download bar shows it and its Cancel stops it), every image is classified,
and the session is released before the next model. A model that cannot be loaded is an error
in its rows; the others still run. Rows arrive as results do; where two or more models give the
same top-1 for an image, their rows are marked.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.engine import CancelToken, Classification, KeywordPolicy, format_bytes
from resnet_desktop.core.imaging.decode import EXTENSIONS
from resnet_desktop.core.operations.compare import (
    CompareModel,
    CompareSink,
    agreement,
    category,
)
from resnet_desktop.gui.widgets.inline_errors import error_label, show_error
from resnet_desktop.gui.widgets.job_dialog import JobDialog
from resnet_desktop.gui.workers.model_service import ModelService
from resnet_desktop.gui.workers.task_runner import Report

TOP_K = 5
HEADERS = ("Image", "Model", "Top-5", "Category", "Agrees", "Provider", "Time",
           "Published top-1 / top-5", "Size")
_AGREES = HEADERS.index("Agrees")
_TIME = HEADERS.index("Time")
_MODEL_ROLE = Qt.ItemDataRole.UserRole


class _Relay(CompareSink):
    """Hands the comparison's events to the GUI thread through the job's ``report``."""

    def __init__(self, report: Report) -> None:
        self._report = report

    def model_started(self, model: CompareModel, index: int, count: int) -> None:
        self._report(("model", model, index, count))

    def result_ready(self, result: Classification) -> None:
        self._report(("result", result))


class CompareDialog(JobDialog):
    """Choose models and images, run them, see the answers side by side."""

    comparison_finished = Signal(object)
    """The list of Classification records, one per model and image."""
    failed = Signal(str)

    def __init__(self, models: ModelService, images: list[Path] | None = None,
                 chosen: list[str] | None = None, provider: str = "auto",
                 parent: QWidget | None = None) -> None:
        super().__init__("the comparison", parent)
        self._models = models
        self._provider = provider
        self._results: list[Classification] = []
        self._model_info: dict[int, CompareModel] = {}
        self._running_images: list[Path] = []
        self._running_names: list[str] = []
        self._policy = KeywordPolicy(0.0)
        self.runner.progressed.connect(self._on_progressed)
        self.runner.returned.connect(self._on_returned)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.busy_changed.connect(self._update_buttons)
        self.setWindowTitle("Compare models")

        self.run_button = QPushButton("&Compare", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.model_list = QListWidget(self)
        engine = models.engine
        chosen = [str(c) for c in (chosen or [])]
        for entry in engine.catalog:
            state = "downloaded" if engine.cache.is_cached(entry.id) else \
                f"{format_bytes(entry.bytes)} to download"
            self._add_model(entry.id, f"{entry.name}  ({state})", entry.id in chosen)
        for name in chosen:
            if engine.catalog.get(name) is None:
                self._add_model(name, Path(name).name, True)
        add_model = QPushButton("Add model file…", self)
        add_model.clicked.connect(self.choose_model_files)
        self.image_list = QListWidget(self)
        for path in images or []:
            self.add_image(Path(path))
        add_images = QPushButton("Add images…", self)
        add_images.clicked.connect(self.choose_images)
        self.model_list.itemChanged.connect(self._update_buttons)

        pickers = QHBoxLayout()
        for title, widget, button in (("Models", self.model_list, add_model),
                                      ("Images", self.image_list, add_images)):
            column = QVBoxLayout()
            column.addWidget(QLabel(title, self))
            column.addWidget(widget, 1)
            column.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
            pickers.addLayout(column, 1)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label = QLabel(self)
        self.error_label = error_label(self)
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

        close = QPushButton("Close", self)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(pickers, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 3)
        layout.addLayout(buttons)
        self.resize(900, 640)
        self._update_buttons()

    # -- reading -------------------------------------------------------------------------------

    def results(self) -> list[Classification]:
        return list(self._results)

    def chosen_models(self) -> list[str]:
        return [self.model_list.item(i).data(_MODEL_ROLE) for i in range(self.model_list.count())
                if self.model_list.item(i).checkState() == Qt.CheckState.Checked]

    def images(self) -> list[Path]:
        return [Path(self.image_list.item(i).data(_MODEL_ROLE))
                for i in range(self.image_list.count())]

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    # -- choosing ------------------------------------------------------------------------------

    def add_model_file(self, path: Path) -> None:
        self._add_model(str(path), Path(path).name, True)

    def add_image(self, path: Path) -> None:
        item = QListWidgetItem(Path(path).name, self.image_list)
        item.setData(_MODEL_ROLE, str(path))
        item.setToolTip(str(path))
        self._update_buttons()

    def choose_model_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add models", "", "ONNX models (*.onnx)")
        for path in paths:
            self.add_model_file(Path(path))

    def choose_images(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in EXTENSIONS)
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images", "",
                                                f"Images ({patterns})")
        for path in paths:
            self.add_image(Path(path))

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Compare the checked models on the listed images in the background."""
        names, images = self.chosen_models(), self.images()
        if not names or not images:
            show_error(self.error_label, "Choose at least one model and one image.")
            return
        service, provider = self._models, self._provider
        self._results = []
        self._model_info = {}
        self._running_images, self._running_names = images, names
        self.error_label.hide()
        self.progress.setRange(0, len(names) * len(images))
        self.progress.setValue(0)
        self.table.setRowCount(len(names) * len(images))
        for i, image in enumerate(images):
            for m, name in enumerate(names):
                row = self._row(i, m)
                self._set_row(row, [image.name, Path(name).name if name.endswith(".onnx")
                                    else name, "waiting…", "", "", "", "", "", ""])

        def job(report: Report, cancel: CancelToken) -> list[Classification]:
            compared = [service.compare_model(name, provider) for name in names]
            return service.engine.compare(compared, images, TOP_K, _Relay(report), cancel)

        self.runner.start(job)

    def status_line(self) -> QLabel:
        return self.status_label

    # -- updates -------------------------------------------------------------------------------

    def _add_model(self, name: str, text: str, checked: bool) -> None:
        item = QListWidgetItem(text, self.model_list)
        item.setData(_MODEL_ROLE, name)
        item.setToolTip(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def _row(self, image: int, model: int) -> int:
        return image * len(self._running_names) + model

    def _set_row(self, row: int, texts: list[str]) -> None:
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if column == _TIME and text:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)

    def _update_buttons(self, *_args) -> None:
        busy = self.runner.busy
        self.run_button.setEnabled(not busy and bool(self.chosen_models())
                                   and self.image_list.count() > 0)
        self.cancel_button.setVisible(busy)
        self.model_list.setEnabled(not busy)
        self.image_list.setEnabled(not busy)

    def _on_progressed(self, payload: tuple) -> None:
        if payload[0] == "model":
            _, model, index, count = payload
            self._model_info[index] = model
            self.status_label.setText(f"Running {model.id} ({index + 1} of {count})…")
            return
        result: Classification = payload[1]
        self._results.append(result)
        self.progress.setValue(len(self._results))
        model_index = len(self._results) - 1
        image_index = model_index % len(self._running_images)
        model_index //= len(self._running_images)
        self._show_result(self._row(image_index, model_index), self._model_info[model_index],
                          result)
        self._mark_agreement(image_index)

    def _show_result(self, row: int, model: CompareModel, result: Classification) -> None:
        published = model.published
        size = format_bytes(model.size) if model.size else "–"
        if not result.ok:
            self._set_row(row, [Path(str(result.path)).name, model.id, result.error or "", "",
                              "", "", "", published, size])
            return
        top = "\n".join(f"{p.label}  {p.probability * 100:.1f}%" for p in result.top)
        match = category(result, self._policy)
        curated = f"{match.label}  {match.probability * 100:.1f}%" if match is not None else ""
        self._set_row(row, [Path(str(result.path)).name, model.id, top, curated, "",
                            result.provider, f"{result.ms:.0f} ms", published, size])
        self.table.resizeRowToContents(row)

    def _mark_agreement(self, image_index: int) -> None:
        rows = [self._row(image_index, m) for m in range(len(self._running_names))]
        done = [(row, self._results[m * len(self._running_images) + image_index])
                for m, row in enumerate(rows)
                if m * len(self._running_images) + image_index < len(self._results)]
        agreed = agreement([result for _, result in done])
        for row, result in done:
            agrees = agreed is not None and result.ok and result.top[0].label == agreed
            self.table.setItem(row, _AGREES, QTableWidgetItem(f"✓ {agreed}" if agrees else ""))

    def _on_returned(self, results: list[Classification]) -> None:
        self._results = list(results)
        failed = sum(1 for r in results if not r.ok)
        self.status_label.setText(f"Done: {len(results)} answers"
                                  + (f", {failed} errors" if failed else "") + ".")
        self._update_buttons()
        self.comparison_finished.emit(self._results)

    def _on_failed(self, message: str) -> None:
        self.status_label.setText("")
        show_error(self.error_label, message)
        self._update_buttons()
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self.status_label.setText("Cancelled.")
        self._update_buttons()

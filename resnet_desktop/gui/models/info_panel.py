"""The model facts panel: parameters, MACs, opset, inputs, outputs, file size and SHA-256.

Reading a 240 MB graph and hashing it takes a moment, so :class:`ModelInfoPanel` computes the
facts with ``Engine.describe`` on a :class:`TaskRunner` thread; showing another
model cancels the previous computation and its late answer is dropped. A catalog model that is
not downloaded is reported as such (facts are never a reason to download 100 MB).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.engine import CatalogEntry, Engine, preprocessing_text
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.formatting import format_bytes, format_count
from resnet_desktop.gui.workers.task_runner import Report, TaskRunner

if TYPE_CHECKING:
    from resnet_desktop.core.engine import ModelDescription

_ROWS = (
    ("name", "Model"),
    ("params", "Parameters"),
    ("macs", "MACs"),
    ("opset", "Opset"),
    ("inputs", "Inputs"),
    ("outputs", "Outputs"),
    ("labels", "Classes"),
    ("published", "Published accuracy"),
    ("license", "Licence"),
    ("preprocessing", "Preprocessing"),
    ("file", "File"),
    ("added", "Added"),
    ("size", "Size"),
    ("sha256", "SHA-256"),
    ("notes", "Notes"),
)


def catalog_texts(entry: CatalogEntry) -> dict[str, str]:
    """The rows the catalog can fill before the model is downloaded."""
    published = ""
    if entry.top1 is not None:
        published = f"top-1 {entry.top1:.2f}%" + (f", top-5 {entry.top5:.2f}%"
                                                  if entry.top5 is not None else "")
    labels = entry.manifest.labels
    return {
        "name": f"{entry.name} ({entry.id})",
        "labels": "1000 (ImageNet)" if labels == "imagenet" else labels,
        "published": published,
        "license": entry.license or "not stated",
        "preprocessing": preprocessing_text(entry.manifest.preprocessing),
        "size": f"{format_bytes(entry.bytes)} to download",
        "sha256": entry.sha256,
    }


def _with_exact(short: str, value: int, unit: str = "") -> str:
    """``25.61 M (25,610,152)``, or just the number when the short form is already exact."""
    exact = f"{value:,}{unit}"
    return exact if short.split(" ")[0] == str(value) else f"{short} ({exact})"


def fact_texts(info: ModelDescription) -> dict[str, str]:
    """The panel's rows as plain text, keyed like ``_ROWS`` (empty string: row hidden)."""
    facts = info.facts
    macs = "unknown"
    if facts.macs is not None:
        macs = (f"{_with_exact(format_count(facts.macs), facts.macs)} for one "
                f"{facts.input_size}×{facts.input_size} image (convolutions and fully "
                "connected layers)")
    source = ("ImageNet, built in" if info.labels_source == "imagenet"
              else str(info.labels_source))
    labels = (f"{info.labels} ({source})" if info.labels is not None
              else f"labels unreadable: {info.labels_error}")
    if info.labels is not None and info.labels_error:
        labels += f"\n{info.labels_error}"
    published = ""
    if info.top1 is not None:
        published = f"top-1 {info.top1:.2f}%" + (f", top-5 {info.top5:.2f}%"
                                                 if info.top5 is not None else "")
    return {
        "name": f"{info.name} ({info.id})",
        "params": _with_exact(format_count(facts.params), facts.params),
        "macs": macs,
        "opset": str(facts.opset) if facts.opset is not None else "unknown",
        "inputs": "\n".join(f"{t.name} {t.shape_text} {t.dtype}" for t in facts.inputs),
        "outputs": "\n".join(f"{t.name} {t.shape_text} {t.dtype}" for t in facts.outputs),
        "labels": labels,
        "published": published,
        "license": info.license or "not stated",
        "preprocessing": info.preprocessing,
        "file": str(facts.path) if facts.path else "",
        "added": ("built in (ships with ResNet Desktop)" if info.builtin
                  else datetime.fromtimestamp(info.file_date).strftime("%Y-%m-%d %H:%M")
                  if info.file_date is not None else ""),
        "size": _with_exact(format_bytes(facts.bytes), facts.bytes, " bytes")
        if facts.bytes else "",
        "sha256": facts.sha256 or "",
        "notes": "\n".join(facts.notes),
    }


class ModelInfoPanel(QWidget):
    """Shows one model's facts; :meth:`show_model` takes a catalog id or an ``.onnx`` path."""

    facts_ready = Signal(object)
    """The ModelDescription now shown."""
    failed = Signal(str)
    """Why the facts could not be read (also shown in the panel)."""

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        self._info: ModelDescription | None = None
        self._model = ""
        self._runner = TaskRunner(self, "reading the model's facts")
        self._runner.returned.connect(self._on_returned)
        self._runner.failed.connect(self._on_failed)

        self.status = QLabel("Choose a model to see its facts.", self)
        self.status.setWordWrap(True)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.values: dict[str, QLabel] = {}
        self._captions: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, title in _ROWS:
            value = QLabel(self)
            value.setObjectName(f"fact_{key}")
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            caption = QLabel(title, self)
            form.addRow(caption, value)
            self.values[key] = value
            self._captions[key] = caption
        self.copy_button = QPushButton("Copy as JSON", self)
        self.copy_button.setToolTip("The same JSON as `resnet-desktop info MODEL --json`")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_json)
        self.folder_button = QPushButton("Show in Folder", self)
        self.folder_button.setToolTip("Open the folder that holds the model file")
        self.folder_button.setEnabled(False)
        self.folder_button.clicked.connect(self.show_in_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._set_rows({})

    @property
    def description(self) -> ModelDescription | None:
        return self._info

    @property
    def busy_computing(self) -> bool:
        return self._runner.busy

    def show_model(self, model: str | Path) -> None:
        """Compute and show the facts of a catalog id or a path, off the GUI thread."""
        model = str(model)
        engine = self._engine
        self._info = None
        self._model = model
        self._set_rows({})
        self.copy_button.setEnabled(False)
        self.folder_button.setEnabled(False)
        self.status.show()
        self.status.setText(f"Reading {Path(model).name if model.endswith('.onnx') else model}…")
        self.busy.show()

        def job(_report: Report, cancel: CancelToken) -> ModelDescription:
            return engine.describe(model, cancel)

        self._runner.start(job)

    def model_folder(self) -> Path | None:
        """The folder holding the shown model's file (None while no file is shown)."""
        info = self._info
        return info.facts.path.parent if info is not None and info.facts.path else None

    def show_in_folder(self) -> None:
        folder = self.model_folder()
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def copy_json(self) -> None:
        if self._info is not None:
            QGuiApplication.clipboard().setText(
                json.dumps(self._info.to_json(), indent=2, ensure_ascii=False))

    def shutdown(self) -> None:
        self._runner.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _set_rows(self, texts: dict[str, str]) -> None:
        for key, value in self.values.items():
            text = texts.get(key, "")
            value.setText(text)
            value.setVisible(bool(text))
            self._captions[key].setVisible(bool(text))

    def _on_returned(self, info: ModelDescription) -> None:
        self._info = info
        self.busy.hide()
        self.status.setText("")
        self.status.hide()
        self._set_rows(fact_texts(info))
        self.copy_button.setEnabled(True)
        self.folder_button.setEnabled(info.facts.path is not None)
        self.facts_ready.emit(info)

    def _on_failed(self, message: str) -> None:
        self.busy.hide()
        self.status.show()
        entry = self._engine.catalog.get(self._model)
        shown = message
        if entry is not None and not self._engine.cache.is_cached(entry.id):
            self._set_rows(catalog_texts(entry))
            shown = (f"{entry.name} is not downloaded yet: parameters, MACs, opset, inputs and "
                     "outputs are read from its file, which downloads when you first use it.")
        self.status.setText(shown)
        self.failed.emit(message)

"""The "Import model" form: an .onnx file, its labels and preprocessing -> a checked sidecar.

Every check is ``core.model_import``'s (the same as ``resnet-desktop import``), run on a
:class:`TaskRunner` thread because opening a large model takes a moment. A refusal is shown
under the field it names; on success the sidecar is written and :attr:`model_imported` carries
the model's path, for the picker's "My models".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import ManifestError, ResNetDesktopError
from resnet_desktop.core.models.labels import IMAGENET
from resnet_desktop.core.models.manifest import (
    COLORS,
    LAYOUTS,
    MAX_INPUT_SIZE,
    OUTPUTS,
    load_manifest_for,
    sidecar_path,
)
from resnet_desktop.core.operations.import_model import (
    CUSTOM,
    PRESETS,
    ImportedModel,
    ImportRequest,
    import_model,
    preset_for,
)
from resnet_desktop.gui.settings import app_settings
from resnet_desktop.gui.widgets.inline_errors import error_label, show_error
from resnet_desktop.gui.workers.task_runner import Report, TaskRunner

LAST_FOLDER_KEY = "import/last_folder"
FIELDS = ("model", "labels", "name", "input_size", "resize", "preset", "mean", "std", "color",
          "layout", "output")
_AUTO = "auto"


class ModelImportDialog(QDialog):
    """Fill the form, press Import; errors appear under the field they name."""

    model_imported = Signal(str)
    """The imported model's .onnx path; its sidecar manifest is written beside it."""

    def __init__(self, parent: QWidget | None = None, model: Path | str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a model")
        self._imported: ImportedModel | None = None
        self._runner = TaskRunner(self, "checking the model")
        self._runner.returned.connect(self._on_returned)
        self._runner.failed.connect(self._on_failed)
        self._runner.busy_changed.connect(self._on_busy)
        self.errors: dict[str, QLabel] = {f: error_label(self, f"error_{f}") for f in FIELDS}
        self.general_error = error_label(self)
        self._build_files()
        self._build_preprocessing()
        self._build_buttons()
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # room for errors
        layout.addLayout(self._form())
        layout.addWidget(self._units_note())
        layout.addWidget(self.general_error)
        layout.addLayout(self._buttons)
        self._on_preset_changed()
        if model is not None:
            self.set_model_file(model)

    # -- form building -------------------------------------------------------------------------

    def _build_files(self) -> None:
        """The model file, its labels and its display name."""
        self.model_edit = QLineEdit(self)
        self.model_edit.setPlaceholderText("model.onnx")
        self.model_edit.editingFinished.connect(self._on_model_chosen)
        self.labels_edit = QLineEdit(self)
        self.labels_edit.setPlaceholderText("labels.txt: one class per line, in output order")
        self.imagenet_labels = QCheckBox("The 1000 ImageNet classes", self)
        self.imagenet_labels.toggled.connect(self.labels_edit.setDisabled)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("The file name")

    def _build_preprocessing(self) -> None:
        """Input size, resize, normalisation, channel order, layout and output kind."""
        self.input_size = QSpinBox(self)
        self.input_size.setRange(0, MAX_INPUT_SIZE)
        self.input_size.setSpecialValueText("From the model (else 224)")
        self.resize_spin = QSpinBox(self)
        self.resize_spin.setRange(0, MAX_INPUT_SIZE)
        self.resize_spin.setSpecialValueText("Input size × 256/224")
        self.preset = QComboBox(self)
        for preset in PRESETS.values():
            self.preset.addItem(preset.title, preset.key)
        self.preset.addItem("Custom", CUSTOM)
        self.preset.currentIndexChanged.connect(self._on_preset_changed)
        self.mean = [self._number(-10_000.0, 10_000.0) for _ in range(3)]
        self.std = [self._number(0.0, 10_000.0) for _ in range(3)]
        self.color = QComboBox(self)
        self.color.addItems(list(COLORS))
        self.layout_combo = QComboBox(self)
        self.layout_combo.addItem("From the model", _AUTO)
        for layout in LAYOUTS:
            self.layout_combo.addItem(layout, layout)
        self.output = QComboBox(self)
        self.output.addItem("From a test run", _AUTO)
        for output in OUTPUTS:
            self.output.addItem(output.capitalize(), output)

    def _form(self) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._row(form, "&Model file", "model",
                  self._with_browse(self.model_edit, self.choose_model_file), self.model_edit)
        labels_box = QVBoxLayout()
        labels_box.addLayout(self._with_browse(self.labels_edit, self.choose_labels_file))
        labels_box.addWidget(self.imagenet_labels)
        self._row(form, "&Labels", "labels", labels_box, self.labels_edit)
        self._row(form, "&Name", "name", self.name_edit)
        self._row(form, "&Input size", "input_size", self.input_size)
        self._row(form, "&Resize to", "resize", self.resize_spin)
        self._row(form, "&Normalisation", "preset", self.preset)
        self._row(form, "Mean (R, G, B)", "mean", self._triple(self.mean))
        self._row(form, "Std (R, G, B)", "std", self._triple(self.std))
        self._row(form, "&Channel order", "color", self.color)
        self._row(form, "&Layout", "layout", self.layout_combo)
        self._row(form, "&Output", "output", self.output)
        return form

    def _units_note(self) -> QLabel:
        units = QLabel("Mean and std are in 0-255 pixel units, as in torchvision and mmpretrain "
                       "configs.", self)
        units.setWordWrap(True)
        units.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        return units

    def _build_buttons(self) -> None:
        self.status = QLabel(self)
        self.import_button = QPushButton("&Import", self)
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.submit)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.reject)
        self._buttons = QHBoxLayout()
        self._buttons.addWidget(self.status, 1)
        self._buttons.addWidget(self.import_button)
        self._buttons.addWidget(self.cancel_button)

    def _number(self, low: float, high: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(low, high)
        spin.setDecimals(3)
        return spin

    def _triple(self, spins: list[QDoubleSpinBox]) -> QHBoxLayout:
        row = QHBoxLayout()
        for spin in spins:
            row.addWidget(spin)
        return row

    def _with_browse(self, edit: QLineEdit, slot) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Browse…", self)
        button.clicked.connect(slot)
        row.addWidget(button)
        return row

    def _row(self, form: QFormLayout, title: str, field: str, widget,
             buddy: QWidget | None = None) -> None:
        box = QVBoxLayout()
        box.setSpacing(2)
        if isinstance(widget, QWidget):
            box.addWidget(widget)
        else:
            box.addLayout(widget)
        box.addWidget(self.errors[field])
        label = QLabel(title, self)
        buddy = buddy or (widget if isinstance(widget, QWidget) else None)
        if buddy is not None:
            label.setBuddy(buddy)
        form.addRow(label, box)

    # -- reading -------------------------------------------------------------------------------

    @property
    def imported(self) -> ImportedModel | None:
        return self._imported

    @property
    def busy(self) -> bool:
        return self._runner.busy

    def error_text(self, field: str | None = None) -> str:
        """The inline error under ``field`` (None: the general one); "" when none is shown."""
        label = self.general_error if field is None else self.errors[field]
        return label.text() if not label.isHidden() else ""

    def shown_errors(self) -> dict[str, str]:
        return {f: label.text() for f, label in self.errors.items() if not label.isHidden()}

    def request(self) -> ImportRequest:
        """The form's values as the core's import request."""
        preset = self.preset.currentData()
        custom = preset == CUSTOM
        layout, output = self.layout_combo.currentData(), self.output.currentData()
        return ImportRequest(
            model=Path(self.model_edit.text().strip()),
            labels=(IMAGENET if self.imagenet_labels.isChecked()
                    else self.labels_edit.text().strip()),
            name=self.name_edit.text().strip() or None,
            preset=preset,
            mean=tuple(s.value() for s in self.mean) if custom else None,
            std=tuple(s.value() for s in self.std) if custom else None,
            color=self.color.currentText() if custom else None,
            input_size=self.input_size.value() or None,
            resize=self.resize_spin.value() or None,
            layout=None if layout == _AUTO else layout,
            output=None if output == _AUTO else output,
        )

    # -- filling -------------------------------------------------------------------------------

    def set_model_file(self, path: Path | str) -> None:
        """Choose the model; an existing sidecar fills the form, a ``<name>.txt`` the labels."""
        path = Path(path)
        self.model_edit.setText(str(path))
        self._prefill(path)

    def set_labels_file(self, path: Path | str) -> None:
        self.imagenet_labels.setChecked(False)
        self.labels_edit.setText(str(path))

    def set_preset(self, key: str) -> None:
        index = self.preset.findData(key)
        if index < 0:
            raise ValueError(f"unknown preset {key!r}")
        self.preset.setCurrentIndex(index)

    def set_custom_values(self, mean: tuple[float, float, float],
                          std: tuple[float, float, float], color: str = "RGB") -> None:
        self.set_preset(CUSTOM)
        for spin, value in zip(self.mean, mean, strict=True):
            spin.setValue(value)
        for spin, value in zip(self.std, std, strict=True):
            spin.setValue(value)
        self.color.setCurrentText(color)

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", self._start_folder(),
                                              "ONNX models (*.onnx)")
        if path:
            app_settings().setValue(LAST_FOLDER_KEY, str(Path(path).parent))
            self.set_model_file(path)

    def choose_labels_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels file", self._start_folder(),
                                              "Text files (*.txt);;All files (*)")
        if path:
            self.set_labels_file(path)

    def _start_folder(self) -> str:
        text = self.model_edit.text().strip()
        if text:
            return str(Path(text).expanduser().parent)
        return str(app_settings().value(LAST_FOLDER_KEY, ""))

    def _on_model_chosen(self) -> None:
        text = self.model_edit.text().strip()
        if text:
            self._prefill(Path(text).expanduser())

    def _prefill(self, path: Path) -> None:
        """Fill from an existing sidecar (re-import), else guess the labels file."""
        if sidecar_path(path).is_file():
            try:
                manifest = load_manifest_for(path)
            except ResNetDesktopError:
                return  # a broken sidecar: the user's import will replace it
            pre = manifest.preprocessing
            if manifest.labels == IMAGENET:
                self.imagenet_labels.setChecked(True)
            else:
                self.set_labels_file(manifest.labels)
            self.name_edit.setText(manifest.name)
            self.input_size.setValue(pre.input_size)
            self.resize_spin.setValue(pre.resize)
            key = preset_for(pre)
            if key == CUSTOM:
                self.set_custom_values(pre.mean, pre.std, pre.color)
            else:
                self.set_preset(key)
            self.layout_combo.setCurrentIndex(self.layout_combo.findData(pre.layout))
            self.output.setCurrentIndex(self.output.findData(manifest.output))
            return
        if not self.labels_edit.text().strip():
            for candidate in (path.with_suffix(".txt"), path.parent / "labels.txt"):
                if candidate.is_file():
                    self.set_labels_file(candidate)
                    break

    def _on_preset_changed(self, *_args) -> None:
        key = self.preset.currentData()
        custom = key == CUSTOM
        if not custom:
            preset = PRESETS[key]
            for spin, value in zip(self.mean, preset.mean, strict=True):
                spin.setValue(value)
            for spin, value in zip(self.std, preset.std, strict=True):
                spin.setValue(value)
            self.color.setCurrentText(preset.color)
        for widget in (*self.mean, *self.std, self.color):
            widget.setEnabled(custom)

    # -- import --------------------------------------------------------------------------------

    def submit(self) -> None:
        """Check and import in the background; the result arrives by signal."""
        self._clear_errors()
        request = self.request()
        if not str(request.model).strip() or str(request.model) == ".":
            self._show_field_error("model", "model: choose the model's .onnx file")
            return
        if not str(request.labels).strip():
            self._show_field_error("labels", "labels: choose a labels file, or tick the "
                                             "ImageNet classes")
            return
        self.status.setText("Checking the model…")

        def job(_report: Report, _cancel: CancelToken) -> ImportedModel | ManifestError:
            try:
                # The form shows an existing sidecar's values when the model is chosen, so
                # importing again is the user's edit of it.
                return import_model(request, overwrite=True)
            except ManifestError as exc:
                return exc  # returned, not raised, so the field it names reaches the form

        self._runner.start(job)

    def _clear_errors(self) -> None:
        for label in (*self.errors.values(), self.general_error):
            show_error(label, "")

    def _show_field_error(self, field: str | None, message: str) -> None:
        label = self.errors.get(field, self.general_error) if field else self.general_error
        show_error(label, message)
        self.layout().activate()
        self.adjustSize()  # wrapped error lines need height the form did not have

    def _on_busy(self, busy: bool) -> None:
        for widget in self.findChildren(QWidget):
            if widget is not self.cancel_button and not isinstance(widget, QLabel):
                widget.setEnabled(not busy)
        if not busy:
            self._on_preset_changed()
            self.labels_edit.setDisabled(self.imagenet_labels.isChecked())

    def _on_returned(self, result: ImportedModel | ManifestError) -> None:
        if isinstance(result, ManifestError):
            self.status.setText("")
            self._show_field_error(result.field, str(result))
            return
        self._imported = result
        self.status.setText(f"Imported: {result.num_classes} classes.")
        self.model_imported.emit(str(result.model_path))
        self.accept()

    def _on_failed(self, message: str) -> None:
        self.status.setText("")
        self._show_field_error(None, message)

    def done(self, result: int) -> None:
        self._runner.shutdown()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._runner.shutdown()
        super().closeEvent(event)

"""The Batch tab's widgets and their layout, built once; :class:`BatchPanel` adds what they do.

Qt Designer's ``setupUi`` split, by hand: this class only creates and arranges the widgets
(folder and options, the run row, the results table, the outputs row), so the panel's module
holds the behaviour alone.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

from resnet_desktop.core.engine import EXTENSIONS, SidecarNaming
from resnet_desktop.gui.batch.results import ERROR
from resnet_desktop.gui.widgets.inline_errors import error_label

IDLE_TEXT = "Not started"
"""The progress bar's text before a run (instead of "0 of 1")."""
SUMMARY_SHOWN = 4
"""How many extensions the summary names before "and N more"."""


def extensions_text(extensions: tuple[str, ...]) -> str:
    return ", ".join(e.lstrip(".") for e in extensions)


def extensions_summary(text: str) -> str:
    """``jpg, jpeg, png, webp and 10 more`` for the extensions field's text."""
    names = [part.strip().lstrip(".") for part in text.replace(";", ",").split(",")
             if part.strip().lstrip(".")]
    if not names:
        return "none"
    if len(names) <= SUMMARY_SHOWN + 1:
        return ", ".join(names)
    return f"{', '.join(names[:SUMMARY_SHOWN])} and {len(names) - SUMMARY_SHOWN} more"



class BatchView(QWidget):
    """The Batch tab's widgets; :meth:`_build` lays them out around a results table."""

    proxy: QSortFilterProxyModel
    """The filtered, sortable view of the results that the table shows (set by the panel)."""
    thumbnail_size: int

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self._build_inputs()
        self._build_run_row()
        self._build_table()
        self._build_outputs()
        layout = QVBoxLayout(self)
        layout.addLayout(self._form_layout())
        layout.addLayout(self._row(self.start_button, self.pause_button, self.cancel_button,
                                   (self.progress_bar, 1), self.rate_label))
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        # Two rows, so that every control fits an 800-pixel-wide window.
        layout.addLayout(self._row(QLabel("Sidecar name", self), self.naming_combo,
                                   self.embed_box, None, self.write_xmp_button))
        layout.addLayout(self._row(self.export_csv_button, self.export_json_button, None,
                                   self.undo_button))
        layout.addWidget(self.status)
        layout.addWidget(self.error)

    @staticmethod
    def _row(*items) -> QHBoxLayout:
        """A row of widgets; ``None`` is a stretch, ``(widget, stretch)`` a stretching one."""
        row = QHBoxLayout()
        for item in items:
            if item is None:
                row.addStretch(1)
            elif isinstance(item, tuple):
                row.addWidget(*item)
            else:
                row.addWidget(item)
        return row

    def _build_inputs(self) -> None:
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setPlaceholderText("Folder of photos")
        self.folder_edit.setAccessibleName("Folder")
        self.choose_button = QPushButton("Choose…", self)
        self.recursive = QCheckBox("Include subfolders", self)
        self.extensions = QLineEdit(extensions_text(EXTENSIONS), self)
        self.extensions.setAccessibleName("File extensions")
        self.extensions.setToolTip("File extensions to include, separated by commas")
        self.extensions.hide()
        self.extensions_label = QLabel(self)
        self.extensions_label.setTextFormat(Qt.TextFormat.PlainText)
        self.extensions_label.setAccessibleName("File types")
        self.extensions_button = QPushButton("Edit…", self)
        self.extensions_button.setCheckable(True)
        self.extensions_button.setToolTip("Choose which file extensions the batch reads")
        self.extensions_button.toggled.connect(self._edit_extensions)
        self.extensions.textChanged.connect(self._update_extensions_summary)
        self._update_extensions_summary()

        self.model_label = QLabel(self)
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)
        self.model_label.setAccessibleName("Model")
        self.model_label.setToolTip("The model chosen in the Classify tab")
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

    def _build_run_row(self) -> None:
        self.start_button = QPushButton("Start", self)
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setTextVisible(True)
        self.show_idle()
        self.rate_label = QLabel(self)
        self.rate_label.setTextFormat(Qt.TextFormat.PlainText)

    def _build_table(self) -> None:
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
        self.table.verticalHeader().setDefaultSectionSize(self.thumbnail_size + 6)
        self.table.setIconSize(QSize(self.thumbnail_size,
                                     self.thumbnail_size))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((220, 140, 90, 260)):
            header.resizeSection(column, width)
        self.table.setColumnHidden(ERROR, True)  # shown once a file could not be read

    def _build_outputs(self) -> None:
        self.export_csv_button = QPushButton("Export CSV…", self)
        self.export_json_button = QPushButton("Export JSON…", self)
        self.naming_combo = QComboBox(self)
        self.naming_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.naming_combo.setMinimumContentsLength(22)
        self.naming_combo.setAccessibleName("Sidecar file name")
        for naming in SidecarNaming:
            self.naming_combo.addItem(f"{naming.example} ({naming.readers})", naming.value)
        self.embed_box = QCheckBox("Write into the image files", self)
        self.embed_box.setToolTip("Put the keywords inside JPEG, TIFF, PNG and WebP files (what "
                                  "Lightroom, Apple Photos and Windows Explorer read); HEIC and "
                                  "raw files get sidecars. This modifies the originals' "
                                  "metadata; Undo restores them byte for byte.")
        self.write_xmp_button = QPushButton("Write XMP sidecars…", self)
        self.undo_button = QPushButton("Undo sidecars", self)
        self.undo_button.setToolTip("Put back every sidecar of the last write in this folder "
                                    "(with an interrupted run it resumed); the count is how "
                                    "many runs can be undone, one after the other")
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.error = error_label(self, "batchError")

    def _form_layout(self) -> QGridLayout:
        form = QGridLayout()
        form.addWidget(QLabel("Folder", self), 0, 0)
        form.addLayout(self._row((self.folder_edit, 1), self.choose_button), 0, 1, 1, 3)
        form.addWidget(self.recursive, 1, 1)
        form.addWidget(QLabel("File types", self), 1, 2)
        form.addLayout(self._row((self.extensions_label, 1), self.extensions_button), 1, 3)
        form.addWidget(self.extensions, 2, 2, 1, 2)
        form.addWidget(QLabel("Model", self), 3, 0)
        form.addWidget(self.model_label, 3, 1, 1, 3)
        form.addWidget(QLabel("Labels per image", self), 4, 0)
        form.addWidget(self.top_k, 4, 1)
        form.addWidget(QLabel("Tag at or above", self), 4, 2)
        form.addWidget(self.min_confidence, 4, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        return form

    # -- what the panel calls ------------------------------------------------------------------

    def show_idle(self, text: str = IDLE_TEXT) -> None:
        """The progress bar with no run: empty, saying ``text`` instead of "0 of 1"."""
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(text)

    def show_counting(self, done: int, total: int) -> None:
        """``done of total`` (a busy bar while the total is unknown, ``total`` 0)."""
        self.progress_bar.setFormat("%v of %m")
        self.progress_bar.setRange(0, max(total, done, 1) if total else 0)
        self.progress_bar.setValue(done)

    def _edit_extensions(self, shown: bool) -> None:
        self.extensions.setVisible(shown)
        self.extensions_button.setText("Done" if shown else "Edit…")
        if shown:
            self.extensions.setFocus()

    def _update_extensions_summary(self) -> None:
        self.extensions_label.setText(extensions_summary(self.extensions.text()))
        self.extensions_label.setToolTip(self.extensions.text())

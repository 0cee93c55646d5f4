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
from resnet_desktop.gui.widgets.inline_errors import error_label


def extensions_text(extensions: tuple[str, ...]) -> str:
    return ", ".join(e.lstrip(".") for e in extensions)



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
        layout.addLayout(self._row(self.export_csv_button, self.export_json_button, None,
                                   QLabel("Sidecar name", self), self.naming_combo,
                                   self.embed_box, self.write_xmp_button, self.undo_button))
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
        self.progress_bar.setFormat("%v of %m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
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
        for column, width in enumerate((260, 150, 90, 280)):
            header.resizeSection(column, width)

    def _build_outputs(self) -> None:
        self.export_csv_button = QPushButton("Export CSV…", self)
        self.export_json_button = QPushButton("Export JSON…", self)
        self.naming_combo = QComboBox(self)
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
        form.addWidget(QLabel("Extensions", self), 1, 2)
        form.addWidget(self.extensions, 1, 3)
        form.addWidget(QLabel("Model", self), 2, 0)
        form.addWidget(self.model_label, 2, 1, 1, 3)
        form.addWidget(QLabel("Labels per image", self), 3, 0)
        form.addWidget(self.top_k, 3, 1)
        form.addWidget(QLabel("Tag at or above", self), 3, 2)
        form.addWidget(self.min_confidence, 3, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        return form


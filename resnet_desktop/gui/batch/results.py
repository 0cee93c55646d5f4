"""The Batch tab's results table: one row per image, filled in chunks while a batch runs.

Columns: file (with a thumbnail), top-1, its probability, the other labels, the error.
:func:`make_proxy` wraps the model for sorting (numbers sort as numbers) and filtering by label.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from resnet_desktop.core.engine import BatchRecord
from resnet_desktop.gui.batch.thumbnails import ThumbnailCache
from resnet_desktop.gui.widgets import palette as colours
from resnet_desktop.gui.widgets.formatting import format_percent

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
LABELS_ROLE = Qt.ItemDataRole.UserRole + 2
"""Every label of the row's top-k, one per line: what the label filter matches."""
RECORD_ROLE = Qt.ItemDataRole.UserRole + 3

COLUMNS = ("File", "Top-1", "Probability", "Other labels", "Error")
FILE, TOP1, PROBABILITY, OTHERS, ERROR = range(len(COLUMNS))

Index = QModelIndex | QPersistentModelIndex


class BatchResultsModel(QAbstractTableModel):
    """Rows of :class:`BatchRecord`; ``append`` takes a whole chunk in one insertion."""

    def __init__(self, parent: QObject | None = None,
                 thumbnails: ThumbnailCache | None = None) -> None:
        super().__init__(parent)
        self._records: list[BatchRecord] = []
        self._rows_by_file: dict[str, int] = {}
        self.thumbnails = thumbnails if thumbnails is not None else ThumbnailCache(self)
        self.thumbnails.thumbnail_ready.connect(self._on_thumbnail_ready)

    def records(self) -> list[BatchRecord]:
        return list(self._records)

    def record(self, row: int) -> BatchRecord:
        return self._records[row]

    def append(self, records: list[BatchRecord]) -> None:
        if not records:
            return
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        for offset, record in enumerate(records):
            self._rows_by_file[str(record.file)] = first + offset
        self._records.extend(records)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._records.clear()
        self._rows_by_file.clear()
        self.thumbnails.clear()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == SORT_ROLE:
            if column == PROBABILITY:
                return record.probability if record.probability is not None else -1.0
            return (self._display(record, column) or "").casefold()
        if role == LABELS_ROLE:
            return "\n".join(p.label for p in record.top)
        if role == RECORD_ROLE:
            return record
        if role == Qt.ItemDataRole.DecorationRole and column == FILE:
            return self.thumbnails.pixmap(record.file)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == FILE:
                return str(record.file)
            if record.error:
                return record.error
            if column in (TOP1, PROBABILITY, OTHERS) and record.top:
                return "\n".join(f"{format_percent(p.probability)}  {p.label}"
                                 for p in record.top)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and record.error and column in (FILE, ERROR):
            return colours.error(QApplication.palette() if QApplication.instance()
                                 else QPalette())
        if role == Qt.ItemDataRole.TextAlignmentRole and column == PROBABILITY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(record: BatchRecord, column: int) -> str | None:
        if column == FILE:
            return record.path
        if column == TOP1:
            return record.label if record.ok else "—"
        if column == PROBABILITY:
            return format_percent(record.probability) if record.probability is not None \
                else ""
        if column == OTHERS:
            return ", ".join(f"{p.label} {format_percent(p.probability)}"
                             for p in record.top[1:])
        if column == ERROR:
            return record.error or ""
        return None

    @Slot(str)
    def _on_thumbnail_ready(self, path: str) -> None:
        row = self._rows_by_file.get(path)
        if row is not None:
            index = self.index(row, FILE)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def make_proxy(model: BatchResultsModel, parent: QObject | None = None) -> QSortFilterProxyModel:
    """Sorting by value and case-insensitive filtering on any of a row's labels."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setFilterRole(LABELS_ROLE)
    proxy.setFilterKeyColumn(FILE)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy

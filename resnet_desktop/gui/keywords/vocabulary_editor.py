"""The vocabulary editor: search the classes and categories, rename, block, set thresholds.

One row per ImageNet class and per curated category (plus any other name the saved vocabulary
holds, such as a custom model's label). "Keyword written" left empty writes the name itself;
"Needs at least" left empty uses the threshold in force. Saving writes the user's
``vocabulary.json`` through the :class:`VocabularyStore`.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from resnet_desktop.core.keywords.taxonomy import default_taxonomy
from resnet_desktop.core.keywords.vocabulary import Vocabulary, VocabularyError
from resnet_desktop.core.models.labels import imagenet_labels
from resnet_desktop.gui.keywords.vocabulary_store import VocabularyStore
from resnet_desktop.gui.widgets.inline_errors import error_label, show_error

NAME, KIND, PATH, KEYWORD, BLOCK, MINIMUM = range(6)
COLUMNS = ("Name", "Kind", "Category", "Keyword written", "Never write", "Needs at least (%)")


def _item(text: str, editable: bool = False) -> QStandardItem:
    item = QStandardItem(text)
    item.setEditable(editable)
    return item


class VocabularyEditor(QDialog):
    """Opened with ``open()``; Save writes the vocabulary, Cancel forgets the edits."""

    def __init__(self, store: VocabularyStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("VocabularyEditor")
        self.setWindowTitle("Keyword vocabulary")
        self.store = store
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self._fill(store.vocabulary)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(NAME)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search the 1000 classes and the categories")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((200, 80, 200, 150, 90)):
            header.resizeSection(column, width)
        self.write_category = QCheckBox("Write the category (cat)", self)
        self.write_labels = QCheckBox("Write the classes at or above the threshold (tabby)", self)
        levels = store.vocabulary.levels
        self.write_category.setChecked("category" in levels)
        self.write_labels.setChecked("label" in levels)
        note = QLabel("The window, the Batch tab, exports, sidecars and the command line all "
                      "use this vocabulary. Renames apply to categories too: several classes "
                      "may share one keyword.", self)
        note.setWordWrap(True)
        self.error = error_label(self, "vocabularyError")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        levels_row = QHBoxLayout()
        levels_row.addWidget(self.write_category)
        levels_row.addWidget(self.write_labels)
        levels_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addLayout(levels_row)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(860, 560)

    def _fill(self, vocabulary: Vocabulary) -> None:
        taxonomy = default_taxonomy()
        rows: dict[str, tuple[str, str]] = {}
        for label in imagenet_labels():
            rows.setdefault(label.name, ("class", " › ".join(taxonomy.path_of(label.wnid))))
        for name, category in taxonomy.categories.items():
            rows.setdefault(name, ("category", " › ".join(category.path[:-1])))
        named = set(vocabulary.rename) | vocabulary.block | set(vocabulary.min_probability)
        for name in sorted(named - set(rows)):
            rows[name] = ("other", "")
        for name, (kind, path) in rows.items():
            block = _item("", editable=False)
            block.setCheckable(True)
            block.setCheckState(Qt.CheckState.Checked if vocabulary.is_blocked(name)
                                else Qt.CheckState.Unchecked)
            minimum = vocabulary.min_probability.get(name)
            self.model.appendRow([
                _item(name), _item(kind), _item(path),
                _item(vocabulary.rename.get(name, ""), editable=True), block,
                _item(f"{minimum * 100:g}" if minimum is not None else "", editable=True)])

    def row_of(self, name: str) -> int:
        """The source-model row of ``name`` (for tests and scripting)."""
        found = self.model.findItems(name, Qt.MatchFlag.MatchExactly, NAME)
        if not found:
            raise KeyError(name)
        return found[0].row()

    def set_entry(self, name: str, *, keyword: str | None = None, block: bool | None = None,
                  minimum: str | None = None) -> None:
        """Edit one row as a person would in the table."""
        row = self.row_of(name)
        if keyword is not None:
            self.model.item(row, KEYWORD).setText(keyword)
        if block is not None:
            self.model.item(row, BLOCK).setCheckState(
                Qt.CheckState.Checked if block else Qt.CheckState.Unchecked)
        if minimum is not None:
            self.model.item(row, MINIMUM).setText(minimum)

    def vocabulary(self) -> Vocabulary:
        """The vocabulary the table and the level boxes describe; ValueError names a bad
        threshold."""
        rename, block, thresholds = {}, set(), {}
        for row in range(self.model.rowCount()):
            name = self.model.item(row, NAME).text()
            keyword = self.model.item(row, KEYWORD).text().strip()
            if keyword and keyword != name:
                rename[name] = keyword
            if self.model.item(row, BLOCK).checkState() == Qt.CheckState.Checked:
                block.add(name)
            text = self.model.item(row, MINIMUM).text().strip().rstrip("%").strip()
            if text:
                try:
                    value = float(text.replace(",", "."))
                except ValueError:
                    value = math.nan
                if not 0 <= value <= 100:
                    raise ValueError(f"{name}: {text!r} is not a percentage from 0 to 100")
                thresholds[name] = value / 100
        levels = tuple(level for level, box in (("category", self.write_category),
                                                ("label", self.write_labels))
                       if box.isChecked())
        if not levels:
            raise ValueError("Choose what to write: the category, the classes, or both")
        return Vocabulary(rename=rename, block=frozenset(block), min_probability=thresholds,
                          levels=levels)

    def save(self) -> None:
        """Save and close; a bad entry or an unwritable file stays open with the reason."""
        try:
            self.store.save(self.vocabulary())
        except (ValueError, VocabularyError) as exc:
            show_error(self.error, str(exc))
            return
        self.accept()

"""The one owner of the keyword vocabulary in the window.

The chart, the Batch tab and the editor observe :attr:`VocabularyStore.changed` instead of
reading the file themselves; the editor saves through :meth:`VocabularyStore.save`, which writes
the user's ``vocabulary.json`` (the same file ``classify`` and ``tag`` use by default).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from resnet_desktop.core.keywords.vocabulary import (
    DEFAULT_VOCABULARY,
    Vocabulary,
    VocabularyError,
    load_user_vocabulary,
    save_vocabulary,
)


class VocabularyStore(QObject):
    """The vocabulary in force, loaded from the user's config folder."""

    changed = Signal(object)
    """The new :class:`~resnet_desktop.core.keywords.vocabulary.Vocabulary`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vocabulary: Vocabulary = DEFAULT_VOCABULARY
        self.error: str | None = None
        """Why the saved vocabulary could not be used (the default is used instead)."""

    def load(self) -> None:
        """Read the saved vocabulary; a broken file leaves the default in force and
        :attr:`error` saying why."""
        try:
            self.vocabulary, self.error = load_user_vocabulary(), None
        except VocabularyError as exc:
            self.vocabulary, self.error = DEFAULT_VOCABULARY, str(exc)
        self.changed.emit(self.vocabulary)

    def save(self, vocabulary: Vocabulary) -> None:
        """Write ``vocabulary`` to the user's file and put it in force; raises
        :class:`~resnet_desktop.core.keywords.vocabulary.VocabularyError`."""
        self.vocabulary, self.error = save_vocabulary(vocabulary), None
        self.changed.emit(self.vocabulary)

"""Which keywords one image gets: its category and its confident labels, through the vocabulary.

One :class:`KeywordPolicy` is built per run (``classify``, ``tag``, the window) and asked for
each image, so every output (text, JSON, CSV, sidecars, embedded metadata) says the same. Each
image comes with its top-k and the category masses computed from its whole probability vector
(``categories``; see :mod:`~resnet_desktop.core.keywords.rollup`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from resnet_desktop.core.keywords.confidence import MIN_MARGIN, MIN_TOP1
from resnet_desktop.core.keywords.taxonomy import Taxonomy, default_taxonomy
from resnet_desktop.core.keywords.vocabulary import DEFAULT_VOCABULARY, Vocabulary

if TYPE_CHECKING:
    from resnet_desktop.core.inference.classifier import Prediction
    from resnet_desktop.core.inference.results import CategoryMasses
    from resnet_desktop.core.keywords.rollup import CategoryMatch


@dataclass(frozen=True)
class ImageKeywords:
    """The words written for one image."""

    flat: tuple[str, ...] = ()
    """Plain keywords (``dc:subject``, the exports' tags), most important first."""
    paths: tuple[tuple[str, ...], ...] = ()
    """The same keywords as category paths, general to specific (``animal, mammal, cat,
    tiger cat``), for ``lr:hierarchicalSubject`` and ``digiKam:TagsList``."""
    category: CategoryMatch | None = None


class KeywordPolicy:
    """The rules of one run: the label threshold, the vocabulary and the categories."""

    def __init__(self, min_confidence: float, vocabulary: Vocabulary = DEFAULT_VOCABULARY,
                 taxonomy: Taxonomy | None = None) -> None:
        self.min_confidence = min_confidence
        self.vocabulary = vocabulary
        self._taxonomy = taxonomy

    @property
    def taxonomy(self) -> Taxonomy:
        """The given taxonomy, else the shipped one, read on first use: the window makes its
        policy before its first paint, which does without the tenth of a second that takes."""
        if self._taxonomy is None:
            self._taxonomy = default_taxonomy()
        return self._taxonomy

    def _renamed(self, names: Sequence[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.vocabulary.keyword(n) for n in names))

    def category(self, predictions: Sequence[Prediction],
                 categories: CategoryMasses | None = None) -> CategoryMatch | None:
        """The confident category (renamed by the vocabulary), or None.

        ``categories`` come from the image's whole probability vector. None (a results store
        row written before they were kept) falls back to summing ``predictions``, a lower
        bound that may miss a category spread over more classes than the top-k.
        """
        # Imported here: the window builds its policy before its first paint, which does
        # without numpy (the roll-up's and the classifier's).
        from resnet_desktop.core.keywords.rollup import CategoryMatch, choose, roll_up

        vocabulary = self.vocabulary

        def threshold_for(name: str) -> float:
            return vocabulary.threshold(name, MIN_TOP1)

        if categories is None:
            match = roll_up(predictions, self.taxonomy, threshold=MIN_TOP1, margin=MIN_MARGIN,
                            threshold_for=threshold_for, blocked=vocabulary.is_blocked)
        else:
            match = choose(categories, predictions, self.taxonomy, threshold=MIN_TOP1,
                           threshold_for=threshold_for, blocked=vocabulary.is_blocked)
        if match is None:
            return None
        return CategoryMatch(vocabulary.keyword(match.label), match.probability,
                             self._renamed(match.path), match.leaves)

    def labels(self, predictions: Sequence[Prediction]) -> list[Prediction]:
        """The predictions that clear their threshold and are not blocked."""
        vocabulary = self.vocabulary
        return [p for p in predictions if not vocabulary.is_blocked(p.label)
                and p.probability >= vocabulary.threshold(p.label, self.min_confidence)]

    def keywords(self, predictions: Sequence[Prediction],
                 categories: CategoryMasses | None = None) -> ImageKeywords:
        """The keywords for one image's top-k and category masses (see :meth:`category`), as
        ``levels`` in the vocabulary asks."""
        category = self.category(predictions, categories)
        flat: list[str] = []
        paths: list[tuple[str, ...]] = []
        if "category" in self.vocabulary.levels and category is not None:
            flat.append(category.label)
            paths.append(category.path)
        if "label" in self.vocabulary.levels:
            for prediction in self.labels(predictions):
                keyword = self.vocabulary.keyword(prediction.label)
                path = self._renamed(self.taxonomy.path_of(prediction.wnid))
                flat.append(keyword)
                paths.append(path if path and path[-1] == keyword else (*path, keyword))
        return ImageKeywords(tuple(dict.fromkeys(flat)), tuple(dict.fromkeys(paths)), category)

    def known_names(self, labels: Sequence[str]) -> set[str]:
        """Names a vocabulary may use with a model of these labels: its classes and the
        categories."""
        return set(labels) | set(self.taxonomy.categories)

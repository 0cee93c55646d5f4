"""Roll leaf probabilities up into the curated categories: "cat 92 %" instead of a tie between
three cat breeds.

A category's probability is the sum of the probabilities of all its classes. The answer is the
most specific category that passes the app's confidence rule
(:mod:`~resnet_desktop.core.keywords.confidence`), treating the category as one merged class: at
least the threshold, and ahead by the margin of every rival, where a rival is a class outside
the category, or another category that is neither above nor below it (counting only its classes
outside this one). Dog 40 % against cat 38 % is then no answer at that level, while "mammal"
78 % is.

The sums need the whole probability vector, which exists only where the model ran: there
:func:`category_masses` reduces it to the few categories that clear the margin (the part of the
rule that no vocabulary changes), and the result (``Classification.categories``,
``BatchRecord.categories``, the results store) carries them. :func:`choose` then applies the
threshold and the vocabulary's blocks. Summing only a top-k (:func:`roll_up`) gives a lower
bound: a dog whose 60 % spreads over 20 breeds has no confident category in its top 5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.inference.results import CategoryMasses
from resnet_desktop.core.keywords.confidence import MIN_MARGIN, MIN_TOP1
from resnet_desktop.core.keywords.taxonomy import Taxonomy, default_taxonomy


@dataclass(frozen=True)
class CategoryMatch:
    """The category a person sees, its summed probability, and the leaves that made it."""

    label: str
    probability: float
    path: tuple[str, ...]
    """Curated categories only, from the most general to this one."""
    leaves: tuple[Prediction, ...]

    def to_json(self) -> dict:
        return {"label": self.label, "probability": round(self.probability, 6),
                "path": list(self.path)}


@dataclass(frozen=True, eq=False)
class _Index:
    """The categories that hold some of a label list's classes, as matrices for a few matmuls."""

    names: tuple[str, ...]
    members: np.ndarray
    """(categories, classes) float64, 1 where the class is in the category."""
    related: np.ndarray
    """(categories, categories) bool, True where one holds all of the other's classes (itself
    included): those are never each other's rivals."""
    holds_all: np.ndarray
    """(categories,) bool: no class outside, so possibly no rival at all."""


@lru_cache(maxsize=4)
def _related(taxonomy: Taxonomy) -> tuple[tuple[str, ...], np.ndarray]:
    categories = list(taxonomy.categories.values())
    related = np.array([[a.classes <= b.classes or b.classes <= a.classes for b in categories]
                        for a in categories], dtype=bool)
    return tuple(c.name for c in categories), related


def _index(wnids: tuple[str | None, ...], taxonomy: Taxonomy) -> _Index:
    names, related = _related(taxonomy)
    row = {name: i for i, name in enumerate(names)}
    members = np.zeros((len(names), len(wnids)))
    for column, wnid in enumerate(wnids):
        for category in taxonomy.categories_of(wnid):
            members[row[category.name], column] = 1.0
    present = members.any(axis=1)
    return _Index(tuple(n for n, keep in zip(names, present, strict=True) if keep),
                  members[present], related[np.ix_(present, present)],
                  members[present].all(axis=1))


_model_index = lru_cache(maxsize=8)(_index)
"""A model's label list is the same for every image it classifies: its index is built once."""


def _ahead(probabilities: Sequence[float] | np.ndarray, index: _Index,
           margin: float) -> CategoryMasses:
    p = np.asarray(probabilities, dtype=np.float64)
    mass = index.members @ p
    # Only these can be ahead of every rival by the margin (rivals are never negative).
    rows = np.flatnonzero((mass >= margin) | index.holds_all)
    held = index.members[rows]
    # The best single class outside each category (-inf when it holds them all: no rival).
    outside = np.where(held > 0, -np.inf, p).max(axis=1, initial=-np.inf)
    # A category that is neither above nor below rivals with its classes outside this one:
    # its mass minus the shared part.
    shared = (held * p) @ index.members.T
    rival_mass = np.where(index.related[rows], -np.inf, mass[np.newaxis, :] - shared)
    rival = np.maximum(outside, rival_mass.max(axis=1, initial=-np.inf))
    ahead = [(index.names[r], float(mass[r]))
             for r in rows[mass[rows] - rival >= margin]]
    return tuple(sorted(ahead, key=lambda pair: -pair[1]))


def category_masses(probabilities: np.ndarray, wnids: Sequence[str | None],
                    taxonomy: Taxonomy | None = None, *,
                    margin: float = MIN_MARGIN) -> CategoryMasses:
    """The categories of one image that are ahead of every rival by ``margin``, with their
    summed probabilities, most probable first.

    ``probabilities`` is the model's whole vector and ``wnids`` its classes' WordNet ids, in
    the same order. Classes without an id (a custom model's) belong to no category, so such a
    model gives ``()``.
    """
    taxonomy = taxonomy if taxonomy is not None else default_taxonomy()
    return _ahead(probabilities, _model_index(tuple(wnids), taxonomy), margin)


def choose(masses: CategoryMasses, predictions: Sequence[Prediction], taxonomy: Taxonomy, *,
           threshold: float = MIN_TOP1, threshold_for: Callable[[str], float] | None = None,
           blocked: Callable[[str], bool] | None = None) -> CategoryMatch | None:
    """The most specific of ``masses`` (from :func:`category_masses`) that is not blocked and
    clears its threshold, with the ``predictions`` (the top-k shown) below it as its leaves.

    ``threshold_for(name)`` overrides the threshold per category and ``blocked(name)`` removes
    a category from the answers (both from a vocabulary).
    """
    best: tuple[tuple[int, float, int], str, float] | None = None
    for name, probability in masses:
        category = taxonomy.categories.get(name)
        if category is None or (blocked is not None and blocked(name)):
            continue
        needed = threshold_for(name) if threshold_for is not None else threshold
        if probability < needed:
            continue
        # Deepest, then most probable, then smallest (ball over sports equipment when only
        # balls are present).
        rank = (len(category.path), probability, -len(category.classes))
        if best is None or rank > best[0]:
            best = (rank, name, probability)
    if best is None:
        return None
    category = taxonomy.categories[best[1]]
    leaves = tuple(p for p in predictions if p.wnid in category.classes)
    return CategoryMatch(category.name, best[2], category.path, leaves)


def roll_up(predictions: Sequence[Prediction], taxonomy: Taxonomy, *,
            threshold: float = MIN_TOP1, margin: float = MIN_MARGIN,
            threshold_for: Callable[[str], float] | None = None,
            blocked: Callable[[str], bool] | None = None) -> CategoryMatch | None:
    """The most specific confident category summed over ``predictions`` alone, or None
    (custom labels, or nothing clears the rule).

    Only for a result that lacks its :func:`category_masses` (a results store row written
    before they were kept): over a top-k the sums are a lower bound, which misses a category
    spread over more classes than the top-k holds.
    """
    index = _index(tuple(p.wnid for p in predictions), taxonomy)
    masses = _ahead([p.probability for p in predictions], index, margin)
    return choose(masses, predictions, taxonomy, threshold=threshold,
                  threshold_for=threshold_for, blocked=blocked)

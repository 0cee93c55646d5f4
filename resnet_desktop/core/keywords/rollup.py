"""Roll leaf probabilities up into the curated categories: "cat 92 %" instead of a tie between
three cat breeds.

A category's probability is the sum of the probabilities of its classes among the predictions
given (the top-k the app keeps, so the sum is a lower bound of the full one). The answer is the
most specific category that passes the app's confidence rule
(:mod:`~resnet_desktop.core.keywords.confidence`), treating the category as one merged class: at
least the threshold, and ahead by the margin of every rival, where a rival is a class outside
the category, or another category that is neither above nor below it (counting only its classes
outside this one). Dog 40 % against cat 38 % is then no answer at that level, while "mammal"
78 % is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.keywords.confidence import MIN_MARGIN, MIN_TOP1
from resnet_desktop.core.keywords.taxonomy import Category, Taxonomy


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


def _mass(predictions: Sequence[Prediction], classes: frozenset[str],
          outside: frozenset[str] = frozenset()) -> float:
    return sum(p.probability for p in predictions
               if p.wnid in classes and p.wnid not in outside)


def roll_up(predictions: Sequence[Prediction], taxonomy: Taxonomy, *,
            threshold: float = MIN_TOP1, margin: float = MIN_MARGIN,
            threshold_for: Callable[[str], float] | None = None,
            blocked: Callable[[str], bool] | None = None) -> CategoryMatch | None:
    """The most specific confident category of ``predictions``, or None (custom labels, or
    nothing clears the rule).

    ``threshold_for(name)`` overrides the threshold per category and ``blocked(name)`` removes
    a category from the answers (both from a vocabulary).
    """
    seen: dict[str, Category] = {}
    for prediction in predictions:
        for category in taxonomy.categories_of(prediction.wnid):
            seen.setdefault(category.name, category)
    if not seen:
        return None
    masses = {name: _mass(predictions, c.classes) for name, c in seen.items()}
    best: tuple[tuple[int, float], Category] | None = None
    for name, category in seen.items():
        if blocked is not None and blocked(name):
            continue
        probability = masses[name]
        needed = threshold_for(name) if threshold_for is not None else threshold
        if probability < needed:
            continue
        rivals = [p.probability for p in predictions if p.wnid not in category.classes]
        rivals += [_mass(predictions, other.classes, category.classes)
                   for other in seen.values()
                   if not (other.classes <= category.classes or category.classes <= other.classes)]
        if rivals and probability - max(rivals) < margin:
            continue
        rank = (len(category.path), probability)
        if best is None or rank > best[0]:
            best = (rank, category)
    if best is None:
        return None
    category = best[1]
    leaves = tuple(p for p in predictions if p.wnid in category.classes)
    return CategoryMatch(category.name, masses[category.name], category.path, leaves)

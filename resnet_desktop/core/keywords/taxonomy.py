"""The curated categories over ImageNet's classes, from WordNet 3.0's hypernyms.

Two resources feed it: ``wordnet_hypernyms.json`` (every synset above the 1000 classes with its
direct hypernyms, derived by ``scripts/derive_wordnet_hypernyms.py``) and ``categories.json``
(the categories a person would use as keywords, each one or more synsets). A class belongs to a
category when one of the category's synsets is the class or one of its ancestors. A category's
parent is the smallest other category whose synsets lie above all of its own, so a parent
always holds every class of its child and a roll-up never gives a child more than its parent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from resnet_desktop.resources import resource_path


@dataclass(frozen=True)
class Category:
    """A curated category: its display name, synsets, and the class ids below it."""

    name: str
    synsets: tuple[str, ...]
    classes: frozenset[str]
    path: tuple[str, ...]
    """Category names from the most general down to this one (``animal, mammal, cat``)."""


class Taxonomy:
    """Which curated categories hold which WordNet ids (the ``nXXXXXXXX`` of each class)."""

    def __init__(self, hypernyms: dict[str, list[str]],
                 categories: list[tuple[str, tuple[str, ...]]]) -> None:
        self._ancestors: dict[str, frozenset[str]] = {}
        self._hypernyms = hypernyms
        members: dict[str, frozenset[str]] = {}
        for name, synsets in categories:
            wanted = set(synsets)
            members[name] = frozenset(w for w in hypernyms if wanted & self.ancestors(w))
        parents: dict[str, str | None] = {}
        for name, synsets in categories:
            above = [other for other, other_synsets in categories if other != name and all(
                self.ancestors(s) & set(other_synsets) for s in synsets)]
            # The smallest category above is the nearest; list order breaks ties.
            parents[name] = min(above, key=lambda o: len(members[o]), default=None)
        self.categories: dict[str, Category] = {}
        for name, synsets in categories:
            path = [name]
            while parents[path[0]] is not None:
                path.insert(0, parents[path[0]])
            self.categories[name] = Category(name, synsets, members[name], tuple(path))
        self._by_class: dict[str, tuple[Category, ...]] = {}

    def ancestors(self, wnid: str) -> frozenset[str]:
        """The synset and every hypernym above it; empty for an id not in the table."""
        if wnid not in self._ancestors:
            found = {wnid} if wnid in self._hypernyms else set()
            for parent in self._hypernyms.get(wnid, ()):
                found |= self.ancestors(parent)
            self._ancestors[wnid] = frozenset(found)
        return self._ancestors[wnid]

    def categories_of(self, wnid: str | None) -> tuple[Category, ...]:
        """The categories holding class ``wnid``, most specific first; none for a custom label."""
        if not wnid:
            return ()
        if wnid not in self._by_class:
            found = [c for c in self.categories.values() if wnid in c.classes]
            found.sort(key=lambda c: (-len(c.path), len(c.classes)))
            self._by_class[wnid] = tuple(found)
        return self._by_class[wnid]

    def path_of(self, wnid: str | None) -> tuple[str, ...]:
        """The category path of a class (``animal, mammal, cat`` for tiger cat), or ``()``."""
        found = self.categories_of(wnid)
        return found[0].path if found else ()


def _read_json(name: str) -> dict:
    path: Path = resource_path(name)
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    """The taxonomy from the shipped resources (read once)."""
    synsets = _read_json("wordnet_hypernyms.json")["synsets"]
    hypernyms = {wnid: list(entry["hypernyms"]) for wnid, entry in synsets.items()}
    categories = [(c["name"], tuple(c["synsets"]))
                  for c in _read_json("categories.json")["categories"]]
    return Taxonomy(hypernyms, categories)


@lru_cache(maxsize=1)
def synset_names() -> dict[str, str]:
    """WordNet's first lemma of every synset in the table (``n02121620`` -> ``cat``)."""
    synsets = _read_json("wordnet_hypernyms.json")["synsets"]
    return {wnid: entry["name"] for wnid, entry in synsets.items()}

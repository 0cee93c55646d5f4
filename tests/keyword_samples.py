"""Predictions of named ImageNet classes and the vocabulary from the issue, for keyword tests."""

from __future__ import annotations

from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.models.labels import imagenet_labels

ISSUE_VOCABULARY = {"rename": {"tiger cat": "cat", "Egyptian cat": "cat"},
                    "block": ["window screen", "maillot"],
                    "min_probability": {"espresso": 0.5},
                    "levels": ["category", "label"]}


def imagenet_prediction(name: str) -> Prediction:
    """A prediction for the ImageNet class called ``name``."""
    for index, label in enumerate(imagenet_labels()):
        if label.name == name:
            return Prediction(index, label.name, 0.0, label.wnid)
    raise KeyError(name)


def predictions(*pairs: tuple[str, float]) -> tuple[Prediction, ...]:
    """Predictions of the ImageNet classes named in ``(name, probability)`` pairs."""
    found = []
    for name, probability in pairs:
        known = imagenet_prediction(name)
        found.append(Prediction(known.index, name, probability, known.wnid))
    return tuple(found)

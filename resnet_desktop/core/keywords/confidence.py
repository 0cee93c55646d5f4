"""When a probability is an answer rather than a guess (the rule the window and the CLI share)."""

from __future__ import annotations

from collections.abc import Sequence

MIN_TOP1 = 0.30
"""Below this, the top-1 is a guess, not an answer."""
MIN_MARGIN = 0.05
"""Top-1 and top-2 closer than this are a tie: the model cannot tell them apart."""


def is_confident(probabilities: Sequence[float], min_top1: float = MIN_TOP1,
                 min_margin: float = MIN_MARGIN) -> bool:
    """True when the best probability is high enough and clearly ahead of the second."""
    if not probabilities:
        return False
    ordered = sorted(probabilities, reverse=True)
    if ordered[0] < min_top1:
        return False
    return len(ordered) < 2 or ordered[0] - ordered[1] >= min_margin

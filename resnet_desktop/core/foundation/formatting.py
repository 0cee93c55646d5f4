"""Sizes and counts as short texts, for the CLI and the GUI alike."""

from __future__ import annotations


def format_bytes(count: float | None) -> str:
    """``46.8 MB``: decimal units, like file managers and download pages; None is unknown."""
    if count is None:
        return "unknown"
    count = max(0.0, float(count))
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 image``, ``3 images`` (``nouns`` for an irregular plural), with thousands separated."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def format_count(value: int | None, unit: str = "") -> str:
    """``25557032`` -> ``"25.56 M"``: three significant figures at least, SI prefixes."""
    if value is None:
        return "unknown"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value} {unit}".rstrip()

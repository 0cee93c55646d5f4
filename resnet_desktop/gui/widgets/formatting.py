"""Short human-readable texts for sizes, rates, durations and probabilities (no Qt).

Sizes are the core's :func:`~resnet_desktop.core.foundation.formatting.format_bytes`, so the CLI
and the window say the same.
"""

from __future__ import annotations

import math

from resnet_desktop.core.foundation.formatting import format_bytes


def format_rate(bytes_per_second: float) -> str:
    return f"{format_bytes(bytes_per_second)}/s"


def format_duration(seconds: float) -> str:
    """``<1 s``, ``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 0.5:
        return "<1 s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def time_left(done: int, total: int, rate: float) -> float | None:
    """Seconds until ``total`` at ``rate``, or None when it cannot be told yet."""
    if total <= 0 or rate <= 0 or done > total:
        return None
    return (total - done) / rate


def download_text(name: str, done: int, total: int, rate: float) -> str:
    """``ResNet-50 v2: 12.3 MB of 102.4 MB · 4.1 MB/s · 21 s left``."""
    parts = [f"{name}: {format_bytes(done)}" + (f" of {format_bytes(total)}" if total else "")]
    if rate > 0:
        parts.append(format_rate(rate))
    left = time_left(done, total, rate)
    if left is not None:
        parts.append(f"{format_duration(left)} left")
    return " · ".join(parts)


def format_percent(probability: float) -> str:
    """``96.1%``; tiny values keep one significant digit instead of reading ``0.0%``."""
    percent = probability * 100
    if percent >= 99.95:
        return "100%"
    if percent >= 0.05 or percent == 0:
        return f"{percent:.1f}%"
    return "<0.1%"

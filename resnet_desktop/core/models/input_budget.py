"""The memory one run of a model's declared input needs, and the budget it must fit in.

A graph can declare any input shape; ``[1, 3, 30000, 30000]`` float32 asks for 10 GiB for the
input tensor alone, on every worker, before the first layer allocates anything. Such a model is
refused at import and at load, with the numbers, instead of being run until memory runs out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_INPUT_BYTES = 512 * 1024**2
"""The most one run's input tensor may take (each worker runs its own)."""

_GIB = 1024**3


def _fixed(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def input_bytes(shape: Sequence[object], itemsize: int, input_size: int, layout: str) -> int:
    """Bytes of one run's input: a symbolic batch counts as 1, symbolic sides as ``input_size``."""
    spatial = (2, 3) if layout == "NCHW" else (1, 2)
    dims = [_fixed(d) or (input_size if axis in spatial else 1 if axis == 0 else 3)
            for axis, d in enumerate(shape)]
    return math.prod(dims) * itemsize


def _gib(n: int) -> str:
    return f"{n / _GIB:.1f} GiB" if n >= _GIB else f"{n / 1024**2:.0f} MiB"


def input_budget_problem(shape: Sequence[object], itemsize: int, input_size: int, layout: str,
                         budget: int = MAX_INPUT_BYTES) -> str | None:
    """Why the input is too large for the budget (a sentence with the numbers), or None."""
    need = input_bytes(shape, itemsize, input_size, layout)
    if need <= budget:
        return None
    shown = ", ".join(str(_fixed(d) or d) for d in shape)
    return (f"its input [{shown}] needs {_gib(need)} of memory for each run on each worker, "
            f"more than the {_gib(budget)} the app allows; export the model with a smaller "
            "input size or batch")

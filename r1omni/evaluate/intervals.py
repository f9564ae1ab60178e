"""How the width of a WAR interval depends on the number of clips (notebook 04's exercise 2).

The 95 % bootstrap interval of WAR (:func:`r1omni.evaluate.metrics.bootstrap_ci`) narrows like
``1 / sqrt(n)``: eight times the clips give an interval about sqrt(8) = 2.83 times narrower.
Subsets are drawn as evaluation draws them (:func:`r1omni.evaluate.decode.select_examples`), so
asking for more clips than a split holds raises.
"""

from __future__ import annotations

from collections.abc import Sequence

from r1omni.evaluate.decode import select_examples
from r1omni.evaluate.metrics import bootstrap_ci


def war_interval_widths(
    records: Sequence[dict], sizes: Sequence[int], *, n_boot: int = 1000, seed: int = 0
) -> dict[int, float]:
    """Width of the 95 % bootstrap WAR interval on a seeded subset of ``size`` of the prediction
    ``records`` (``label`` and ``answer``), for each size; a size above ``len(records)`` raises
    (:func:`~r1omni.evaluate.decode.select_examples`). The width shrinks like ``1 / sqrt(size)``."""
    out = {}
    for size in sizes:
        subset = select_examples(records, int(size), seed)
        lo, hi = bootstrap_ci([r["label"] for r in subset], [r["answer"] for r in subset], n_boot=n_boot, seed=seed)
        out[int(size)] = hi - lo
    return out


def interval_width_reading(records: Sequence[dict], *, n_boot: int = 1000, seed: int = 0) -> str:
    """One sentence comparing the WAR interval width on 1/8 of ``records`` with that on all of them,
    against the ``1 / sqrt(n)`` law (:func:`war_interval_widths`)."""
    n = len(records)
    widths = war_interval_widths(records, [max(2, n // 8), n], n_boot=n_boot, seed=seed)
    (small, w_small), (full, w_full) = widths.items()
    text = (
        f"WAR interval width on {small} clips {100 * w_small:.1f} points, on all {full} {100 * w_full:.1f}"
        f" ({full / small:.1f}x the clips; 1/sqrt(n) predicts {(full / small) ** 0.5:.2f}x narrower"
    )
    if w_full > 0:
        return text + f", measured {w_small / w_full:.2f}x)."
    return text + "; every answer here is equally right or wrong, so there is no spread to measure)."

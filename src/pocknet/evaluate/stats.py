"""Uncertainty of success rates and paired comparison of two methods.

* :func:`wilson_interval`: the Wilson score interval of a binomial proportion, which stays
  inside [0, 1] and behaves at 0 and n successes, unlike the normal (Wald) interval.
* :func:`mcnemar`: the exact McNemar test of two methods scored on the **same** items (the
  same ligands, or the same proteins): only discordant pairs carry information; under "no
  difference" each is equally likely to favour either method, so the count favouring the
  first is Binomial(b + c, 1/2) (two-sided exact binomial test).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import binomtest, norm

__all__ = ["ALPHA", "mcnemar", "wilson_interval"]

ALPHA = 0.05  # 95 % intervals; "win" needs p < ALPHA


def wilson_interval(successes: int, n: int, confidence: float = 1 - ALPHA) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` of ``successes / n``; ``(nan, nan)`` when ``n == 0``."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: no rounding past k / n
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mcnemar(first: np.ndarray, second: np.ndarray, names: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
    """Exact McNemar test on paired booleans (per ligand or per protein success of two methods).

    Returns ``n`` (pairs), ``both``, ``neither``, ``only_first`` (b) and ``only_second`` (c),
    ``p_value`` (two-sided exact binomial on b of b + c; 1.0 without discordant pairs) and
    ``verdict``: ``"<name> wins"`` when p < 0.05, else ``"tie"``.
    """
    a = np.asarray(first, dtype=bool)
    b = np.asarray(second, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired outcomes must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    only_first = int(np.count_nonzero(a & ~b))
    only_second = int(np.count_nonzero(~a & b))
    discordant = only_first + only_second
    p_value = float(binomtest(only_first, discordant, 0.5).pvalue) if discordant else 1.0
    if p_value < ALPHA:
        verdict = f"{names[0] if only_first > only_second else names[1]} wins"
    else:
        verdict = "tie"
    return {
        "n": int(a.size),
        "both": int(np.count_nonzero(a & b)),
        "neither": int(np.count_nonzero(~a & ~b)),
        "only_first": only_first,
        "only_second": only_second,
        "p_value": p_value,
        "verdict": verdict,
    }

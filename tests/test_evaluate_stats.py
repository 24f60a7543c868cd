"""Wilson intervals and the exact McNemar test behind `pocknet evaluate --compare`."""

import math

import numpy as np
import pytest

from pocknet.evaluate.stats import mcnemar, wilson_interval


@pytest.mark.parametrize("k, n, low, high", [
    (0, 10, 0.0, 0.2775),      # closed-form values (z = 1.96)
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (369, 515, 0.6761, 0.7537),
])  # fmt: skip
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_edge_cases():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_mcnemar_counts_discordant_pairs_only():
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    b = np.array([1, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    result = mcnemar(a, b, ("mine", "theirs"))
    assert (result["both"], result["only_first"], result["only_second"], result["neither"]) == (2, 3, 1, 2)
    assert result["n"] == 8
    assert result["p_value"] == pytest.approx(0.625)  # 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
    assert result["verdict"] == "tie"


def test_mcnemar_decides_a_win_and_a_tie():
    first = np.array([True] * 12 + [False] * 3 + [True] * 20)
    second = np.array([False] * 12 + [False] * 3 + [True] * 20)
    win = mcnemar(first, second, ("A", "B"))
    assert win["p_value"] == pytest.approx(2 * 0.5**12) and win["verdict"] == "A wins"
    assert mcnemar(second, first, ("A", "B"))["verdict"] == "B wins"
    same = mcnemar(first, first)
    assert same["p_value"] == 1.0 and same["verdict"] == "tie"
    balanced = mcnemar(np.array([1, 0] * 29, bool), np.array([0, 1] * 29, bool))
    assert balanced["p_value"] == pytest.approx(1.0) and balanced["verdict"] == "tie"  # 29 vs 29: COACH420 DCA top-n
    with pytest.raises(ValueError):
        mcnemar(np.ones(3, bool), np.ones(4, bool))

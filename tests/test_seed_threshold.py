"""The pocket seed threshold: its settings, the choice among candidates, and the predictor using it."""

from __future__ import annotations

import pandas as pd
import pytest

from pocknet.errors import ConfigError
from pocknet.predict.pockets import PocketConfig
from pocknet.predict.seed_threshold import SEED_TABLE_COLUMNS, candidate_thresholds, choose_seed_threshold


def _table(rows):
    return pd.DataFrame([dict(zip(SEED_TABLE_COLUMNS, row)) for row in rows], columns=list(SEED_TABLE_COLUMNS))


def test_candidates_are_sorted_distinct_and_hold_the_point_threshold():
    assert candidate_thresholds([0.9, 0.5, 0.9], 0.972).tolist() == [0.5, 0.9, 0.972]
    assert candidate_thresholds([0.5, 0.9], 0.9).tolist() == [0.5, 0.9]


def test_the_best_top_n_wins_then_top_n2_then_success_then_the_higher_threshold():
    assert choose_seed_threshold(_table([(0.5, 0.70, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.78, 0.6, 3, 10, 20)])) == 0.9
    assert choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.78, 0.9, 3, 10, 20)])) == 0.5
    assert choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.6, 5, 10, 20), (0.9, 0.75, 0.80, 0.7, 3, 10, 20)])) == 0.9
    assert choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.80, 0.7, 3, 10, 20),
                                         (0.7, 0.75, 0.80, 0.7, 4, 10, 20)])) == 0.9  # fmt: skip


def test_no_evaluable_validation_protein_is_an_error():
    with pytest.raises(ValueError, match="no validation protein"):
        choose_seed_threshold(_table([(0.5, float("nan"), float("nan"), float("nan"), 0.0, 0, 0)]))


def test_seed_settings_are_checked_and_resolved():
    assert PocketConfig(seed_threshold="point").seed_for(0.97) == 0.97
    assert PocketConfig(seed_threshold="validation").seed_for(0.97) == 0.97  # an old model file: no number
    assert PocketConfig(seed_threshold=0.9).seed_for(0.97) == 0.9
    assert PocketConfig(seed_threshold_candidates=[0.5, 1]).seed_threshold_candidates == (0.5, 1.0)
    for bad in ({"seed_threshold": "best"}, {"seed_threshold": 1.5}, {"seed_threshold": True},
                {"seed_threshold_candidates": []}, {"seed_threshold_candidates": [0.5, float("nan")]},
                {"seed_threshold_candidates": "0.5"}):  # fmt: skip
        with pytest.raises(ConfigError, match="pockets.seed_threshold"):
            PocketConfig(**bad)

"""The pocket seed threshold: its settings, the choice among candidates, and the predictor using it."""

from __future__ import annotations

import pandas as pd
import pytest

from pocknet.errors import ConfigError
from pocknet.predict.pockets import PocketConfig
from pocknet.errors import DatasetError
from pocknet.predict.seed_threshold import (
    SEED_TABLE_COLUMNS,
    candidate_thresholds,
    choose_seed_thresholds,
    seed_threshold_pairs,
)

NONE = float("nan")  # second_threshold of a one-level row


def _table(rows):
    """Rows without a second threshold are one-level rows."""
    rows = [row if len(row) == len(SEED_TABLE_COLUMNS) else (row[0], NONE, *row[1:]) for row in rows]
    return pd.DataFrame(
        [dict(zip(SEED_TABLE_COLUMNS, row)) for row in rows], columns=list(SEED_TABLE_COLUMNS)
    )


def choose_seed_threshold(table):
    seed, second = choose_seed_thresholds(table)
    assert second is None
    return seed


def test_candidates_are_sorted_distinct_and_hold_the_point_threshold():
    assert candidate_thresholds([0.9, 0.5, 0.9], 0.972).tolist() == [0.5, 0.9, 0.972]
    assert candidate_thresholds([0.5, 0.9], 0.9).tolist() == [0.5, 0.9]


def test_the_best_top_n_wins_then_top_n2_then_success_then_the_higher_threshold():
    assert (
        choose_seed_threshold(_table([(0.5, 0.70, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.78, 0.6, 3, 10, 20)]))
        == 0.9
    )
    assert (
        choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.78, 0.9, 3, 10, 20)]))
        == 0.5
    )
    assert (
        choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.6, 5, 10, 20), (0.9, 0.75, 0.80, 0.7, 3, 10, 20)]))
        == 0.9
    )
    assert choose_seed_threshold(_table([(0.5, 0.75, 0.80, 0.7, 5, 10, 20), (0.9, 0.75, 0.80, 0.7, 3, 10, 20),
                                         (0.7, 0.75, 0.80, 0.7, 4, 10, 20)])) == 0.9  # fmt: skip


def test_no_evaluable_validation_protein_is_an_error():
    with pytest.raises(DatasetError, match="no validation protein"):
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


def test_pairs_are_distinct_and_a_second_threshold_at_or_above_the_seed_is_one_level():
    assert seed_threshold_pairs([0.9, 0.98], [None, 0.7, 0.9, 0.95]) == [
        (0.9, None), (0.9, 0.7), (0.98, None), (0.98, 0.7), (0.98, 0.9), (0.98, 0.95),
    ]  # fmt: skip
    assert seed_threshold_pairs([0.9], [0.95]) == [(0.9, None)]


def test_a_second_level_wins_only_by_the_criteria_and_none_wins_ties():
    one = (0.98, NONE, 0.60, 0.70, 0.8, 3, 10, 20)
    two = (0.98, 0.7, 0.65, 0.72, 0.8, 5, 10, 20)
    assert choose_seed_thresholds(_table([one, two])) == (0.98, 0.7)
    tied = (0.98, 0.9, 0.60, 0.70, 0.8, 4, 10, 20)
    assert choose_seed_thresholds(_table([tied, one])) == (0.98, None)  # equal: one level
    higher = (0.98, 0.9, 0.65, 0.72, 0.8, 4, 10, 20)
    assert choose_seed_thresholds(_table([two, higher])) == (0.98, 0.9)  # equal: the higher second threshold
    lower_seed = (0.9, 0.5, 0.66, 0.60, 0.5, 6, 10, 20)
    assert choose_seed_thresholds(_table([two, lower_seed])) == (0.9, 0.5)  # top-n first, whatever the seed


def test_second_seed_settings_are_checked_and_resolved():
    assert PocketConfig(second_seed_threshold="none").second_seed_for(0.98) is None
    assert (
        PocketConfig(second_seed_threshold="validation").second_seed_for(0.98) is None
    )  # unresolved: one level
    assert PocketConfig(second_seed_threshold=0.7).second_seed_for(0.98) == 0.7
    assert PocketConfig(second_seed_threshold=0.7).second_seed_for(0.7) is None  # only below the seed
    assert PocketConfig.from_params({"second_seed_threshold": 1}).second_seed_threshold == 1.0
    for bad in ({"second_seed_threshold": "auto"}, {"second_seed_threshold": -0.1}, {"second_seed_threshold": None},
                {"second_seed_threshold_candidates": []}, {"second_seed_threshold_candidates": [2]}):  # fmt: skip
        with pytest.raises(ConfigError, match="pockets.second_seed_threshold"):
            PocketConfig(**bad)

"""The certainty of the prioritised list (sinfonia.certainty) pinned at the boundaries of its rules.

Each test varies one factor of the Monte Carlo and sits on the value where a rule changes its
answer: the uncertain band's ends, the goal's last place, one weight factor per indicator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sinfonia.certainty import INDICATORS, UNCERTAIN, Settings, normalise, selected, simulate

ONLY_WEIGHTS = {"weight_spread": 0.25, "normalisations": ("percentile",), "previous_vintage_share": 0.0}
TWO = {"mdm": 1.0, "idf": 1.0, "imrc": 0.0, "ipm": 0.0}


def crossing_leaders() -> pd.DataFrame:
    """00001 leads on MDM, 00002 on IDF, 00003 is in the middle of both: with equal weights the
    three tie at 50, and only the ratio of the MDM and IDF weights decides who comes first."""
    rows = [("00001", "D1", 100.0, 0.0), ("00002", "D1", 0.0, 100.0), ("00003", "D1", 50.0, 50.0)]
    frame = pd.DataFrame(rows, columns=["municipality_id", "directorate_id", "mdm_need", "idf_need"])
    for i in ("imrc", "ipm"):
        frame[f"{i}_need"] = np.nan
    for i in INDICATORS:
        frame[f"{i}_need_previous"] = np.nan
    return frame


def test_weight_perturbation_alone_swaps_leaders_of_different_indicators():
    """Normalisation fixed and no vintage change: each draw multiplies each weight by its own
    factor, so the leader on MDM and the leader on IDF swap places in some draws (one factor for
    every weight would change nothing: the scores are weighted means)."""
    out = simulate(crossing_leaders(), TWO, {"D1": 1}, Settings(draws=200, seed=7, **ONLY_WEIGHTS))
    out = out.set_index("municipality_id")
    assert out.loc["00001", "published_rank"] == 1  # the tie goes to the lower code
    for leader in ("00001", "00002"):
        assert out.loc[leader, "rank_p05"] == 1 and out.loc[leader, "rank_p95"] == 3
        assert 0.3 < out.loc[leader, "selection_probability"] < 0.7
    assert out.loc["00003", "rank_p05"] == out.loc["00003", "rank_p95"] == 2
    still = simulate(crossing_leaders(), TWO, {"D1": 1}, Settings(draws=50, seed=7, **{**ONLY_WEIGHTS, "weight_spread": 0.0}))
    assert (still.rank_p05 == still.rank_p95).all() and set(still.selection_probability) == {0.0, 1.0}


def test_the_uncertain_band_is_from_0_2_to_0_8():
    assert UNCERTAIN == (0.2, 0.8)


def _probabilities(draws: int, wanted: set[float], seeds: int = 400) -> dict[float, pd.DataFrame]:
    """Results of runs whose selection probabilities include each wanted value (found by seed)."""
    found: dict[float, pd.DataFrame] = {}
    for seed in range(seeds):
        out = simulate(crossing_leaders(), TWO, {"D1": 1}, Settings(draws=draws, seed=seed, **ONLY_WEIGHTS))
        for value in wanted - found.keys():
            if (out.selection_probability == value).any():
                found[value] = out
        if found.keys() == wanted:
            return found
    raise AssertionError(f"no seed below {seeds} gives the probabilities {sorted(wanted - found.keys())}")


def test_a_selection_probability_of_exactly_0_2_or_0_8_is_uncertain():
    for value, out in _probabilities(5, {0.2, 0.8}).items():
        row = out[out.selection_probability == value]
        assert row.is_uncertain.all(), f"probability {value} not flagged"


def test_a_selection_probability_just_outside_the_band_is_not_uncertain():
    for value, out in _probabilities(6, {1 / 6, 5 / 6, 0.0}).items():
        row = out[out.selection_probability == value]
        assert not row.is_uncertain.any(), f"probability {value} flagged"


def test_selection_takes_exactly_the_goal_within_each_directorate():
    rank = np.array([1, 2, 3, 4, 5])
    directorates = np.array(["D1", "D2", "D1", "D1", "D2"])
    goals = np.array([2, 1, 2, 2, 1])
    assert selected(rank, directorates, goals).tolist() == [True, True, True, False, False]
    assert selected(rank, directorates, np.zeros(5, dtype=int)).tolist() == [False] * 5


def test_normalisations_of_constant_values_are_zero_and_missing_stay_missing():
    values = np.array([7.0, 7.0, np.nan])
    for method in ("percentile", "minmax", "zscore"):
        out = normalise(values, method)
        assert out[:2].tolist() == [0.0, 0.0] and np.isnan(out[2]), method
    assert normalise(np.array([1.0, 3.0, 5.0]), "minmax").tolist() == [0.0, 50.0, 100.0]
    assert normalise(np.array([1.0, 3.0, 5.0]), "zscore") == pytest.approx([-1.2247449, 0.0, 1.2247449])


def test_settings_accept_their_boundary_values_and_refuse_just_beyond():
    Settings(draws=1, weight_spread=0.0, previous_vintage_share=0.0)
    Settings(previous_vintage_share=1.0, weight_spread=0.99)
    for bad in ({"draws": 0}, {"weight_spread": 1.0}, {"weight_spread": -0.01}, {"previous_vintage_share": 1.01},
                {"previous_vintage_share": -0.01}, {"normalisations": ()}):
        with pytest.raises(ValueError):
            Settings(**bad)


def test_a_zero_weight_stays_zero_under_perturbation():
    """A municipality that leads only on an indicator weighted 0 never gains from it."""
    frame = crossing_leaders()
    frame["imrc_need"] = [0.0, 0.0, 100.0]
    out = simulate(frame, TWO, {"D1": 1}, Settings(draws=100, seed=1, **ONLY_WEIGHTS)).set_index("municipality_id")
    assert out.loc["00003", "rank_p05"] == out.loc["00003", "rank_p95"] == 2


def test_a_weight_not_configured_counts_as_zero():
    frame = crossing_leaders()
    frame["imrc_need"] = [0.0, 0.0, 100.0]
    out = simulate(frame, {"mdm": 1.0, "idf": 1.0}, {"D1": 1}, Settings(draws=100, seed=1, **ONLY_WEIGHTS))
    assert out.set_index("municipality_id").loc["00003", "rank_p05"] == 2


@pytest.mark.parametrize("goals", [{}, {"D1": 0}, {"D1": None}])
def test_a_directorate_without_a_goal_selects_nobody(goals):
    out = simulate(crossing_leaders(), TWO, goals, Settings.unperturbed(draws=3))
    assert not out.is_selected.any() and (out.selection_probability == 0).all()


def test_missing_input_columns_are_named():
    with pytest.raises(ValueError, match=r"^certainty inputs lack the columns ipm_need, ipm_need_previous$"):
        simulate(crossing_leaders().drop(columns=["ipm_need", "ipm_need_previous"]), TWO, {}, Settings.unperturbed())


def test_an_indicator_only_one_municipality_has_is_at_percentile_0_and_one_none_has_stays_missing():
    from sinfonia.certainty import _percent_rank

    out = _percent_rank(np.array([np.nan, 7.0, np.nan]))
    assert np.isnan(out[0]) and out[1] == 0.0 and np.isnan(out[2])
    assert np.isnan(_percent_rank(np.array([np.nan, np.nan]))).all()


@pytest.mark.parametrize("method", ["percentile", "minmax", "zscore"])
def test_an_indicator_no_municipality_has_stays_missing_under_every_normalisation(method):
    out = normalise(np.array([np.nan, np.nan, np.nan]), method)
    assert out.shape == (3,) and np.isnan(out).all()


@pytest.mark.parametrize("weight", [0.5, 1.0])
def test_a_municipality_whose_only_indicator_weighs_1_or_less_is_scored(weight):
    from sinfonia.certainty import scores

    needs = np.array([[10.0, np.nan], [20.0, np.nan], [30.0, 5.0]])
    out = scores(needs, np.array([weight, 0.0]), "percentile")
    assert out.tolist() == [0.0, 50.0, 100.0]  # the second indicator weighs 0: the first alone counts


def test_the_settings_and_normalisation_errors_say_what_was_expected():
    import re

    cases = [
        (lambda: Settings(draws=0), "draws must be at least 1, got 0"),
        (lambda: Settings(weight_spread=1.0), "weight_spread must be in [0, 1), got 1.0"),
        (lambda: Settings(normalisations=("rank",)),
         "normalisations must be among percentile, minmax, zscore; got ('rank',)"),
        (lambda: Settings(normalisations=()), "normalisations must be among percentile, minmax, zscore; got ()"),
        (lambda: Settings(previous_vintage_share=1.5), "previous_vintage_share must be in [0, 1], got 1.5"),
        (lambda: normalise(np.array([1.0, 2.0]), "rank"),
         "unknown normalisation 'rank'; expected one of percentile, minmax, zscore"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            make()


def test_each_draw_multiplies_the_configured_weights_by_its_factors():
    """One draw, weights perturbed only: 00001 leads on MDM alone, 00002 on IDF alone, so the one
    whose indicator's weight was multiplied by the larger factor comes first (divided, the other)."""
    settings = Settings(draws=1, seed=3, **ONLY_WEIGHTS)
    factors = np.random.default_rng(3).uniform(0.75, 1.25, len(INDICATORS))  # the draw's first numbers
    first = "00001" if factors[0] > factors[1] else "00002"
    out = simulate(crossing_leaders().iloc[:2], TWO, {"D1": 1}, settings).set_index("municipality_id")
    assert out.rank_median[first] == 1
    assert out.is_selected.to_dict() == {"00001": True, "00002": False}  # published: a tie, code order

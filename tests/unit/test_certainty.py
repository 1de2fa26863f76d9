"""The Monte Carlo certainty of the prioritised list (sinfonia.certainty), on hand-built lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sinfonia import certainty
from sinfonia.certainty import INDICATORS, Settings, simulate

EQUAL = {i: 1.0 for i in INDICATORS}


def municipalities(rows: list[tuple[str, str, float, float, float, float]], previous=None) -> pd.DataFrame:
    """(id, directorate, mdm_need, idf_need, imrc_need, ipm_need) rows; previous vintages optional."""
    frame = pd.DataFrame(rows, columns=["municipality_id", "directorate_id", *(f"{i}_need" for i in INDICATORS)])
    for i in INDICATORS:
        frame[f"{i}_need_previous"] = np.nan if previous is None else previous[i]
    return frame


def spread_list(n: int = 40, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"{10000 + k:05d}", "D1" if k % 2 else "D2", *rng.uniform(0, 100, 4)) for k in range(n)]
    frame = municipalities(rows)
    for i in INDICATORS:
        frame[f"{i}_need_previous"] = frame[f"{i}_need"] + rng.normal(0, 15, n)
    return frame


def test_percent_rank_matches_sql_ties_share_the_lowest_rank_and_missing_stay_missing():
    out = certainty.normalise(np.array([10.0, 20.0, 20.0, np.nan, 40.0]), "percentile")
    assert out[:3].tolist() == [0.0, 100 / 3, 100 / 3]
    assert np.isnan(out[3]) and out[4] == 100.0


def test_published_rank_follows_the_design_score_then_code_order():
    # equal weights, percentiles among the four: 00001 scores 0, 00002 33.3, 00003 and 00004 tie at 66.7
    frame = municipalities([
        ("00001", "D1", 1, 1, 1, 1), ("00002", "D1", 2, 2, 2, 2), ("00004", "D2", 3, 3, 3, 3),
        ("00003", "D2", 3, 3, 3, 3),
    ])
    out = simulate(frame, EQUAL, {"D1": 1, "D2": 1}, Settings.unperturbed()).set_index("municipality_id")
    # C and D tie at the top: the lower code ranks first
    assert out.published_rank.to_dict() == {"00003": 1, "00004": 2, "00002": 3, "00001": 4}
    assert out.is_selected.to_dict() == {"00001": False, "00002": True, "00003": True, "00004": False}


def test_a_municipality_missing_an_indicator_is_scored_on_the_ones_it_has():
    frame = municipalities([("00001", "D1", 10, np.nan, np.nan, np.nan), ("00002", "D1", 20, 90, 90, 90),
                            ("00003", "D1", 30, 10, 10, 10)])
    out = simulate(frame, EQUAL, {"D1": 1}, Settings.unperturbed()).set_index("municipality_id")
    # 00001: mdm percentile 0 alone → 0; 00002: (50+100+100+100)/4; 00003: (100+0+0+0)/4 = 25
    assert out.published_rank.to_dict() == {"00002": 1, "00003": 2, "00001": 3}


def test_with_no_perturbation_the_interval_collapses_to_the_published_rank():
    frame = spread_list()
    out = simulate(frame, EQUAL, {"D1": 5, "D2": 4}, Settings.unperturbed(draws=25))
    assert (out.rank_p05 == out.published_rank).all()
    assert (out.rank_p95 == out.published_rank).all()
    assert (out.rank_median == out.published_rank).all()
    assert set(out.selection_probability) <= {0.0, 1.0}
    assert (out.selection_probability == out.is_selected.astype(float)).all()
    assert not out.is_uncertain.any()
    assert out.is_selected.sum() == 9


def test_perturbation_spreads_ranks_near_the_cut_off_and_not_at_the_extremes():
    frame = spread_list()
    # one municipality far above everyone, one far below
    top = frame.index[0]
    bottom = frame.index[1]
    for i in INDICATORS:
        frame.loc[top, [f"{i}_need", f"{i}_need_previous"]] = 1000.0
        frame.loc[bottom, [f"{i}_need", f"{i}_need_previous"]] = -1000.0
    out = simulate(frame, EQUAL, {"D1": 5, "D2": 4}, Settings(draws=300, seed=11)).set_index("municipality_id")
    top_id, bottom_id = frame.municipality_id[top], frame.municipality_id[bottom]
    assert out.loc[top_id, "selection_probability"] == 1.0 and out.loc[top_id, "rank_p95"] == 1
    assert out.loc[bottom_id, "selection_probability"] == 0.0
    assert out.loc[bottom_id, "rank_p05"] == len(frame)
    assert (out.rank_p95 - out.rank_p05).max() > 0
    assert out.is_uncertain.any(), "some selection near the cut-off should depend on the choices"
    assert ((out.selection_probability >= 0.2) & (out.selection_probability <= 0.8)).eq(out.is_uncertain).all()


def test_the_same_seed_gives_the_same_result_and_the_settings_are_recorded():
    frame = spread_list()
    a = simulate(frame, EQUAL, {"D1": 5, "D2": 4}, Settings(draws=50, seed=5))
    b = simulate(frame, EQUAL, {"D1": 5, "D2": 4}, Settings(draws=50, seed=5))
    pd.testing.assert_frame_equal(a, b)
    assert (a.draws == 50).all() and (a.seed == 5).all()
    assert Settings(draws=50, seed=5).record()["normalisations"] == ["percentile", "minmax", "zscore"]


def test_previous_vintage_is_used_only_where_it_exists():
    # previous vintage reverses the order for 00001/00002; 00003 has none and keeps its latest value
    frame = municipalities([("00001", "D1", 10, 10, 10, 10), ("00002", "D1", 20, 20, 20, 20),
                            ("00003", "D1", 30, 30, 30, 30)])
    for i in INDICATORS:
        frame[f"{i}_need_previous"] = [25.0, 5.0, np.nan]
    only_previous = Settings(draws=5, seed=1, weight_spread=0.0, normalisations=("percentile",),
                             previous_vintage_share=1.0)
    out = simulate(frame, EQUAL, {"D1": 1}, only_previous).set_index("municipality_id")
    assert out.published_rank.to_dict() == {"00003": 1, "00002": 2, "00001": 3}
    assert out.rank_median.to_dict() == {"00003": 1, "00001": 2, "00002": 3}


def test_each_index_draws_its_vintage_on_its_own_coin():
    """The vintage rule of the README: in each draw, each index independently uses its previous year
    with probability previous_vintage_share. 00002 leads on mdm and idf (the only weighted indices);
    its previous vintage of either one makes it tie with 00001, which then wins on code order. So it
    keeps the single place when neither index is drawn previous: 0.75² = 0.5625 under this rule,
    0.75 if a quarter of the draws switched every index at once."""
    frame = municipalities([("00001", "D1", 50, 50, 50, 50), ("00002", "D1", 60, 60, 60, 60)])
    for i in INDICATORS:
        frame[f"{i}_need_previous"] = [np.nan, 0.0]
    settings = Settings(draws=4000, seed=11, weight_spread=0.0, normalisations=("percentile",),
                        previous_vintage_share=0.25)
    weights = {"mdm": 1.0, "idf": 1.0, "imrc": 0.0, "ipm": 0.0}
    out = simulate(frame, weights, {"D1": 1}, settings).set_index("municipality_id")
    assert out.loc["00002", "selection_probability"] == pytest.approx(0.75 ** 2, abs=0.025)
    assert out.loc["00001", "selection_probability"] == pytest.approx(1 - 0.75 ** 2, abs=0.025)


@pytest.mark.parametrize("weights", [{"mdm": -1, "idf": 1, "imrc": 1, "ipm": 1}, {i: 0 for i in INDICATORS}])
def test_weights_that_cannot_rank_are_refused(weights):
    with pytest.raises(ValueError, match="weights"):
        simulate(spread_list(4), weights, {}, Settings.unperturbed())


def test_settings_outside_their_range_are_refused():
    with pytest.raises(ValueError, match="normalisations"):
        Settings(normalisations=("rank",))
    with pytest.raises(ValueError, match="draws"):
        Settings(draws=0)

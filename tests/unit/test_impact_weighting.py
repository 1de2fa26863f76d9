"""Cohorts weighted by their size, not equally (issue 22), on a hand-built panel with exact answers.

No noise: y = unit level + year shock + effect, so every group-time effect is known exactly and
every aggregation can be computed by hand. Two cohorts of very different size and effect:

- 2020: 2 municipalities, effect 1 in 2020 and 2 in 2021 (cohort mean 1.5);
- 2021: 6 municipalities, effect 4 in 2021;
- 10 never treated.

Size-weighted overall (R's group aggregation): (2·1.5 + 6·4) / 8 = 3.375; weighting the cohorts
equally would give (1.5 + 4) / 2 = 2.75.
"""

import pandas as pd
import pytest

from sinfonia.impact import did, estimate_all

EFFECTS = {(2020, 2020): 1.0, (2020, 2021): 2.0, (2021, 2021): 4.0}


def hand_panel() -> pd.DataFrame:
    cohorts = [2020] * 2 + [2021] * 6 + [None] * 10
    shocks = {2018: 0.0, 2019: 1.3, 2020: -0.4, 2021: 2.2}
    rows = []
    for i, g in enumerate(cohorts):
        for t, shock in shocks.items():
            y = 40 + 3 * i + shock + EFFECTS.get((g, t), 0.0)
            rows.append({"municipality_id": f"{i:05d}", "year": t, "treatment_year": g, "capacity_group": "G1",
                         "category": "6", "is_pdet": False, "cumulative_delivered": 5 if g and t >= g else 0,
                         "mdm": y})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("control", did.CONTROLS)
@pytest.mark.parametrize("base_period", did.BASE_PERIODS)
def test_overall_effect_weights_cohorts_by_size(control, base_period):
    result = did.estimate(hand_panel(), "mdm", control, covariates=(), base_period=base_period)
    assert result.overall.estimate == pytest.approx(3.375, abs=1e-9)  # equal weights: 2.75
    assert result.simple.estimate == pytest.approx((2 * 1 + 2 * 2 + 6 * 4) / 10, abs=1e-9)
    assert result.event_time[0].estimate == pytest.approx((2 * 1 + 6 * 4) / 8, abs=1e-9)
    assert result.event_time[1].estimate == pytest.approx(2.0, abs=1e-9)
    assert result.calendar_overall.estimate == pytest.approx((1 + (2 * 2 + 6 * 4) / 8) / 2, abs=1e-9)
    assert {e: round(v.estimate, 9) for e, v in result.event_time.items() if e < 0} == (
        {-1: 0.0, -2: 0.0} if base_period == "varying" else {-3: 0.0, -2: 0.0})
    assert result.overall.n_treated == 8


def test_the_headline_row_carries_the_size_weighted_value():
    rows = estimate_all(hand_panel(), threshold=5, outcomes=("mdm",))
    headline = rows[(rows["method"] == "cs_did") & rows["event_time"].isna()].iloc[0]
    assert headline["estimate"] == pytest.approx(3.375, abs=1e-9)

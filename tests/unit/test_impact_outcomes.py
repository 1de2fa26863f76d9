"""estimate_outcome / estimate_all on hand-built panels: boundary cases that must not crash."""

import numpy as np
import pandas as pd
import pytest

from sinfonia.impact import comparisons, did, estimate_all, estimate_outcome


def small_panel(units: int = 40, years=(2020, 2021, 2022), treated: int = 10, cohort: int = 2021,
                seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(units):
        g = cohort if i < treated else None
        for t in years:
            rows.append({"municipality_id": f"{i:05d}", "year": t, "treatment_year": g,
                         "capacity_group": "G1" if i % 2 else "G2", "category": "6", "is_pdet": i % 3 == 0,
                         "cumulative_delivered": (1 if g and t >= g else 0),
                         "mdm": 50 + t - 2020 + rng.normal(0, 1)})
    return pd.DataFrame(rows)


def test_placebo_does_not_crash_when_treatment_starts_in_the_second_year():
    """Issue 17's reproduction: no year before 2020 to move the cohorts into, so no placebo row."""
    rows = estimate_outcome(small_panel(), "mdm", threshold=1)
    methods = {r["method"] for r in rows}
    assert "cs_did" in methods and "placebo" not in methods


def test_estimate_all_keeps_going_when_one_outcome_fails():
    frame = small_panel()
    frame["broken"] = "not a number"
    frame["idf"] = frame["mdm"] + 1
    rows = estimate_all(frame, threshold=1, outcomes=("broken", "mdm", "idf"))
    assert set(rows["outcome"]) == {"mdm", "idf"}


def test_placebo_checks_only_the_cohorts_the_estimate_uses():
    """A cohort first treated after the outcome's last year is a control in the estimate, so the
    placebo does not move it into its window as a treated cohort; one treated in the outcome's
    first year has no pre-period and is left out instead of emptying the placebo's window."""
    frame = small_panel(units=80, years=tuple(range(2016, 2025)), treated=15, cohort=2024)
    ids = frame["municipality_id"].astype(int)
    frame.loc[ids.between(15, 39), "treatment_year"] = 2025  # after mdm's last year (2024)
    frame.loc[ids.between(40, 44), "treatment_year"] = 2016  # the outcome's first year
    estimate = did.estimate(frame, "mdm")
    result = comparisons.placebo(frame, "mdm")
    assert estimate.overall.n_treated == 15
    assert result.overall is not None and result.overall.n_treated == 15
    assert set(result.group) == {2022}  # 2024 moved two years earlier; no 2023 (2025 - 2) cohort
    reasons = {d.reason: d for d in result.diagnostics}
    assert reasons["treated_after_last_year"].units == 25
    assert reasons["treated_in_first_year"].units == 5


def test_the_placebo_is_a_combination_of_the_pre_trend_effects():
    """Why the placebo and the pre-trend test are one test family (``pre_period_checks``): with one
    cohort and no covariates, the placebo (cohort g moved to g - 2, base g - 3) is exactly
    θ(-2)/2 - θ(-3) of the pre-period event-time effects against the universal base g - 1, its
    influence function too; it tests the same years of the same municipalities again."""
    frame = small_panel(units=80, years=tuple(range(2016, 2025)), treated=15, cohort=2024, seed=3)
    pre = did.estimate(frame, "mdm", covariates=(), base_period="universal")
    placebo = comparisons.placebo(frame, "mdm", covariates=())
    combination = pre.event_time[-2].estimate / 2 - pre.event_time[-3].estimate
    assert placebo.overall.estimate == pytest.approx(combination, abs=1e-9)
    assert list(placebo.units) == list(pre.units)
    influence = pre.event_time[-2].influence / 2 - pre.event_time[-3].influence
    assert placebo.overall.influence == pytest.approx(influence, abs=1e-9)


def test_pre_trend_and_placebo_are_tested_together_at_five_percent():
    """The pre-trend p-value is the family's max-t adjusted p-value of the pre-period effects and the
    placebo is judged on its band within the family: a wider band than its own interval, and a
    pre-trend p-value no smaller than the pre-period effects' sup-t test alone."""
    frame = small_panel(units=300, years=tuple(range(2016, 2025)), treated=30, cohort=2024, seed=5)
    rows = {r["method"]: r for r in estimate_outcome(frame, "mdm", threshold=1) if r["event_time"] is None}
    pre = did.estimate(frame, "mdm", base_period="universal")
    assert rows["pretrend"]["p_value"] >= pre.pretrend_sup_t_p()
    placebo = rows["placebo"]
    assert placebo["band_low"] < placebo["ci_low"] <= placebo["ci_high"] < placebo["band_high"]
    assert placebo["band_draws"] == did.BAND_DRAWS and placebo["band_seed"] == did.BAND_SEED


def test_estimates_moved_onto_more_units_keep_their_standard_error():
    e = did.Estimate(1.0, np.array([2.0, -1.0, -1.0]), 1, 2)
    moved = did.on_units(e, np.array(["b", "c", "d"]), np.array(["a", "b", "c", "d", "e"], dtype=object))
    assert moved.influence.tolist() == pytest.approx([0.0, 2 * 5 / 3, -5 / 3, -5 / 3, 0.0])
    assert moved.std_error == pytest.approx(e.std_error)

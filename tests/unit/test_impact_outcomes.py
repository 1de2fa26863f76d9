"""estimate_outcome / estimate_all on hand-built panels: boundary cases that must not crash."""

import numpy as np
import pandas as pd

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

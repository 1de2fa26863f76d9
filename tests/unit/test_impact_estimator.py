"""The impact estimator on simulated panels with a planted effect (tests/unit/impact_simulation.py)."""

import math

import numpy as np
import pytest

from sinfonia.impact import COLUMNS, comparisons, did, estimate_all
from tests.unit.impact_simulation import simulate


@pytest.mark.parametrize("effect", [0.0, 2.0, 5.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cs_recovers_the_planted_effect_within_one_point(seed, effect):
    panel = simulate(seed, effect)
    for control in did.CONTROLS:
        overall = did.estimate(panel, "mdm", control).overall
        assert abs(overall.estimate - effect) < 1.0, (control, overall.estimate)
        assert 0.1 < overall.std_error < 0.6


@pytest.mark.parametrize("effect", [0.0, 2.0, 5.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_95_interval_contains_the_planted_effect(seed, effect):
    overall = did.estimate(simulate(seed, effect), "mdm").overall
    low, high = overall.ci
    assert low <= effect <= high


def test_intervals_cover_the_truth_about_95_percent_of_the_time():
    """Across many panels the standard error matches the estimates' spread and the 95% interval
    covers the planted effect at about its nominal rate (a single seed misses 5% of the time)."""
    estimates, covered, placebo_covered, band_covered = [], 0, 0, 0
    seeds = range(100, 160)
    for seed in seeds:
        panel = simulate(seed, 2.0)
        result = did.estimate(panel, "mdm")
        overall = result.overall
        estimates.append((overall.estimate, overall.std_error))
        low, high = overall.ci
        covered += low <= 2.0 <= high
        band = result.band()
        band_covered += all(band[e][0] <= (2.0 if e >= 0 else 0.0) <= band[e][1] for e in result.event_time)
        plow, phigh = comparisons.placebo(panel, "mdm").overall.ci
        placebo_covered += plow <= 0 <= phigh
    est, se = np.array(estimates).T
    assert abs(est.mean() - 2.0) < 0.1
    assert 0.8 < se.mean() / est.std() < 1.25
    assert 0.88 <= covered / len(seeds) <= 1.0
    assert 0.88 <= placebo_covered / len(seeds) <= 1.0
    # the simultaneous band covers all eleven event-time effects at once at about its 95%
    assert 0.88 <= band_covered / len(seeds) <= 1.0


def test_naive_comparison_is_biased_upwards_by_selection_on_need():
    for seed in (1, 2, 3):
        panel = simulate(seed, 2.0)
        naive = comparisons.naive(panel, "mdm")
        cs = did.estimate(panel, "mdm").overall
        unconditional = did.estimate(panel, "mdm", covariates=()).overall
        # The needy, who are treated more, also improve faster: a raw comparison credits
        # ESAP with their catching up.
        assert naive.estimate > 2.0 + 1.0
        assert naive.ci[0] > cs.ci[1]
        assert unconditional.estimate > cs.estimate + 0.5


def test_pre_trend_check_passes_under_parallel_trends_and_flags_a_planted_one():
    clean = did.estimate(simulate(1, 2.0), "mdm")
    assert clean.pretrend_p > 0.05
    trending = did.estimate(simulate(1, 2.0, pre_trend=0.4), "mdm")
    assert trending.pretrend_p < 0.001
    # varying base: each pre-period effect is one year's extra change, 0.4 points
    assert abs(trending.pretrend_average.estimate - 0.4) < 0.25
    universal = did.estimate(simulate(1, 2.0, pre_trend=0.4), "mdm", base_period="universal")
    assert universal.pretrend_p < 0.001
    assert universal.event_time[-4].estimate < -0.8  # 0.4 points a year, three years before the base


@pytest.mark.parametrize("base_period,earliest", [("universal", -8), ("varying", -7)])
def test_event_time_effects_are_zero_before_and_the_effect_after(base_period, earliest):
    result = did.estimate(simulate(2, 5.0), "mdm", base_period=base_period)
    # universal: -1 is the reference (zero by construction); varying: it is estimated
    assert (-1 in result.event_time) == (base_period == "varying")
    assert min(result.event_time) == earliest and max(result.event_time) == 2
    for e in (0, 1):
        low, high = result.event_time[e].ci
        assert low <= 5.0 <= high
    assert result.event_time[0].n_treated == 110  # every cohort is observed in its first year
    assert result.event_time[2].n_treated < result.event_time[0].n_treated


def test_uniform_band_is_wider_than_the_pointwise_interval_and_reproducible():
    result = did.estimate(simulate(2, 5.0), "mdm")
    band = result.band()
    assert set(band) == set(result.event_time)
    widths = [(band[e][1] - band[e][0]) / (result.event_time[e].ci[1] - result.event_time[e].ci[0])
              for e in band]
    assert all(w > 1.0 for w in widths)  # eleven event times: the sup-t critical value exceeds 1.96
    assert max(widths) < 2.0
    assert band == result.band()  # fixed seed
    assert band != result.band(seed=did.BAND_SEED + 1)


def test_dose_view_finds_the_effect_only_where_the_threshold_is_reached():
    dose = comparisons.dose(simulate(2, 5.0), "mdm")
    assert set(dose) == {"1-2", "3-4", "5+"}
    assert abs(dose["5+"].estimate - 5.0) < 1.0
    for label in ("1-2", "3-4"):
        assert dose[label].ci[0] <= 0 <= dose[label].ci[1]


def test_unbalanced_panels_and_missing_covariates_are_handled():
    panel = simulate(3, 2.0)
    rng = np.random.default_rng(0)
    panel.loc[rng.random(len(panel)) < 0.1, "mdm"] = np.nan
    panel.loc[panel["municipality_id"] < "00050", "capacity_group"] = None
    overall = did.estimate(panel, "mdm").overall
    assert abs(overall.estimate - 2.0) < 1.0


def test_estimate_all_rows_follow_the_mart_contract():
    rows = estimate_all(simulate(1, 3.0), threshold=5)
    assert list(rows.columns) == list(COLUMNS)
    assert not rows.duplicated(["outcome", "method", "event_time"]).any()
    overall = rows[rows["event_time"].isna()].set_index("method")
    assert {"cs_did", "cs_did_never_treated", "cs_did_unconditional", "naive", "pretrend", "placebo",
            "dose_1_2", "dose_3_4", "dose_5_plus"} <= set(overall.index)
    assert (rows["ci_low"] <= rows["estimate"]).all() and (rows["estimate"] <= rows["ci_high"]).all()
    assert (rows["std_error"] > 0).all() and rows["p_value"].between(0, 1).all()
    assert (rows["threshold"] == 5).all()
    assert overall.loc["cs_did", "n_treated"] == 110
    assert rows[rows["method"] == "cs_did"]["event_time"].notna().sum() == 10


def test_outcomes_without_data_are_skipped():
    panel = simulate(1, 0.0)
    panel["idf"] = np.nan
    rows = estimate_all(panel, threshold=5, outcomes=("mdm", "idf"))
    assert set(rows["outcome"]) == {"mdm"}


def test_chi2_survival_function_matches_known_values():
    # Critical values of the χ² distribution at 5% and 1%.
    for x, k, p in ((3.841459, 1, 0.05), (5.991465, 2, 0.05), (7.814728, 3, 0.05),
                    (11.0705, 5, 0.05), (20.09024, 8, 0.01)):
        assert math.isclose(did.chi2_sf(x, k), p, rel_tol=1e-4)


def test_agrees_with_the_differences_package():
    """Cross-check against ``differences`` (R did's Python port) when it is installed (it is not a
    dependency: see the docstring of sinfonia.impact.did)."""
    differences = pytest.importorskip("differences")
    panel = simulate(1, 3.0)
    frame = panel.assign(id=panel["municipality_id"].astype(int), cohort=panel["treatment_year"].astype(float),
                         pdet=panel["is_pdet"].astype(int)).set_index(["id", "year"])
    att = differences.ATTgt(data=frame, cohort_column="cohort", base_period="universal")
    att.fit(formula="mdm ~ C(capacity_group) + C(category) + pdet", control_group="not_yet_treated",
            est_method="reg", progress_bar=False)
    theirs = att.aggregate("cohort", overall=True).iloc[0]
    ours = did.estimate(panel, "mdm").overall
    assert math.isclose(theirs.iloc[0], ours.estimate, abs_tol=1e-6)
    assert math.isclose(theirs.iloc[1], ours.std_error, abs_tol=1e-6)

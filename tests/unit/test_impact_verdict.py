"""Family-wise adjustment, simultaneous bands in the rows, and the verdict per outcome."""

import json
import math

import pytest

from sinfonia.impact import COLUMNS, did, estimate_all
from sinfonia.impact.verdict import EFFECT, INCONCLUSIVE, MIN_TREATED, NO_DATA, holm, numero, valor_p, verdict
from tests.unit.impact_simulation import simulate


def test_holm_adjustment_matches_the_step_down_by_hand():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, float("nan"), 0.2]) == pytest.approx([0.5, None, None, 0.4])
    assert holm([0.3, 0.01]) == pytest.approx([0.3, 0.02])
    assert holm([0.7, 0.6, 0.5]) == [1.0, 1.0, 1.0]


def test_colombian_number_format():
    assert numero(1234.5) == "1.234,50"
    assert numero(2.345, sign=True) == "+2,35" or numero(2.345, sign=True) == "+2,34"
    assert numero(-0.001) == "0,00" and numero(-0.001, sign=True) == "+0,00"
    assert valor_p(0.0004) == "< 0,001" and valor_p(0.007) == "0,007" and valor_p(None) == "—"


CS = {"n_treated": 50, "p_value_adjusted": 0.001, "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0}
PRE = {"p_value": 0.4}
PLACEBO = {"estimate": 0.1, "ci_low": -0.5, "ci_high": 0.7}


def test_effect_only_when_all_three_conditions_hold():
    assert verdict(CS, PRE, PLACEBO)[0] == EFFECT
    text, reason = verdict({**CS, "p_value_adjusted": 0.06}, PRE, PLACEBO)
    assert text == INCONCLUSIVE and "Holm" in reason and "0,060" in reason
    text, reason = verdict(CS, {"p_value": 0.007}, PLACEBO)
    assert text == INCONCLUSIVE and "tendencias previas, p = 0,007" in reason
    text, reason = verdict(CS, PRE, {"estimate": 1.2, "ci_low": 0.4, "ci_high": 2.0})
    assert text == INCONCLUSIVE and "placebo" in reason and "+1,20" in reason
    text, reason = verdict(CS, None, None)
    assert text == INCONCLUSIVE and "tendencias eran paralelas" in reason and "placebo" in reason
    text, reason = verdict({**CS, "n_treated": MIN_TREATED - 1}, PRE, PLACEBO)
    assert text == NO_DATA and f"solo {MIN_TREATED - 1} municipios" in reason
    assert verdict(None, PRE, PLACEBO)[0] == NO_DATA


def test_the_placebo_is_judged_on_its_band_within_the_pre_period_family():
    """Its own interval excludes zero but the family's band (the pre-trend test and the placebo at 5%
    together) does not: no failed condition; outside the band, the reason quotes the band."""
    placebo = {"estimate": -1.4, "ci_low": -2.5, "ci_high": -0.3, "band_low": -2.9, "band_high": 0.1}
    assert verdict(CS, PRE, placebo)[0] == EFFECT
    text, reason = verdict(CS, PRE, {**placebo, "band_high": -0.1})
    assert text == INCONCLUSIVE and "conjunto con las tendencias previas -2,90 a -0,10" in reason
    text, reason = verdict(CS, PRE, {**placebo, "band_low": None, "band_high": float("nan")})
    assert text == INCONCLUSIVE and "IC 95% -2,50 a -0,30" in reason


def _overall(rows, outcome="mdm"):
    return rows[(rows["outcome"] == outcome) & rows["event_time"].isna()].set_index("method")


def test_rows_carry_adjusted_p_values_bands_base_period_and_the_verdict():
    frame = simulate(2, 3.0)
    frame["mdm_gestion"] = frame["mdm"] - 3.0 * (frame["year"] >= frame["treatment_year"].fillna(9999))
    rows = estimate_all(frame, threshold=5, outcomes=("mdm", "mdm_gestion"))
    assert list(rows.columns) == list(COLUMNS)
    assert set(rows["base_period"]) <= {"varying", "universal"}
    assert set(rows.loc[rows["method"].str.startswith("cs_did"), "base_period"]) == {"varying"}
    cs = rows[(rows["method"] == "cs_did") & rows["event_time"].isna()].set_index("outcome")
    raw = cs["p_value"].tolist()
    assert cs["p_value_adjusted"].tolist() == pytest.approx(holm(raw))
    assert set(cs["p_adjust_method"]) == {"holm"}
    assert (rows.loc[rows["event_time"].notna(), "p_value_adjusted"].isna()).all()
    events = rows[(rows["method"] == "cs_did") & rows["event_time"].notna()]
    assert (events["band_low"] <= events["ci_low"]).all() and (events["band_high"] >= events["ci_high"]).all()
    assert set(events["band_draws"]) == {did.BAND_DRAWS} and set(events["band_seed"]) == {did.BAND_SEED}
    # overall rows have no band, but the placebo: its band within the pre-period test family
    overall = rows[rows["event_time"].isna()]
    assert overall.loc[overall["method"] != "placebo", "band_low"].isna().all()
    placebo = overall[overall["method"] == "placebo"]
    assert (placebo["band_low"] < placebo["ci_low"]).all() and (placebo["band_high"] > placebo["ci_high"]).all()
    assert cs.loc["mdm", "verdict"] == EFFECT, cs.loc["mdm", "verdict_reason"]
    assert cs.loc["mdm_gestion", "verdict"] == INCONCLUSIVE
    assert "Holm" in cs.loc["mdm_gestion", "verdict_reason"]
    # the verdict is on the headline row only, so no other method's row can be misread
    assert rows.loc[~((rows["method"] == "cs_did") & rows["event_time"].isna()), "verdict"].isna().all()


def test_a_planted_pre_trend_makes_the_verdict_inconclusive_and_says_why():
    rows = estimate_all(simulate(2, 3.0, pre_trend=0.4), threshold=5, outcomes=("mdm",))
    cs = _overall(rows).loc["cs_did"]
    assert cs["verdict"] == INCONCLUSIVE and "tendencias previas" in cs["verdict_reason"]


def test_diagnostics_are_recorded_on_the_overall_row():
    frame = simulate(3, 0.0)
    # one municipality alone in an extra cohort: its cells cannot be estimated
    lone = frame["municipality_id"] == frame.loc[frame["treatment_year"].isna(), "municipality_id"].iloc[0]
    frame.loc[lone, "treatment_year"] = 2021
    rows = estimate_all(frame, threshold=5, outcomes=("mdm",))
    notes = json.loads(_overall(rows).loc["cs_did", "diagnostics"])
    lone_cells = [n for n in notes if n["reason"] == "small_cohort" and n["cohort"] == 2021]
    assert lone_cells and all(n["units"] == 1 for n in lone_cells)
    assert not math.isnan(_overall(rows).loc["cs_did", "estimate"])


def test_intervals_and_p_values_use_students_t_with_treated_minus_one_degrees_of_freedom():
    import numpy as np
    from scipy import stats

    influence = np.r_[np.full(8, 4.0), np.full(8, -4.0), np.zeros(84)]  # se = sqrt(16·16)/100 = 0.16
    e = did.Estimate(0.5, influence, n_treated=16, n_control=84)
    assert e.std_error == pytest.approx(0.16)
    assert e.ci[1] - e.estimate == pytest.approx(stats.t.ppf(0.975, 15) * 0.16)  # 2.131, not 1.96
    assert e.p_value == pytest.approx(2 * stats.t.sf(0.5 / 0.16, 15))


def test_sup_t_pre_test_agrees_with_the_band():
    result = did.estimate(simulate(1, 2.0, pre_trend=0.4), "mdm", base_period="universal")
    pre = {e: v for e, v in result.event_time.items() if e < 0}
    band = did.uniform_band(pre)
    outside = any(not band[e][0] <= 0 <= band[e][1] for e in pre)
    assert result.pretrend_sup_t_p() < 0.05 and outside
    clean = did.estimate(simulate(1, 2.0), "mdm", base_period="universal")
    pre = {e: v for e, v in clean.event_time.items() if e < 0}
    band = did.uniform_band(pre)
    assert clean.pretrend_sup_t_p() >= 0.05 and all(band[e][0] <= 0 <= band[e][1] for e in pre)


def test_minimum_detectable_effect_is_the_effect_the_family_test_finds_four_times_in_five():
    from scipy import stats

    from sinfonia.impact.verdict import min_detectable_effect

    # large df: (z 0.975 + z 0.80) · se = (1.960 + 0.842) · 2; four outcomes: Holm's first step 0.05 / 4
    assert min_detectable_effect(2.0, 100_000, 1) == pytest.approx(2 * 2.8016, abs=1e-3)
    assert min_detectable_effect(1.0, 100_000, 4) == pytest.approx(2.4977 + 0.8416, abs=1e-3)
    assert min_detectable_effect(1.0, 16, 4) > min_detectable_effect(1.0, 100_000, 4)  # Student's t, 15 df
    assert min_detectable_effect(None, 16, 4) is None and min_detectable_effect(1.0, 16, 0) is None
    for df, family in ((15, 6), (40, 1), (9, 4)):
        mde = min_detectable_effect(1.0, df + 1, family)
        critical = stats.t.isf(0.05 / (2 * family), df)
        power = stats.nct.sf(critical, df, mde) + stats.nct.cdf(-critical, df, mde)
        assert power == pytest.approx(0.80, abs=0.02), (df, family, power)


def test_rows_carry_the_minimum_detectable_effect_of_their_holm_family():
    from sinfonia.impact import EFFECT_METHODS
    from sinfonia.impact.verdict import min_detectable_effect

    frame = simulate(2, 3.0)
    frame["mdm_gestion"] = frame["mdm"] - 3.0 * (frame["year"] >= frame["treatment_year"].fillna(9999))
    rows = estimate_all(frame, threshold=5, outcomes=("mdm", "mdm_gestion"))
    overall = rows[rows["event_time"].isna()]
    effect = overall[overall["method"].isin(EFFECT_METHODS)]
    assert effect["min_detectable_effect"].notna().all() and len(effect) >= 4
    for r in effect.to_dict("records"):
        family = overall.loc[overall["method"] == r["method"], "p_value"].notna().sum()
        assert r["min_detectable_effect"] == pytest.approx(
            min_detectable_effect(r["std_error"], r["n_treated"], int(family)))
        assert r["min_detectable_effect"] > 2.8 * r["std_error"]  # two outcomes: stricter than one test
    assert rows.loc[rows["event_time"].notna() | rows["method"].isin(["pretrend", "placebo"]),
                    "min_detectable_effect"].isna().all()

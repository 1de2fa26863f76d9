"""The impact verdict's rules pinned at their boundary values (fast: no estimation runs).

Each test is named for the rule it pins and sits on the value where the rule changes its answer,
so that a ``<`` for a ``<=``, a constant moved by one, or a family adjusted per outcome instead of
across the run fails here, in milliseconds.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sinfonia.impact import COLUMNS, adjust_and_judge, did
from sinfonia.impact.verdict import ALPHA, EFFECT, INCONCLUSIVE, MIN_CHANGED, NO_DATA, holm, verdict

CS = {"n_treated": 50, "p_value_adjusted": 0.001, "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0}
PRE = {"p_value": 0.4}
PLACEBO = {"estimate": 0.1, "ci_low": -0.5, "ci_high": 0.7}


def test_exactly_ten_treated_municipalities_are_enough_data_and_nine_are_not():
    assert verdict({**CS, "n_treated": 10}, PRE, PLACEBO)[0] == EFFECT
    text, reason = verdict({**CS, "n_treated": 9}, PRE, PLACEBO)
    assert text == NO_DATA
    assert "solo 9 municipios" in reason and "al menos 10" in reason


def test_the_significance_level_is_five_percent():
    assert ALPHA == 0.05


def test_an_adjusted_p_value_of_exactly_alpha_is_inconclusive_and_names_holm():
    text, reason = verdict({**CS, "p_value_adjusted": 0.05}, PRE, PLACEBO)
    assert text == INCONCLUSIVE
    assert "Holm" in reason and "0,050" in reason
    assert verdict({**CS, "p_value_adjusted": 0.0499}, PRE, PLACEBO)[0] == EFFECT


def test_a_missing_adjusted_p_value_is_inconclusive():
    for missing in (None, float("nan")):
        assert verdict({**CS, "p_value_adjusted": missing}, PRE, PLACEBO)[0] == INCONCLUSIVE


def test_a_pre_trend_p_value_of_exactly_alpha_is_parallel_and_just_below_is_not():
    assert verdict(CS, {"p_value": 0.05}, PLACEBO)[0] == EFFECT
    text, reason = verdict(CS, {"p_value": 0.0499}, PLACEBO)
    assert text == INCONCLUSIVE and "tendencias previas" in reason
    assert verdict(CS, {"p_value": float("nan")}, PLACEBO)[0] == INCONCLUSIVE


def test_a_placebo_interval_that_touches_zero_contains_it():
    assert verdict(CS, PRE, {"estimate": 0.5, "ci_low": 0.0, "ci_high": 1.0})[0] == EFFECT
    assert verdict(CS, PRE, {"estimate": -0.5, "ci_low": -1.0, "ci_high": 0.0})[0] == EFFECT
    assert verdict(CS, PRE, {"estimate": 0.5, "ci_low": 0.001, "ci_high": 1.0})[0] == INCONCLUSIVE
    assert verdict(CS, PRE, {"estimate": -0.5, "ci_low": -1.0, "ci_high": -0.001})[0] == INCONCLUSIVE


def test_holm_multiplies_by_the_number_still_in_the_family_and_keeps_the_order_monotone():
    assert holm([0.01, 0.02, 0.03]) == pytest.approx([0.03, 0.04, 0.04])
    assert holm([0.03, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1
    assert holm([0.01]) == pytest.approx([0.01])
    assert holm([]) == []


def _run(p_values: dict[str, float], n_treated: int = 50, changed: dict[str, int] | None = None) -> pd.DataFrame:
    """One run's overall rows: per outcome, its headline estimate with the raw p-value, a parallel
    pre-trend and a placebo that contains zero; one event-time row that is not in the family."""
    rows = []
    for outcome, p in p_values.items():
        base = dict.fromkeys(COLUMNS)
        base.update(outcome=outcome, event_time=None)
        rows.append({**base, "method": "cs_did", "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0, "p_value": p,
                     "std_error": 0.5, "n_treated": n_treated,
                     "n_treated_changed": (changed or {}).get(outcome, n_treated)})
        rows.append({**base, "method": "cs_did", "event_time": 0, "estimate": 2.0, "p_value": 0.0001,
                     "n_treated": n_treated})
        rows.append({**base, "method": "pretrend", "estimate": 0.0, "p_value": 0.5})
        rows.append({**base, "method": "placebo", "estimate": 0.0, "ci_low": -1.0, "ci_high": 1.0})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["event_time"] = frame["event_time"].astype("float")
    return frame


def _headline(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["method"] == "cs_did") & rows["event_time"].isna()].set_index("outcome")


def test_p_values_are_adjusted_across_the_outcomes_of_a_run_not_per_outcome():
    judged = _headline(adjust_and_judge(_run({"mdm": 0.01, "idf": 0.02, "mdm_gestion": 0.03})))
    assert judged.loc[["mdm", "idf", "mdm_gestion"], "p_value_adjusted"].tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert set(judged["p_adjust_method"]) == {"holm"}
    assert set(judged["verdict"]) == {EFFECT}


def test_event_time_rows_are_not_in_the_family():
    rows = adjust_and_judge(_run({"mdm": 0.01, "idf": 0.02}))
    event = rows[rows["event_time"].notna()]
    assert event["p_value_adjusted"].isna().all()
    assert _headline(rows).loc["mdm", "p_value_adjusted"] == pytest.approx(0.02)


def test_an_outcome_whose_adjusted_p_reaches_alpha_is_inconclusive_with_holm_named():
    # 0.025 alone would be an effect; in a family of two, 2 × 0.025 = 0.05 is not below 5 %.
    alone = _headline(adjust_and_judge(_run({"mdm": 0.025})))
    assert alone.loc["mdm", "verdict"] == EFFECT
    judged = _headline(adjust_and_judge(_run({"mdm": 0.025, "idf": 0.025})))
    assert judged["p_value_adjusted"].tolist() == pytest.approx([0.05, 0.05])
    for outcome in ("mdm", "idf"):
        assert judged.loc[outcome, "verdict"] == INCONCLUSIVE
        assert "ajustado por Holm" in judged.loc[outcome, "verdict_reason"]


def test_the_family_is_one_methods_overall_rows_not_every_overall_row():
    # With the pre-trend rows in it the family would be four: 0.01 × 4 = 0.04, 0.02 × 3 = 0.06.
    judged = _headline(adjust_and_judge(_run({"mdm": 0.01, "idf": 0.02})))
    assert judged.loc[["mdm", "idf"], "p_value_adjusted"].tolist() == pytest.approx([0.02, 0.02])


def test_an_outcome_with_ten_treated_is_judged_and_with_nine_has_no_data():
    judged = _headline(adjust_and_judge(_run({"mdm": 0.001}, n_treated=10)))
    assert judged.loc["mdm", "verdict"] == EFFECT
    judged = _headline(adjust_and_judge(_run({"mdm": 0.001}, n_treated=9)))
    assert judged.loc["mdm", "verdict"] == NO_DATA


def test_five_treated_municipalities_that_changed_value_are_enough_and_four_are_not():
    assert MIN_CHANGED == 5
    assert verdict({**CS, "n_treated_changed": 5}, PRE, PLACEBO)[0] == EFFECT
    text, reason = verdict({**CS, "n_treated_changed": 4}, PRE, PLACEBO)
    assert text == NO_DATA
    assert "solo 4 de los 50 municipios tratados cambiaron de valor" in reason and "al menos 5" in reason
    # unknown (a method that does not count them) is not a reason to refuse a verdict
    assert verdict({**CS, "n_treated_changed": None}, PRE, PLACEBO)[0] == EFFECT


def test_an_outcome_whose_treated_barely_changed_is_left_out_of_the_holm_family():
    # bono with 4 changers is out: mdm alone in its family keeps p = 0.03 (not 2 × 0.01 … 0.06)
    rows = adjust_and_judge(_run({"mdm": 0.03, "bono": 0.001}, changed={"bono": 4}))
    judged = _headline(rows)
    assert judged.loc["mdm", "p_value_adjusted"] == pytest.approx(0.03)
    assert judged.loc["mdm", "verdict"] == EFFECT
    assert judged.loc["bono", "verdict"] == NO_DATA
    assert pd.isna(judged.loc["bono", "p_value_adjusted"]) and pd.isna(judged.loc["bono", "min_detectable_effect"])
    assert judged.loc["mdm", "min_detectable_effect"] > 0
    # with 5 changers it is in: 0.001 × 2 = 0.002, 0.03 × 1 = 0.03
    judged = _headline(adjust_and_judge(_run({"mdm": 0.03, "bono": 0.001}, changed={"bono": 5})))
    assert judged.loc[["mdm", "bono"], "p_value_adjusted"].tolist() == pytest.approx([0.03, 0.002])
    assert set(judged["verdict"]) == {EFFECT}


def _panel(values: dict[str, list[float | None]], treated: dict[str, int]) -> pd.DataFrame:
    years = [2021, 2022, 2023, 2024]
    return pd.DataFrame([{"municipality_id": m, "year": y, "treatment_year": treated.get(m), "bono": v}
                         for m, vs in values.items() for y, v in zip(years, vs, strict=True)])


def test_treated_units_changed_when_a_post_year_differs_from_the_year_before_treatment():
    values = {
        "a": [0, 0, 0, 2],        # cohort 2024: 0 → 2, changed
        "b": [0, 0, 2, 2],        # cohort 2024: 2 in the base year and after, unchanged
        "c": [0, 2, 2, 2],        # cohort 2023: base 2022 is 2, unchanged (the move was before)
        "c2": [0, 0, 0, 0],       # cohort 2023: unchanged
        "d": [0, 0, 0, None],     # cohort 2024: no post-treatment value, not in the estimate
        "e": [0, 0, None, 2],     # cohort 2024: no base-year value, not in the estimate
        "f": [0, 0, 0, 2], "g": [0, 0, 0, 0], "h": [0, 0, 0, 0], "i": [0, 2, 2, 2],  # never treated
    }
    cohorts = {"a": 2024, "b": 2024, "c": 2023, "c2": 2023, "d": 2024, "e": 2024}
    result = did.estimate(_panel(values, cohorts), "bono", covariates=())
    assert result.overall.n_treated == 4
    assert result.n_treated_changed == 1
    values["c"] = [0, 2, 2, 0]  # c moves back after its treatment
    result = did.estimate(_panel(values, cohorts), "bono", covariates=())
    assert result.n_treated_changed == 2 <= result.overall.n_treated

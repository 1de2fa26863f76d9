"""The impact verdict's rules pinned at their boundary values (fast: no estimation runs).

Each test is named for the rule it pins and sits on the value where the rule changes its answer,
so that a ``<`` for a ``<=``, a constant moved by one, or a family adjusted per outcome instead of
across the run fails here, in milliseconds.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sinfonia.impact import COLUMNS, adjust_and_judge
from sinfonia.impact.verdict import ALPHA, EFFECT, INCONCLUSIVE, NO_DATA, holm, verdict

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


def _run(p_values: dict[str, float], n_treated: int = 50) -> pd.DataFrame:
    """One run's overall rows: per outcome, its headline estimate with the raw p-value, a parallel
    pre-trend and a placebo that contains zero; one event-time row that is not in the family."""
    rows = []
    for outcome, p in p_values.items():
        base = dict.fromkeys(COLUMNS)
        base.update(outcome=outcome, event_time=None)
        rows.append({**base, "method": "cs_did", "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0, "p_value": p,
                     "n_treated": n_treated})
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

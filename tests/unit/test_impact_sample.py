"""The verdicts on the demo sample's impact panel (built in memory from the same values the sample
files carry; the pipeline's panel is checked against the files in tests/integration/test_impact.py)."""

import pytest

from sinfonia.impact import estimate_all
from sinfonia.impact.verdict import EFFECT
from sinfonia.sample.impact import panel


def _headline(effect: float):
    frame = panel(42, effect=effect)
    rows = estimate_all(frame, threshold=5)
    return rows[(rows["method"] == "cs_did") & rows["event_time"].isna()].set_index("outcome")


def test_the_panel_has_the_marts_shape_and_the_sample_cohorts():
    frame = panel(42)
    assert not frame.duplicated(["municipality_id", "year"]).any()
    per_unit = frame.drop_duplicates("municipality_id")
    assert per_unit["treatment_year"].notna().sum() == 51  # 1 in 2023, 16 in 2024, 34 in 2025
    assert frame.loc[frame["year"] == 2025, "mdm"].isna().all()  # MDM is published a year late


def test_the_demo_sample_claims_no_effect_on_any_outcome():
    """Issue 17: with no planted effect the demo's MDM gestión estimate is +2,35 (p = 0,002), driven
    by a base year in which the 16 treated municipalities happened to dip; the pre-trend test
    against that base year catches it, and no outcome's verdict claims an effect."""
    headline = _headline(0.0)
    assert set(headline.index) == {"mdm", "mdm_gestion", "mdm_resultados", "mdm_ordenamiento_territorial", "idf",
                                   "idf_bono_catastro"}  # ipm: one census year, no estimate
    assert (headline["verdict"] != EFFECT).all(), headline[["verdict", "verdict_reason"]]
    assert headline.loc["mdm_gestion", "estimate"] == pytest.approx(2.3468, abs=1e-3)
    assert "tendencias previas" in headline.loc["mdm_gestion", "verdict_reason"]
    # every treated municipality's MDM moved; the cadastral bonus (0 or 2) of almost none did
    assert (headline["n_treated_changed"] <= headline["n_treated"]).all()
    assert headline.loc["mdm", "n_treated_changed"] == headline.loc["mdm", "n_treated"]
    bono = headline.loc["idf_bono_catastro"]
    assert bono["n_treated_changed"] < 5 and bono["verdict"] == "sin datos suficientes", bono.to_dict()
    assert f"solo {int(bono['n_treated_changed'])} de los {int(bono['n_treated'])} municipios" in bono["verdict_reason"]


def test_a_planted_effect_of_two_and_a_half_points_is_found_with_the_truth_inside_the_interval():
    mdm = _headline(2.5).loc["mdm"]
    assert mdm["verdict"] == EFFECT, mdm["verdict_reason"]
    assert mdm["ci_low"] <= 2.5 <= mdm["ci_high"]

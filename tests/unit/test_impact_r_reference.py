"""The estimator against R's ``did`` 2.5.0 on its own example panel, ``mpdta`` (varying base period).

The reference files are read from ``../shared/reference/did/`` (see that folder's README; they are
never copied into the repository). Every group-time effect, the simple, group, dynamic and
calendar aggregations with their overall values, every analytic standard error and the pre-test
statistic must agree to 1e-6, without covariates (never-treated and not-yet-treated controls) and
with ``~lpop`` (outcome regression, never-treated controls).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sinfonia.impact import did

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "did"
pytestmark = pytest.mark.skipif(not (REFERENCE / "mpdta.csv").exists(),
                                reason=f"R did reference files not found in {REFERENCE}")
TOL = 1e-6
SCENARIOS = {  # scenario -> (control group, covariates)
    "mpdta_nev_dr": ("never_treated", ()),
    "mpdta_nev_ipw": ("never_treated", ()),
    "mpdta_nyt_dr": ("not_yet_treated", ()),
    "mpdta_nev_reg_cov": ("never_treated", ("lpop",)),
}


@pytest.fixture(scope="module")
def results():
    mpdta = pd.read_csv(REFERENCE / "mpdta.csv")
    out = {}
    for scenario, (control, covariates) in SCENARIOS.items():
        out[scenario] = did.estimate(mpdta, "lemp", control, covariates, base_period="varying",
                                     unit="countyreal", group="first.treat")
    return out


def _reference(name: str, scenario: str) -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE / name)
    return frame[frame["scenario"] == scenario]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_group_time_effects_and_standard_errors_match_r(results, scenario):
    ref = _reference("r_did_attgt.csv", scenario)
    cells = {(c.group, c.year): c for c in results[scenario].cells}
    assert set(cells) == {(int(g), int(t)) for g, t in zip(ref["group"], ref["t"], strict=False)}
    for r in ref.itertuples():
        cell = cells[(int(r.group), int(r.t))]
        se = np.sqrt(np.sum(cell.influence ** 2)) / len(cell.influence)
        assert abs(cell.att - r.att) < TOL, (r.group, r.t)
        assert abs(se - r.se) < TOL, (r.group, r.t)


def _close(estimate: did.Estimate, value: float, se: float) -> None:
    assert abs(estimate.estimate - value) < TOL
    assert abs(estimate.std_error - se) < TOL


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_aggregations_match_r(results, scenario):
    result = results[scenario]
    ref = _reference("r_did_aggte.csv", scenario)
    simple = ref[ref["type"] == "simple"].iloc[0]
    _close(result.simple, simple.overall_att, simple.overall_se)
    for kind, parts, overall in (("group", result.group, result.overall),
                                 ("dynamic", result.event_time, result.dynamic),
                                 ("calendar", result.calendar, result.calendar_overall)):
        rows = ref[ref["type"] == kind]
        assert sorted(parts) == sorted(int(e) for e in rows["egt"]), kind
        for r in rows.itertuples():
            _close(parts[int(r.egt)], r.att_egt, r.se_egt)
        _close(overall, rows["overall_att"].iloc[0], rows["overall_se"].iloc[0])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pre_test_matches_r(results, scenario):
    ref = _reference("r_did_pretest.csv", scenario).iloc[0]
    result = results[scenario]
    assert abs(result.pretrend_stat - ref.W) < TOL
    assert result.pretrend_df == 5
    assert abs(result.pretrend_p - ref.Wpval) < 1e-5  # R rounds it to five decimals

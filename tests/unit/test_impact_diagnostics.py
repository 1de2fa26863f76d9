"""What the estimator leaves out or changes is recorded with the reason, never swallowed."""

import numpy as np
import pandas as pd

from sinfonia.impact import did
from tests.unit.impact_simulation import simulate


def _reasons(result: did.Result) -> dict[str, list[did.Diagnostic]]:
    out: dict[str, list[did.Diagnostic]] = {}
    for n in result.diagnostics:
        out.setdefault(n.reason, []).append(n)
    return out


def test_never_treated_coded_zero_or_missing_give_the_same_estimate():
    panel = simulate(1, 2.0)
    zero = panel.assign(treatment_year=panel["treatment_year"].fillna(0))
    a, b = did.estimate(panel, "mdm"), did.estimate(zero, "mdm")
    assert a.overall.estimate == b.overall.estimate and a.overall.std_error == b.overall.std_error
    assert len(a.cells) == len(b.cells) and a.overall.n_treated == 110


def test_a_continuous_covariate_is_one_column_and_no_cell_is_lost():
    panel = simulate(1, 2.0)
    rng = np.random.default_rng(0)
    size = {m: rng.normal(9, 1) for m in panel["municipality_id"].unique()}
    panel["log_population"] = panel["municipality_id"].map(size)
    result = did.estimate(panel, "mdm", covariates=("log_population",))
    per_unit = panel.drop_duplicates("municipality_id").set_index("municipality_id")
    assert did.design(per_unit, ("log_population",)).shape == (1100, 2)
    assert not _reasons(result).get("too_few_controls")
    assert len(result.cells) == len(did.estimate(panel, "mdm", covariates=()).cells)
    # missing values: mean plus an indicator, and a diagnostic
    panel.loc[panel["municipality_id"] < "00010", "log_population"] = np.nan
    result = did.estimate(panel, "mdm", covariates=("log_population", "capacity_group"))
    [note] = _reasons(result)["covariate_imputed"]
    assert note.units == 10 and note.detail == "log_population"


def test_units_without_the_base_year_are_counted_out_of_their_cells():
    panel = simulate(2, 2.0)
    cohort = panel.loc[panel["treatment_year"] == 2023, "municipality_id"].unique()[:4]
    panel.loc[panel["municipality_id"].isin(cohort) & (panel["year"] == 2022), "mdm"] = np.nan
    notes = _reasons(did.estimate(panel, "mdm"))["missing_outcome"]
    post = [n for n in notes if n.cohort == 2023 and n.year >= 2023]
    assert post and all(n.units == 4 and n.detail == "base 2022" for n in post)


def test_cohorts_of_one_unit_too_few_controls_and_first_year_cohorts_are_recorded():
    rows = []
    for i in range(30):
        g = 2019 if i < 8 else 2020 if i < 9 else 2016 if i < 11 else 2021
        for t in range(2016, 2022):
            rows.append({"municipality_id": f"{i:05d}", "year": t, "treatment_year": g,
                         "capacity_group": "G1", "category": "6", "is_pdet": False, "mdm": 50.0 + t + i % 3})
    reasons = _reasons(did.estimate(pd.DataFrame(rows), "mdm"))
    assert {(n.cohort, n.year) for n in reasons["small_cohort"]} == {(2020, t) for t in range(2017, 2022)}
    # no never-treated units: late in the panel nobody is left untreated to compare with
    assert {(n.cohort, n.year) for n in reasons["too_few_controls"]} == {
        (2019, 2021), (2021, 2019), (2021, 2020), (2021, 2021)}
    [first] = reasons["treated_in_first_year"]
    assert first.units == 2

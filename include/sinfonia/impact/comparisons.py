"""The comparisons shown beside the CS estimate: naive, dose groups and a placebo.

- ``naive``: what a raw comparison would report. For each cohort, the change of its outcome
  from the year before treatment to the last year observed, minus the same change among
  never-treated municipalities, with no covariates; cohorts weighted by size. It is a
  difference-in-differences without conditioning on the observables that drive selection, so
  when needier municipalities (the ones ESAP assists more) trend differently it is biased, and
  the report shows by how much next to the CS estimate.
- ``dose``: municipalities by cumulative delivered assistances at the outcome's last year
  (1–2, 3–4, 5+), each against those with none: change from the year before the first delivery
  in the data to the last year, outcome regression on the same covariates as CS.
- ``placebo``: the estimated cohorts' treatment years shifted ``shift`` years earlier, on the
  years before any real treatment; its overall effect should be zero. With fewer than two years of data before
  the first real treatment there is nothing to compare: no estimate, and a diagnostic says why.

All reuse ``did.or_did`` (one 2×2 outcome-regression DiD with its influence function).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sinfonia.impact import did

DOSE_GROUPS = ("1-2", "3-4", "5+")


def dose_group(cumulative: int) -> str:
    if cumulative <= 0:
        return "0"
    if cumulative <= 2:
        return "1-2"
    if cumulative <= 4:
        return "3-4"
    return "5+"


def naive(frame: pd.DataFrame, outcome: str) -> did.Estimate | None:
    panel = did.Panel(frame, outcome, covariates=())
    last = panel.years[-1]
    cells = []
    for g in sorted({int(v) for v in panel.g[np.isfinite(panel.g)]}):
        if g - 1 not in panel.years or g > last:
            continue
        dy = panel.col(last) - panel.col(g - 1)
        seen = ~np.isnan(dy)
        treated, control = seen & (panel.g == g), seen & np.isinf(panel.g)
        if treated.sum() < 2 or control.sum() < 3:
            continue
        att, psi = did.or_did(np.nan_to_num(dy), panel.x, treated, control, panel.n)
        cells.append(did.Cell(g, last, att, psi, treated, control))
    return did._weighted(cells, panel.g) if cells else None


def dose(frame: pd.DataFrame, outcome: str,
         covariates: tuple[str, ...] = did.DEFAULT_COVARIATES) -> dict[str, did.Estimate]:
    panel = did.Panel(frame, outcome, covariates=covariates)
    delivered = frame[frame["cumulative_delivered"] > 0]
    if delivered.empty:
        return {}
    base, last = int(delivered["year"].min()) - 1, panel.years[-1]
    if base not in panel.years or base >= last:
        return {}
    cum = (frame[frame["year"] == last].set_index("municipality_id")["cumulative_delivered"]
           .reindex(panel.units).fillna(0).astype(int))
    groups = np.array([dose_group(v) for v in cum])
    dy = panel.col(last) - panel.col(base)
    seen = ~np.isnan(dy)
    control = seen & (groups == "0")
    out = {}
    for label in DOSE_GROUPS:
        treated = seen & (groups == label)
        if treated.sum() < 2 or control.sum() < panel.x.shape[1] + 2:
            continue
        att, psi = did.or_did(np.nan_to_num(dy), panel.x, treated, control, panel.n)
        out[label] = did.Estimate(att, psi, int(treated.sum()), int(control.sum()))
    return out


def placebo(frame: pd.DataFrame, outcome: str, shift: int = 2, control: str = "not_yet_treated",
            covariates: tuple[str, ...] = did.DEFAULT_COVARIATES,
            base_period: str = did.DEFAULT_BASE_PERIOD) -> did.Result:
    """CS on the years before the first real treatment, with cohorts moved ``shift`` years earlier.

    The placebo checks the cohorts the estimate uses, and only those, so every cohort is handled
    here as ``did.estimate`` handles it (each with a diagnostic):

    - a cohort of fewer than ``did.MIN_COHORT`` units with the outcome is left out, rather than
      cutting the placebo's window short of the years just before the cohorts that are estimated;
    - a cohort treated after the outcome's last year is never treated, as in the estimate, where
      it is a control: moved into the placebo's window it would be a treated cohort the estimate
      never has, and a chance difference of its own (half the sample's treated municipalities
      are such a cohort, first treated in the last assistance year) would fail the verdict's
      placebo check of an estimate that does not contain it;
    - a cohort treated in or before the outcome's first year (no pre-period) is left out.

    "The first real treatment" is then that of the first cohort left in.
    """
    g = pd.to_numeric(frame["treatment_year"], errors="coerce")
    units = frame.assign(treatment_year=g.where(g != 0))  # 0: never treated (R's convention)
    seen = units[units[outcome].notna()] if outcome in units else units.iloc[:0]
    if seen.empty:
        return did.Result(None)
    first, last = int(seen["year"].min()), int(seen["year"].max())
    notes = []
    late = units["treatment_year"] > last
    if late.any():
        notes.append(did.Diagnostic("treated_after_last_year", units=int(units.loc[late, "municipality_id"].nunique()),
                                    detail=f"placebo: after {last}, used as never treated as in the estimate"))
        units.loc[late, "treatment_year"] = np.nan
        seen = units[units[outcome].notna()]
    sizes = seen.drop_duplicates("municipality_id")["treatment_year"].value_counts()
    usable = sizes[(sizes >= did.MIN_COHORT) & (sizes.index > first)]
    notes += [did.Diagnostic("small_cohort", int(c), None, int(n), "placebo: cohort left out")
              for c, n in sizes[sizes < did.MIN_COHORT].items()]
    early = sizes[(sizes >= did.MIN_COHORT) & (sizes.index <= first)]
    notes += [did.Diagnostic("treated_in_first_year", int(c), None, int(n), "placebo: cohort left out")
              for c, n in early.items()]
    if usable.empty:
        return did.Result(None, diagnostics=notes)
    first_real = int(usable.index.min())
    dropped = units["treatment_year"].notna() & ~units["treatment_year"].isin(usable.index)
    fake = units[~dropped & (units["year"] < first_real)].copy()
    years = fake.loc[fake[outcome].notna(), "year"].nunique() if outcome in fake else 0
    if years < 2:  # e.g. the first cohort is treated in the panel's second year
        return did.Result(None, diagnostics=notes + [did.Diagnostic(
            "too_few_years", detail=f"placebo: {years} year(s) with data before {first_real}")])
    fake["treatment_year"] = fake["treatment_year"] - shift
    result = did.estimate(fake, outcome, control, covariates, base_period)
    result.diagnostics = notes + result.diagnostics
    return result

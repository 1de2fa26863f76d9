"""Impact of ESAP's assistance on municipal indicators (DESIGN.md §6, issue 8).

A municipality is treated from the year its cumulative delivered assistances reach the
threshold (``marts.mart_impact_panel``, built by dbt). For every outcome with yearly data this
package estimates:

| method | what |
|---|---|
| ``cs_did`` | Callaway–Sant'Anna, not-yet-treated controls, outcome regression on capacity group, category and PDET (the headline); overall and event-time rows |
| ``cs_did_never_treated`` | the same with never-treated controls only; overall and event-time rows |
| ``cs_did_unconditional`` | the same without covariates; overall |
| ``naive`` | treated-versus-untreated change without covariates (``comparisons.naive``) |
| ``pretrend`` | the mean of the pre-period event-time estimates; ``p_value`` is the joint Wald test of all of them being zero |
| ``placebo`` | cohorts moved two years earlier, on the years before any treatment; should be 0 |
| ``dose_1_2``, ``dose_3_4``, ``dose_5_plus`` | each dose group against municipalities with no delivered assistance |

Intervals are 95% normal intervals from analytic influence functions clustered by
municipality (see ``did``). Rows go to ``marts.mart_impact_estimates`` (``store``).
"""

from __future__ import annotations

import logging

import pandas as pd

from sinfonia.impact import comparisons, did

log = logging.getLogger(__name__)

OUTCOMES = ("mdm", "mdm_gestion", "mdm_resultados", "idf")
COLUMNS = ("outcome", "method", "event_time", "estimate", "std_error", "ci_low", "ci_high",
           "p_value", "n_treated", "n_control", "threshold")


def _row(outcome: str, method: str, event_time: int | None, e: did.Estimate, threshold: int,
         p_value: float | None = None) -> dict:
    low, high = e.ci
    return {"outcome": outcome, "method": method, "event_time": event_time,
            "estimate": e.estimate, "std_error": e.std_error, "ci_low": low, "ci_high": high,
            "p_value": e.p_value if p_value is None else p_value,
            "n_treated": e.n_treated, "n_control": e.n_control, "threshold": threshold}


def estimate_outcome(frame: pd.DataFrame, outcome: str, threshold: int) -> list[dict]:
    """Every method's rows for one outcome; empty when it cannot be estimated (logged)."""
    if outcome not in frame or frame[outcome].notna().sum() == 0:
        log.info("impact: no %s values in the panel; skipped", outcome)
        return []
    if frame[outcome].notna().groupby(frame["year"]).any().sum() < 2:
        log.info("impact: %s has fewer than two years of data; skipped", outcome)
        return []
    rows: list[dict] = []
    for method, control, covariates in (
        ("cs_did", "not_yet_treated", did.DEFAULT_COVARIATES),
        ("cs_did_never_treated", "never_treated", did.DEFAULT_COVARIATES),
        ("cs_did_unconditional", "not_yet_treated", ()),
    ):
        result = did.estimate(frame, outcome, control, covariates)
        if result.overall is None:
            log.info("impact: %s %s has no treated cohort with a post-treatment year", outcome, method)
            continue
        rows.append(_row(outcome, method, None, result.overall, threshold))
        if method == "cs_did_unconditional":
            continue
        rows += [_row(outcome, method, e, est, threshold) for e, est in result.event_time.items()]
        if method == "cs_did" and result.pretrend_average is not None:
            rows.append(_row(outcome, "pretrend", None, result.pretrend_average, threshold,
                             p_value=result.pretrend_p))
    naive = comparisons.naive(frame, outcome)
    if naive is not None:
        rows.append(_row(outcome, "naive", None, naive, threshold))
    placebo = comparisons.placebo(frame, outcome)
    if placebo.overall is not None:
        rows.append(_row(outcome, "placebo", None, placebo.overall, threshold))
    for label, est in comparisons.dose(frame, outcome).items():
        method = "dose_" + label.replace("-", "_").replace("+", "_plus")
        rows.append(_row(outcome, method, None, est, threshold))
    return rows


def estimate_all(frame: pd.DataFrame, threshold: int, outcomes=OUTCOMES) -> pd.DataFrame:
    """Every outcome's rows; an outcome that fails is logged with its traceback and skipped, so
    one bad outcome never costs the others their estimates."""
    rows: list[dict] = []
    for outcome in outcomes:
        try:
            rows += estimate_outcome(frame, outcome, threshold)
        except Exception:  # noqa: BLE001 - any failure of one outcome is reported, not fatal
            log.exception("impact: estimating %s failed; its rows are left out", outcome)
    return pd.DataFrame(rows, columns=list(COLUMNS))

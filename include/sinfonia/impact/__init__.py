"""Impact of ESAP's assistance on municipal indicators (DESIGN.md §5–§6, issues 8 and 17).

A municipality is treated from the year its cumulative delivered assistances reach the
threshold (``marts.mart_impact_panel``, built by dbt). For every outcome with yearly data this
package estimates:

| method | what |
|---|---|
| ``cs_did`` | Callaway–Sant'Anna, not-yet-treated controls, outcome regression on capacity group, category and PDET (the headline); overall and event-time rows |
| ``cs_did_never_treated`` | the same with never-treated controls only; overall and event-time rows |
| ``cs_did_unconditional`` | the same without covariates; overall |
| ``naive`` | treated-versus-untreated change without covariates (``comparisons.naive``) |
| ``pretrend`` | the mean of the pre-period event-time estimates against the universal base period (so that they share the post-period effects' base year); ``p_value`` is the sup-t test of every one of them being zero, in one family with the placebo (below 0.05 exactly when one lies outside the family's simultaneous band; ``pre_period_checks``) |
| ``placebo`` | the cohorts the estimate uses moved two years earlier, on the years before any treatment; should be 0; ``band_low``/``band_high``: its band within the family of the pre-trend test |
| ``dose_1_2``, ``dose_3_4``, ``dose_5_plus`` | each dose group against municipalities with no delivered assistance |

Intervals are 95% intervals on Student's t with (treated units - 1) degrees of freedom, from
analytic influence functions clustered by municipality (see ``did``); event-time rows of the CS methods also carry a 95% simultaneous band
(``band_low``, ``band_high``; multiplier bootstrap with ``band_draws`` draws and seed
``band_seed``). ``p_value_adjusted`` is Holm's adjustment of one method's overall p-values across
the outcomes of the run (``p_adjust_method``), and ``min_detectable_effect`` the smallest effect
that family's test finds with 80% power (``verdict.min_detectable_effect``; on the overall rows of
the effect methods, ``EFFECT_METHODS``: not on the checks nor the event times); the ``cs_did`` overall row of each outcome carries
the ``verdict`` and its ``verdict_reason`` (``verdict``); the CS methods' overall rows carry
``n_treated_changed`` (``did.Result.n_treated_changed``), and an outcome with fewer than
``verdict.MIN_CHANGED`` is judged ``sin datos suficientes`` and left out of the Holm family. ``diagnostics`` (JSON, on each method's
overall row) lists what the estimator left out or changed and why (``did.REASONS``). The
columns are ``COLUMNS``, the one list the writer (``store``) and the report follow.
"""  # noqa: E501 - the module docstring holds a Markdown table, one row a line

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from sinfonia.impact import comparisons, did
from sinfonia.impact.verdict import P_ADJUST_METHOD, holm, min_detectable_effect, too_few_changed, verdict

log = logging.getLogger(__name__)

# ipm is one census measurement: it is read, found to have fewer than two years and left out (the
# report says why); it would be estimated the day a second municipal measurement is loaded.
OUTCOMES = ("mdm", "mdm_gestion", "mdm_resultados", "mdm_ordenamiento_territorial", "idf", "idf_bono_catastro",
            "ipm")
COLUMNS = ("outcome", "method", "event_time", "estimate", "std_error", "ci_low", "ci_high",
           "p_value", "n_treated", "n_treated_changed", "n_control", "threshold", "p_value_adjusted",
           "p_adjust_method", "min_detectable_effect",
           "band_low", "band_high", "band_draws", "band_seed", "base_period", "verdict",
           "verdict_reason", "diagnostics")
CS_METHODS = (  # method, control group, covariates, event-time rows
    ("cs_did", "not_yet_treated", did.DEFAULT_COVARIATES, True),
    ("cs_did_never_treated", "never_treated", did.DEFAULT_COVARIATES, True),
    ("cs_did_unconditional", "not_yet_treated", (), False),
)
# The methods that estimate an effect (and so get a minimum detectable effect); pretrend and
# placebo are checks, whose p-values the verdict reads against their own family.
EFFECT_METHODS = ("cs_did", "cs_did_never_treated", "cs_did_unconditional", "naive", "dose_1_2", "dose_3_4",
                  "dose_5_plus")


def _row(outcome: str, method: str, event_time: int | None, e: did.Estimate, threshold: int,
         base_period: str, p_value: float | None = None, **extra) -> dict:
    low, high = e.ci
    row = dict.fromkeys(COLUMNS)
    row.update({"outcome": outcome, "method": method, "event_time": event_time,
                "estimate": e.estimate, "std_error": e.std_error, "ci_low": low, "ci_high": high,
                "p_value": e.p_value if p_value is None else p_value,
                "n_treated": e.n_treated, "n_control": e.n_control, "threshold": threshold,
                "base_period": base_period, **extra})
    return row


def _diagnostics(notes: list[did.Diagnostic]) -> str | None:
    return json.dumps([n.as_dict() for n in notes], ensure_ascii=False) if notes else None


def estimate_outcome(frame: pd.DataFrame, outcome: str, threshold: int,
                     base_period: str = did.DEFAULT_BASE_PERIOD) -> list[dict]:
    """Every method's rows for one outcome; empty when it cannot be estimated (logged)."""
    if outcome not in frame or frame[outcome].notna().sum() == 0:
        log.info("impact: no %s values in the panel; skipped", outcome)
        return []
    if frame[outcome].notna().groupby(frame["year"]).any().sum() < 2:
        log.info("impact: %s has fewer than two years of data; skipped", outcome)
        return []
    rows: list[dict] = []
    pre = None
    for method, control, covariates, events in CS_METHODS:
        result = did.estimate(frame, outcome, control, covariates, base_period)
        if result.overall is None:
            log.info("impact: %s %s has no treated cohort with a post-treatment year: %s", outcome, method,
                     _diagnostics(result.diagnostics))
            continue
        rows.append(_row(outcome, method, None, result.overall, threshold, base_period,
                         n_treated_changed=result.n_treated_changed,
                         diagnostics=_diagnostics(result.diagnostics)))
        if not events:
            continue
        band = result.band()
        rows += [_row(outcome, method, e, est, threshold, base_period,
                      band_low=band.get(e, (None, None))[0], band_high=band.get(e, (None, None))[1],
                      band_draws=did.BAND_DRAWS, band_seed=did.BAND_SEED)
                 for e, est in result.event_time.items()]
        if method == "cs_did":
            # Pre-trends against the universal base: the pre-period effects then share the post
            # ones' base year, so a base year that is off for the treated shows in them (Roth,
            # 2024, "Interpreting event-studies from recent difference-in-differences estimators").
            pre = result if base_period == "universal" else did.estimate(frame, outcome, control, covariates,
                                                                         "universal")
    placebo = comparisons.placebo(frame, outcome, base_period=base_period)
    if placebo.overall is None and placebo.diagnostics:
        log.info("impact: %s placebo not estimated: %s", outcome, _diagnostics(placebo.diagnostics))
    rows += pre_period_checks(outcome, pre, placebo, threshold, base_period)
    naive = comparisons.naive(frame, outcome)
    if naive is not None:
        rows.append(_row(outcome, "naive", None, naive, threshold, "universal"))
    for label, est in comparisons.dose(frame, outcome).items():
        method = "dose_" + label.replace("-", "_").replace("+", "_plus")
        rows.append(_row(outcome, method, None, est, threshold, "universal"))
    return rows


def pre_period_checks(outcome: str, pre: did.Result | None, placebo: did.Result, threshold: int,
                      base_period: str) -> list[dict]:
    """The ``pretrend`` and ``placebo`` rows, tested as ONE family at 5%.

    Both test parallel trends before treatment on the same years of the same municipalities: the
    placebo (the cohorts' change two years before treatment, on the varying base) is, up to the
    control sets, a linear combination of the pre-period event-time effects (on the universal
    base). Tested each at 5%, the two checks together reject parallel trends that hold in about
    one sample in ten, not one in twenty. So they are one sup-t family (every pre-period
    event-time effect and the placebo, bootstrapped together, their correlation included): the
    ``pretrend`` p-value is the family's max-t adjusted p-value of the pre-period effects, and the
    placebo's ``band_low``/``band_high`` is its 95% band within the family; parallel trends are
    rejected at 5% exactly when either falls outside. With no placebo the family is the pre-period
    effects alone (the sup-t test of ``did.sup_t_p_value``).
    """
    family: dict = {}
    if pre is not None:
        family.update({e: v for e, v in pre.event_time.items() if e < 0})
    leading = list(family)
    if placebo.overall is not None:
        family["placebo"] = placebo.overall
    if pre is not None and placebo.overall is not None:
        known = set(pre.units)
        units = np.array(list(pre.units) + [u for u in placebo.units if u not in known], dtype=object)
        family = {k: did.on_units(v, placebo.units if k == "placebo" else pre.units, units)
                  for k, v in family.items()}
    adjusted = did.sup_t_adjusted_p(family)
    rows = []
    if pre is not None and pre.pretrend_average is not None:
        p = min((adjusted[e] for e in leading if e in adjusted), default=float("nan"))
        rows.append(_row(outcome, "pretrend", None, pre.pretrend_average, threshold, "universal", p_value=p))
    if placebo.overall is not None:
        low, high = did.uniform_band(family).get("placebo", (None, None))
        rows.append(_row(outcome, "placebo", None, placebo.overall, threshold, base_period,
                         band_low=low, band_high=high, band_draws=did.BAND_DRAWS, band_seed=did.BAND_SEED,
                         diagnostics=_diagnostics(placebo.diagnostics)))
    return rows


def adjust_and_judge(rows: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values per method across outcomes (overall rows), the minimum detectable
    effect of each effect method's overall rows in that family, then each outcome's verdict."""
    rows = rows.copy()
    overall = rows["event_time"].isna()
    for method, idx in rows[overall].groupby("method").groups.items():
        # an outcome whose treated side barely varies has no valid test: out of the family
        valid = [not too_few_changed(rows.at[i, "n_treated_changed"]) for i in idx]
        p_values = [p if ok else None for p, ok in zip(rows.loc[idx, "p_value"].tolist(), valid, strict=True)]
        rows.loc[idx, "p_value_adjusted"] = holm(p_values)
        rows.loc[idx, "p_adjust_method"] = P_ADJUST_METHOD
        if method in EFFECT_METHODS:
            family = sum(p is not None and not np.isnan(p) for p in p_values)
            for i, ok in zip(idx, valid, strict=True):
                rows.at[i, "min_detectable_effect"] = min_detectable_effect(
                    rows.at[i, "std_error"], rows.at[i, "n_treated"], family) if ok else None
    for outcome in rows["outcome"].unique():
        mine = rows[(rows["outcome"] == outcome) & overall]
        by_method = {r["method"]: r for r in mine.to_dict("records")}
        if "cs_did" not in by_method:
            continue
        text, reason = verdict(by_method["cs_did"], by_method.get("pretrend"), by_method.get("placebo"))
        idx = mine.index[mine["method"] == "cs_did"]
        rows.loc[idx, "verdict"] = text
        rows.loc[idx, "verdict_reason"] = reason
    return rows


def estimate_all(frame: pd.DataFrame, threshold: int, outcomes=OUTCOMES,
                 base_period: str = did.DEFAULT_BASE_PERIOD) -> pd.DataFrame:
    """Every outcome's rows with adjusted p-values and verdicts; an outcome that fails is logged
    with its traceback and skipped, so one bad outcome never costs the others their estimates."""
    rows: list[dict] = []
    for outcome in outcomes:
        try:
            rows += estimate_outcome(frame, outcome, threshold, base_period)
        except Exception:  # noqa: BLE001 - any failure of one outcome is reported, not fatal
            log.exception("impact: estimating %s failed; its rows are left out", outcome)
    table = pd.DataFrame(rows, columns=list(COLUMNS)).astype(object)
    return adjust_and_judge(table) if len(table) else table

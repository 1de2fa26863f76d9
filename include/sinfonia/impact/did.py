"""Staggered difference-in-differences (Callaway and Sant'Anna, 2021), written with numpy.

Why our own code and not a library: the candidates were tried in this project's virtualenv.
``differences`` 0.3.0 (a Python port of R's ``did``) installs with the existing pins, but it
brings eight more packages (polars with its 54 MB runtime, statsmodels, formulaic, joblib, ...)
into the Airflow environment for what is ~300 lines of linear algebra here, and the pre-trend
Wald test, the placebo, naive and dose comparisons, the uniform bands and the rows of the mart
need the cell-level influence functions anyway. ``pyfixest``, ``linearmodels`` and
``statsmodels`` do not implement Callaway and Sant'Anna's group-time estimator. The reference
is R's ``did`` itself: ``tests/unit/test_impact_r_reference.py`` reproduces its group-time
effects, the four aggregations, their analytic standard errors and the pre-test on ``mpdta`` to
1e-6, with and without a covariate.

What it computes (the choices, stated; they follow R's ``did`` 2.x unless said otherwise):

- **Cohorts.** ``treatment_year`` is the first treated year; missing or 0 (R's convention)
  means never treated. A cohort treated after the outcome's last year is never treated *for
  that outcome* (R recodes it to 0 too). Units treated in or before the outcome's first year have
  no pre-period and are left out of the panel (R drops them). Both are recorded as diagnostics.
- **ATT(g, t)** for every cohort ``g`` and year ``t``: the change ``Y_t - Y_b`` of cohort ``g``
  minus that of the controls. The base year ``b`` is, with ``base_period="varying"`` (R's
  default), the year before ``t`` for pre-treatment years and the last year before ``g`` for
  post-treatment ones; with ``"universal"``, the last year before ``g`` for every ``t`` (event
  time -1 is then the reference, zero by construction, and not reported).
- **Controls**: ``not_yet_treated`` (never treated plus units first treated after both ``t``
  and ``b``) or ``never_treated``.
- **Covariates**: outcome regression (Sant'Anna and Zhao, 2020, R's ``est_method="reg"``): the
  controls' change is regressed on the covariates, taken once per unit, and the cohort's change is
  compared with its prediction. Numeric covariates enter as they are (a missing value is set to
  the mean and flagged by an indicator column); text, boolean and categorical ones as dummies
  with "missing" as a level. ``covariates=()`` gives the unconditional estimator.
- **Cells left out** (recorded in ``Result.diagnostics`` with the reason, never silently): fewer
  than ``MIN_COHORT`` treated units with the outcome in both years (a cohort of one unit), too
  few controls for the regression, and, unit by unit, treated units without the outcome in the
  base year or in ``t``.
- **Inference**: analytic influence functions, one value per unit, so standard errors are
  clustered by unit; the aggregations carry the influence of their estimated weights (R's
  ``wif``). Standard errors are R's; intervals and p-values are not: they use Student's t with
  (treated units - 1) degrees of freedom instead of the normal (a small-sample correction R does
  not make). The variance is driven by the treated units, and ESAP's cohorts are a few dozen
  municipalities: on 30 sample seeds with no effect (about 16 treated units each), 4 of 120
  outcome estimates had a normal p below 0.0125, where 1.5 were expected. Event-time effects also get a
  95% **simultaneous band** (``uniform_band``): R's multiplier bootstrap (Mammen weights) with
  a fixed seed and number of draws, recorded with the estimates; the sup-t statistic is
  standardised by the analytic standard errors (R uses bootstrap ones; both estimate the same
  thing), and its critical value is turned into a per-effect level and read on the same
  Student's t, so the band is never narrower than the pointwise interval.
- **Aggregations** (R's ``aggte``): ``overall`` is the group aggregation θ_sel^O (each cohort's
  average post-treatment ATT, cohorts weighted by size; the headline); ``simple`` weights every
  post-treatment cell by its cohort's size; ``event_time`` θ(e) averages ATT(g, g + e) over the
  cohorts observed at ``e`` weighted by size, ``dynamic`` is the mean of θ(e) for e >= 0;
  ``calendar`` θ(t) averages the cohorts treated by ``t``, ``calendar_overall`` their mean.
- **Pre-tests**: R's Wald statistic on every pre-treatment cell (``t < g``), χ² with as many
  degrees of freedom as cells (``pretrend_stat``, ``pretrend_p``); and the sup-t test of all
  pre-treatment event-time effects (``pretrend_sup_t_p``), consistent with the simultaneous band
  and far better behaved with few treated units; the verdict uses the latter, on the universal
  base period (``sinfonia.impact``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

Z95 = 1.959963984540054
CONTROLS = ("not_yet_treated", "never_treated")
BASE_PERIODS = ("varying", "universal")
DEFAULT_BASE_PERIOD = "varying"
DEFAULT_COVARIATES = ("capacity_group", "category", "is_pdet")
MIN_COHORT = 2  # treated units a cell needs (one unit has no within-cohort variance)
BAND_DRAWS = 1000  # multiplier-bootstrap draws of the simultaneous band (R's biters)
BAND_SEED = 20210601  # fixed, so the same data always give the same band


@dataclass
class Estimate:
    """One aggregated effect with its influence function (one value per unit)."""

    estimate: float
    influence: np.ndarray  # length N, so that estimate - truth ≈ mean(influence)
    n_treated: int
    n_control: int

    @property
    def std_error(self) -> float:
        n = len(self.influence)
        return float(math.sqrt(np.sum(self.influence ** 2)) / n)

    @property
    def df(self) -> int:
        """Degrees of freedom of the small-sample reference distribution: treated units - 1."""
        return max(1, self.n_treated - 1)

    @property
    def ci(self) -> tuple[float, float]:
        half = stats.t.ppf(0.975, self.df) * self.std_error
        return self.estimate - half, self.estimate + half

    @property
    def p_value(self) -> float:
        se = self.std_error
        return float(2 * stats.t.sf(abs(self.estimate) / se, self.df)) if se > 0 else float("nan")


@dataclass
class Cell:
    group: int
    year: int
    att: float
    influence: np.ndarray
    treated: np.ndarray  # boolean masks over units
    control: np.ndarray
    base: int | None = None


@dataclass
class Diagnostic:
    """Something left out or changed, with the reason (``REASONS``)."""

    reason: str
    cohort: int | None = None
    year: int | None = None
    units: int = 0
    detail: str = ""

    def as_dict(self) -> dict:
        return {"reason": self.reason, "cohort": self.cohort, "year": self.year, "units": self.units,
                "detail": self.detail}


REASONS = {
    "treated_in_first_year": "units treated in or before the outcome's first year (no pre-period): left out",
    "treated_after_last_year": "units treated after the outcome's last year: used as never treated",
    "small_cohort": "cell left out: fewer than MIN_COHORT treated units with the outcome in both years",
    "too_few_controls": "cell left out: too few control units for the outcome regression",
    "missing_outcome": "treated units left out of a cell: outcome missing in the base year or in t",
    "covariate_imputed": "numeric covariate missing for some units: set to the mean, with an indicator",
    "too_few_years": "fewer than two years with data: nothing estimated",
}


@dataclass
class Result:
    overall: Estimate | None
    event_time: dict[int, Estimate] = field(default_factory=dict)
    pretrend_stat: float = float("nan")
    pretrend_df: int = 0
    pretrend_p: float = float("nan")
    cells: list[Cell] = field(default_factory=list)
    simple: Estimate | None = None
    dynamic: Estimate | None = None
    calendar: dict[int, Estimate] = field(default_factory=dict)
    calendar_overall: Estimate | None = None
    group: dict[int, Estimate] = field(default_factory=dict)
    base_period: str = DEFAULT_BASE_PERIOD
    diagnostics: list[Diagnostic] = field(default_factory=list)
    units: np.ndarray | None = None  # the unit of each influence value, in order
    # Treated units of the overall estimate whose outcome, in one of their post-treatment cells,
    # differs from the base year: the units that carry the treated side's variation. An outcome
    # that moves in steps (a bonus of 0 or 2 points) may have a cohort of which one unit or none
    # changed; the standard error then rests on the controls alone and the t-test is not valid
    # (``sinfonia.impact.verdict.MIN_CHANGED``).
    n_treated_changed: int | None = None

    @property
    def pretrend_average(self) -> Estimate | None:
        pre = [e for k, e in self.event_time.items() if k < 0]
        return _average(pre) if pre else None

    def band(self, draws: int = BAND_DRAWS, seed: int = BAND_SEED) -> dict[int, tuple[float, float]]:
        """95% simultaneous band of every event-time effect (see ``uniform_band``)."""
        return uniform_band(self.event_time, draws, seed)

    def pretrend_sup_t_p(self, draws: int = BAND_DRAWS, seed: int = BAND_SEED) -> float:
        """Sup-t p-value of all pre-treatment event-time effects being zero (``sup_t_p_value``)."""
        return sup_t_p_value({e: v for e, v in self.event_time.items() if e < 0}, draws, seed)


class Panel:
    """A unit × year outcome matrix, cohorts and covariate design, from a long data frame."""

    def __init__(self, frame: pd.DataFrame, outcome: str, unit: str = "municipality_id",
                 year: str = "year", group: str = "treatment_year",
                 covariates: tuple[str, ...] = DEFAULT_COVARIATES):
        self.diagnostics: list[Diagnostic] = []
        wide = frame.pivot(index=unit, columns=year, values=outcome)
        wide = wide.loc[:, wide.notna().any()]  # years the outcome was not measured at all
        if wide.shape[1] < 2:
            raise ValueError(f"outcome {outcome!r} has fewer than two years of data")
        years = [int(y) for y in wide.columns]
        per_unit = frame.drop_duplicates(unit).set_index(unit).loc[wide.index]
        g = pd.to_numeric(per_unit[group], errors="coerce").to_numpy(dtype=float)
        g = np.where(np.isnan(g) | (g == 0), np.inf, g)  # never treated: missing or 0 (R)
        late = np.isfinite(g) & (g > years[-1])
        if late.any():
            self.diagnostics.append(Diagnostic("treated_after_last_year", units=int(late.sum()),
                                               detail=f"after {years[-1]}"))
            g[late] = np.inf
        early = g <= years[0]
        if early.any():
            self.diagnostics.append(Diagnostic("treated_in_first_year", units=int(early.sum()),
                                               detail=f"in or before {years[0]}"))
        keep = ~early
        self.units = wide.index.to_numpy()[keep]
        self.years = years
        self.y = wide.to_numpy(dtype=float)[keep]
        self.g = g[keep]
        self.x = design(per_unit[keep], covariates, self.diagnostics)

    @property
    def n(self) -> int:
        return len(self.units)

    def col(self, year: int) -> np.ndarray:
        return self.y[:, self.years.index(year)]


def design(per_unit: pd.DataFrame, covariates: tuple[str, ...],
           diagnostics: list[Diagnostic] | None = None) -> np.ndarray:
    """Intercept, then each covariate: numeric as it is, anything else as dummies (first level dropped).

    A missing numeric value is set to the covariate's mean and flagged by an indicator column;
    a missing categorical value is a level of its own.
    """
    parts = [np.ones((len(per_unit), 1))]
    for c in covariates:
        column = per_unit[c]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(dtype=float)
            missing = np.isnan(values)
            if missing.all():
                continue
            parts.append(np.where(missing, np.nanmean(values), values)[:, None])
            if missing.any():
                parts.append(missing.astype(float)[:, None])
                if diagnostics is not None:
                    diagnostics.append(Diagnostic("covariate_imputed", units=int(missing.sum()), detail=c))
            continue
        values = column.astype("string").fillna("missing")
        dummies = pd.get_dummies(values, drop_first=True, dtype=float)
        if dummies.shape[1]:
            parts.append(dummies.to_numpy())
    return np.hstack(parts)


def or_did(dy: np.ndarray, x: np.ndarray, treated: np.ndarray, control: np.ndarray,
           n_total: int) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD on one 2×2 comparison; influence function on the full N scale.

    ``dy`` is each unit's outcome change; ``treated``/``control`` are disjoint masks of units
    with ``dy`` observed. Returns (ATT, influence of length ``n_total``). The same estimator and
    influence function as DRDID's ``reg_did_panel`` (R's ``est_method="reg"``).
    """
    d = treated[treated | control]
    yy, xx = dy[treated | control], x[treated | control]
    n = len(yy)
    xc, yc = xx[~d], yy[~d]
    gram = xc.T @ xc / n
    gram_inv = np.linalg.pinv(gram)
    beta = gram_inv @ (xc.T @ yc / n)
    resid = yy - xx @ beta
    p1 = d.mean()
    att = float(resid[d].mean())
    psi_beta = (gram_inv @ (xx * (~d * resid)[:, None]).T).T  # n × k
    mean_x_treated = xx[d].mean(axis=0)
    psi = (d * (resid - att)) / p1 - (psi_beta @ mean_x_treated)
    full = np.zeros(n_total)
    full[treated | control] = psi * (n_total / n)
    return att, full


def group_time(panel: Panel, control: str = "not_yet_treated",
               base_period: str = DEFAULT_BASE_PERIOD) -> tuple[list[Cell], list[Diagnostic]]:
    """Every estimable ATT(g, t), and the diagnostics of the cells left out."""
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, not {control!r}")
    if base_period not in BASE_PERIODS:
        raise ValueError(f"base_period must be one of {BASE_PERIODS}, not {base_period!r}")
    years = panel.years
    cells, notes = [], []
    for g in sorted({int(v) for v in panel.g[np.isfinite(panel.g)]}):
        before = [y for y in years if y < g]  # not empty: cohorts of the first year were left out
        in_cohort = panel.g == g
        for k, t in enumerate(years):
            if base_period == "varying":
                if k == 0:
                    continue
                base = years[k - 1] if t < g else before[-1]
            else:
                base = before[-1]
                if t == base:
                    continue
            dy = panel.col(t) - panel.col(base)
            seen = ~np.isnan(dy)
            treated = seen & in_cohort
            if control == "never_treated":
                ctrl = seen & np.isinf(panel.g)
            else:
                ctrl = seen & (panel.g > max(t, base)) & ~in_cohort
            lost = int((in_cohort & ~seen).sum())
            if lost:
                notes.append(Diagnostic("missing_outcome", g, t, lost, f"base {base}"))
            if treated.sum() < MIN_COHORT:
                notes.append(Diagnostic("small_cohort", g, t, int(treated.sum()),
                                        f"{int(treated.sum())} treated, {MIN_COHORT} needed"))
                continue
            need = panel.x.shape[1] + 2
            if ctrl.sum() < need:
                notes.append(Diagnostic("too_few_controls", g, t, int(ctrl.sum()),
                                        f"{int(ctrl.sum())} controls, {need} needed"))
                continue
            att, psi = or_did(np.nan_to_num(dy), panel.x, treated, ctrl, panel.n)
            cells.append(Cell(g, t, att, psi, treated, ctrl, base))
    return cells, notes


def _weighted(cells: list[Cell], g_all: np.ndarray) -> Estimate:
    """Σ w_c · att_c with w_c ∝ the size of cell c's cohort, including the influence of the
    estimated weights (R's ``wif``)."""
    n = len(g_all)
    groups = [c.group for c in cells]
    p = np.array([np.mean(g_all == g) for g in groups])
    s = p.sum()
    w = p / s
    est = np.array([c.att for c in cells])
    psi = sum(wi * c.influence for wi, c in zip(w, cells, strict=False))
    ind = np.array([(g_all == g).astype(float) for g in groups])  # k × N
    psi_p = ind - p[:, None]
    psi_w = psi_p / s - np.outer(p, psi_p.sum(axis=0)) / s ** 2
    psi = psi + est @ psi_w
    treated = np.zeros(n, bool)
    control = np.zeros(n, bool)
    for c in cells:
        treated |= c.treated
        control |= c.control
    return Estimate(float(w @ est), psi, int(treated.sum()), int(control.sum()))


def _average(estimates: list[Estimate]) -> Estimate:
    k = len(estimates)
    return Estimate(
        float(np.mean([e.estimate for e in estimates])),
        sum(e.influence for e in estimates) / k,
        max(e.n_treated for e in estimates), max(e.n_control for e in estimates),
    )


def _cohort_mean(cells: list[Cell]) -> Cell:
    return Cell(cells[0].group, cells[0].group, float(np.mean([c.att for c in cells])),
                sum(c.influence for c in cells) / len(cells),
                np.any([c.treated for c in cells], axis=0), np.any([c.control for c in cells], axis=0))


def aggregate(cells: list[Cell], panel: Panel, base_period: str = DEFAULT_BASE_PERIOD) -> Result:
    result = Result(None, cells=cells, base_period=base_period, diagnostics=list(panel.diagnostics))
    if not cells:
        return result
    post = [c for c in cells if c.year >= c.group]
    if post:
        by_group = {g: _cohort_mean([c for c in post if c.group == g]) for g in sorted({c.group for c in post})}
        result.group = {g: Estimate(c.att, c.influence, int(c.treated.sum()), int(c.control.sum()))
                        for g, c in by_group.items()}
        result.overall = _weighted(list(by_group.values()), panel.g)
        moved = np.zeros(panel.n, bool)
        for c in post:  # c.treated holds only units seen in both years
            moved |= c.treated & (panel.col(c.year) != panel.col(c.base))
        result.n_treated_changed = int(moved.sum())
        result.simple = _weighted(post, panel.g)
        result.calendar = {t: _weighted([c for c in post if c.year == t], panel.g)
                           for t in sorted({c.year for c in post})}
        result.calendar_overall = _average(list(result.calendar.values()))
    result.event_time = {e: _weighted([c for c in cells if c.year - c.group == e], panel.g)
                         for e in sorted({c.year - c.group for c in cells})}
    after = [v for e, v in result.event_time.items() if e >= 0]
    result.dynamic = _average(after) if after else None
    pre = [c for c in cells if c.year < c.group]
    if pre:
        theta = np.array([c.att for c in pre])
        psi = np.vstack([c.influence for c in pre])  # k × N
        cov = psi @ psi.T / panel.n ** 2
        stat = float(theta @ np.linalg.pinv(cov) @ theta)
        df = int(np.linalg.matrix_rank(cov))
        result.pretrend_stat, result.pretrend_df, result.pretrend_p = stat, df, chi2_sf(stat, df)
    return result


def estimate(frame: pd.DataFrame, outcome: str, control: str = "not_yet_treated",
             covariates: tuple[str, ...] = DEFAULT_COVARIATES, base_period: str = DEFAULT_BASE_PERIOD,
             unit: str = "municipality_id", year: str = "year", group: str = "treatment_year") -> Result:
    """CS DiD of ``outcome`` on a long panel (unit, year, treatment year, covariates)."""
    panel = Panel(frame, outcome, unit=unit, year=year, group=group, covariates=covariates)
    cells, notes = group_time(panel, control, base_period)
    result = aggregate(cells, panel, base_period)
    result.diagnostics += notes
    result.units = panel.units
    return result


def on_units(e: Estimate, units: np.ndarray, to: np.ndarray) -> Estimate:
    """``e`` (influence over ``units``) with its influence over the units ``to`` (a superset), so that
    estimates from different panels of the same units can be bootstrapped together: a unit
    ``e`` does not use has influence 0, and the rest are rescaled so that the standard error
    (and every multiplier-bootstrap draw of the error) is unchanged."""
    position = {u: i for i, u in enumerate(to)}
    influence = np.zeros(len(to))
    influence[[position[u] for u in units]] = e.influence * (len(to) / len(units))
    return Estimate(e.estimate, influence, e.n_treated, e.n_control)


def _sup_t_draws(effects: dict[int, Estimate], draws: int, seed: int) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Multiplier bootstrap (Mammen weights, as R's ``did``) of the largest standardised error.

    Each draw multiplies every unit's influence by a weight of mean 0 and variance 1, giving a
    draw of the estimation errors of all effects at once, standardised by the analytic standard
    errors. Returns (keys, standard errors, the draws' maxima over the effects).
    """
    keys = [k for k, e in effects.items() if e.std_error > 0]
    if not keys:
        return [], np.array([]), np.array([])
    psi = np.column_stack([effects[k].influence for k in keys])  # N × k
    n = psi.shape[0]
    se = np.array([effects[k].std_error for k in keys])
    rng = np.random.default_rng(seed)
    root5 = math.sqrt(5)
    weights = np.where(rng.random((draws, n)) < (root5 + 1) / (2 * root5), (1 - root5) / 2, (1 + root5) / 2)
    errors = weights @ psi / n  # draws × k
    return keys, se, np.max(np.abs(errors / se), axis=1)


def uniform_band(effects: dict[int, Estimate], draws: int = BAND_DRAWS, seed: int = BAND_SEED,
                 level: float = 0.95) -> dict[int, tuple[float, float]]:
    """Simultaneous band over all ``effects`` by multiplier bootstrap, as R's ``did`` (``cband``):
    the critical value is the ``level`` quantile of the largest standardised error, so the band
    covers all effects together with probability ``level``. Never narrower than the pointwise
    interval."""
    keys, se, sup = _sup_t_draws(effects, draws, seed)
    if not keys:
        return {}
    crit = max(float(np.quantile(sup, level, method="inverted_cdf")), Z95)
    alpha = 2 * stats.norm.sf(crit)  # the per-effect level the joint coverage needs
    out = {}
    for k, s in zip(keys, se, strict=False):
        half = stats.t.isf(alpha / 2, effects[k].df) * s  # the same level on Student's t, as ``ci``
        out[k] = (effects[k].estimate - half, effects[k].estimate + half)
    return out


def sup_t_adjusted_p(effects: dict, draws: int = BAND_DRAWS, seed: int = BAND_SEED) -> dict:
    """Each effect's single-step max-t adjusted p-value within the family ``effects``: the
    bootstrap probability that the largest standardised error of the family reaches the effect's
    own |t|. Below 0.05 exactly when the effect lies outside the family's 95% simultaneous band.
    Effects with no variance are left out."""
    keys, se, sup = _sup_t_draws(effects, draws, seed)
    out = {}
    for k, s in zip(keys, se, strict=False):
        # |t| on Student's t(df), put on the normal scale of the bootstrap draws
        observed = stats.norm.isf(stats.t.sf(abs(effects[k].estimate) / s, effects[k].df))
        out[k] = float(np.mean(sup >= observed))
    return out


def sup_t_p_value(effects: dict, draws: int = BAND_DRAWS, seed: int = BAND_SEED) -> float:
    """p-value of "every effect is zero" by the sup-t statistic (the largest |estimate / se|)
    against its multiplier-bootstrap distribution: below 0.05 exactly when some effect lies
    outside the 95% simultaneous band. Used as the pre-trend test of the verdict: unlike the
    Wald test, it does not invert a covariance matrix estimated from a handful of treated units
    (with 16 treated municipalities and 13 pre-treatment cells the Wald test rejects far more
    often than 5% under parallel trends)."""
    adjusted = sup_t_adjusted_p(effects, draws, seed)
    return min(adjusted.values()) if adjusted else float("nan")


def chi2_sf(x: float, k: int) -> float:
    """Survival function of χ²(k) (closed forms for integer k; no scipy needed)."""
    if k <= 0 or not math.isfinite(x):
        return float("nan")
    if x <= 0:
        return 1.0
    if k % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, k // 2):
            term *= (x / 2) / i
            total += term
        return float(math.exp(-x / 2) * total)
    total = math.erfc(math.sqrt(x / 2))
    term = math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    for i in range(1, (k + 1) // 2):
        total += term
        term *= x / (2 * i + 1)
    return float(min(1.0, total))

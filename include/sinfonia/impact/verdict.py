"""What one run of estimates may claim: Holm-adjusted p-values and a verdict per outcome.

Many outcomes are tested in one run; at 5% each, a false finding somewhere is the expected
result. So:

- ``holm``: Holm's step-down adjustment (controls the family-wise error rate at any dependence).
  The family is one method's overall estimates across the outcomes of the run.
- ``verdict``: for each outcome, from its headline (``cs_did``) overall row, its pre-trend test
  and its placebo:

  * ``evidencia de efecto`` only when the Holm-adjusted p-value is below ``ALPHA`` and parallel
    pre-trends are not rejected at ``ALPHA``: the pre-trend test and the placebo are one test
    family at ``ALPHA`` (``sinfonia.impact.pre_period_checks``), so the pre-trend p-value is not
    below ``ALPHA`` and the placebo's band within the family contains zero (its own 95% interval
    when it has no band); a missing check counts as failed;
  * ``sin datos suficientes`` when fewer than ``MIN_TREATED`` treated units have
    post-treatment years, or when fewer than ``MIN_CHANGED`` of them changed value after
    treatment (``n_treated_changed``: an outcome that moves in steps, such as the IDF's cadastral
    bonus of 0 or 2 points, may have a cohort of which one municipality or none changed; the
    treated side then has no variance of its own, the standard error rests on the controls alone
    and the t-test claims effects that are not there: 3 of 5 false claims in 120 null seeds before
    this rule). Such an outcome is also left out of its method's Holm family (``too_few_changed``):
    its p-value is not a valid one;
  * ``no concluyente`` otherwise, with every failed condition named in ``verdict_reason``.

- ``min_detectable_effect``: how large an effect the data at hand could have shown. For an
  estimate with standard error ``se`` on Student's t with ``df`` degrees of freedom (treated
  units - 1, as its interval), in a Holm family of ``K`` outcomes, the smallest true effect
  that the test finds with probability ``POWER`` (0.8) when it is the family's only effect:
  ``(t_{1 - ALPHA / (2K)} + t_{POWER}) · se`` (Bloom, 1995, "Minimum detectable effects"; ``ALPHA /
  K`` is Holm's first, strictest step, which an effect alone in its family must pass). It is a
  statement about the effect test only: the verdict also needs the pre-period checks to pass.

Text meant for ESAP staff (the reason) is Spanish, numbers in Colombian format (``numero``,
``valor_p``: decimal comma, ``< 0,001``).
"""

from __future__ import annotations

import math

from scipy import stats

ALPHA = 0.05
POWER = 0.8
MIN_TREATED = 10
MIN_CHANGED = 5  # treated units whose outcome moved: the usual n·p >= 5 of a proportion's normal approximation
P_ADJUST_METHOD = "holm"
EFFECT, INCONCLUSIVE, NO_DATA = "evidencia de efecto", "no concluyente", "sin datos suficientes"
VERDICTS = (EFFECT, INCONCLUSIVE, NO_DATA)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input order; missing (None/NaN) stay missing and do not count."""
    valid = [(p, i) for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    m = len(valid)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(valid)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def min_detectable_effect(std_error: float | None, n_treated: int | None, family_size: int,
                          alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest effect (in the outcome's points) that a test at family-wise level ``alpha``
    over ``family_size`` outcomes (Holm) finds with probability ``power``, for an estimate with
    this standard error on Student's t with ``n_treated - 1`` degrees of freedom; None without a
    standard error or a family."""
    if _missing(std_error) or _missing(n_treated) or family_size < 1 or std_error < 0:
        return None
    df = max(1, int(n_treated) - 1)
    return float((stats.t.isf(alpha / (2 * family_size), df) + stats.t.ppf(power, df)) * std_error)


def too_few_changed(n_changed) -> bool:
    """True when a count of treated units whose outcome changed is known and below ``MIN_CHANGED``."""
    return not _missing(n_changed) and int(n_changed) < MIN_CHANGED


def numero(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """Colombian format: period for thousands, comma for decimals (1.234,56); — when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if round(value, digits) == 0:
        value = 0.0  # never "-0,00"
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def valor_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "—"
    return "< 0,001" if p < 0.001 else numero(p, 3)


def _p_text(p: float | None) -> str:
    text = valor_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def placebo_interval(placebo: dict) -> tuple[float, float, str]:
    """(low, high, Spanish label) the placebo is judged on: its band within the pre-period family
    (``band_low``/``band_high``, see ``sinfonia.impact.pre_period_checks``) when it has one, else
    its own 95% interval."""
    if _missing(placebo.get("band_low")) or _missing(placebo.get("band_high")):
        return placebo["ci_low"], placebo["ci_high"], "IC 95%"
    return placebo["band_low"], placebo["band_high"], "intervalo 95% conjunto con las tendencias previas"


def verdict(cs: dict | None, pretrend: dict | None, placebo: dict | None) -> tuple[str, str]:
    """(verdict, reason in Spanish) for one outcome from its rows (dicts with the mart's columns)."""
    if cs is None or cs["n_treated"] < MIN_TREATED:
        n = 0 if cs is None else cs["n_treated"]
        return NO_DATA, (f"solo {n} municipios tratados tienen años posteriores al tratamiento con datos; "
                         f"se necesitan al menos {MIN_TREATED}")
    if too_few_changed(cs.get("n_treated_changed")):
        n = int(cs["n_treated_changed"])
        return NO_DATA, (f"solo {n} de los {cs['n_treated']} municipios tratados cambiaron de valor después del "
                         f"tratamiento; se necesitan al menos {MIN_CHANGED} para estimar cuánto varía el efecto "
                         "entre municipios")
    failed = []
    adjusted = cs.get("p_value_adjusted")
    if adjusted is None or math.isnan(adjusted) or adjusted >= ALPHA:
        failed.append("el efecto no se distingue de cero al considerar todos los indicadores evaluados "
                      f"(valor p ajustado por Holm: {_p_text(adjusted)})")
    if pretrend is None or pretrend.get("p_value") is None or math.isnan(pretrend["p_value"]):
        failed.append("no hay años previos suficientes para comprobar que las tendencias eran paralelas")
    elif pretrend["p_value"] < ALPHA:
        failed.append("antes del tratamiento los municipios tratados ya evolucionaban distinto "
                      f"(prueba de tendencias previas, {_p_text(pretrend['p_value'])})")
    if placebo is None:
        failed.append("no hay años suficientes antes del tratamiento para el placebo")
    else:
        low, high, label = placebo_interval(placebo)
        if not low <= 0 <= high:
            failed.append(f"el placebo, que debería dar cero, da {numero(placebo['estimate'], sign=True)} puntos "
                          f"({label} {numero(low, sign=True)} a {numero(high, sign=True)})")
    if failed:
        return INCONCLUSIVE, "; ".join(failed)
    return EFFECT, (f"valor p ajustado por Holm {_p_text(adjusted)}, tendencias previas paralelas "
                    f"({_p_text(pretrend['p_value'])}) y placebo compatible con cero")

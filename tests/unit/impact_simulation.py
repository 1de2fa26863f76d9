"""Simulated municipality panels for the impact estimator's tests (built here, not read).

Shaped like the real problem: ~1,100 municipalities, 9 years (2016–2024), staggered adoption
only in the last three years, about 10% treated. Selection follows need: low-capacity, PDET and
6th-category municipalities are treated more often, and low-capacity and PDET municipalities
also have lower MDM levels and faster trends (catching up). Trends depend on the covariates the
estimator conditions on (capacity group, PDET) and on nothing else, so conditional parallel
trends hold; a naive comparison is biased upwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

YEARS = list(range(2016, 2025))
COHORTS = (2022, 2023, 2024)


def simulate(seed: int, effect: float, n: int = 1100, share_treated: float = 0.10,
             pre_trend: float = 0.0, noise: float = 2.0) -> pd.DataFrame:
    """Long panel with municipality_id, year, treatment_year, covariates, cumulative_delivered, mdm.

    ``effect``: MDM points added from the treatment year on. ``pre_trend``: extra points per year
    for treated municipalities before treatment (a violation of parallel trends).
    """
    rng = np.random.default_rng(seed)
    capacity = rng.beta(2.0, 3.5, n)
    need = np.digitize(capacity, np.quantile(capacity, [0.8, 0.6, 0.4, 0.2]))  # 0 (G1) … 4 (G5)
    capacity_group = np.array([f"G{k + 1}" for k in need])
    pdet = rng.random(n) < np.where(capacity < 0.25, 0.35, 0.08)
    category = np.where(capacity + rng.normal(0, 0.05, n) < 0.6, "6",
                        np.where(capacity < 0.75, "5", "4"))
    level = 35 + 40 * capacity + rng.normal(0, 5, n)
    slope = 0.2 + 0.4 * need + 0.6 * pdet
    score = 0.8 * need + 1.2 * pdet + 0.6 * (category == "6") - 0.03 * (level - level.mean()) \
        + rng.normal(0, 1.0, n)
    treated = score >= np.quantile(score, 1 - share_treated)
    cohort = np.where(treated, rng.choice(COHORTS, n), np.nan)
    shocks = rng.normal(0, 1.0, len(YEARS)) + 0.3 * np.arange(len(YEARS))
    rows = []
    for i in range(n):
        extra_dose = int(rng.integers(0, 5)) if not treated[i] and rng.random() < 0.3 else 0
        for k, t in enumerate(YEARS):
            y = level[i] + shocks[k] + slope[i] * k + rng.normal(0, noise)
            g = cohort[i]
            if treated[i] and t >= g:
                y += effect
            if treated[i] and t < g:
                y += pre_trend * (t - (g - 1))
            if treated[i]:
                cum = 0 if t < g - 1 else (3 if t == g - 1 else 5 + int(t - g))
            else:
                cum = extra_dose if t >= COHORTS[0] else 0
            rows.append((f"{i:05d}", t, None if np.isnan(g) else int(g), capacity_group[i],
                         category[i], bool(pdet[i]), cum, float(np.clip(y, 0, 100))))
    return pd.DataFrame(rows, columns=["municipality_id", "year", "treatment_year", "capacity_group",
                                       "category", "is_pdet", "cumulative_delivered", "mdm"])

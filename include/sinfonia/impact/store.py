"""Read the impact panel from ``marts`` and write ``marts.mart_impact_estimates``.

Where the estimates live, and why there: ``publish`` drops and recreates, in ``marts``, every
table that exists in ``marts_build``. The estimates are written by Python, not dbt, so they are
never in ``marts_build``: the impact DAG (scheduled by the published-marts Asset) reads the
*published* panel and replaces ``marts.mart_impact_estimates`` in one transaction of its own
(create if missing, delete, insert, check). A later ``publish`` leaves the table alone, and
readers see either the previous estimates or the new ones, never a mix. The rows are checked
(key unique, ``ci_low <= estimate <= ci_high``, ``std_error >= 0``) before the commit.
"""

from __future__ import annotations

import math

import pandas as pd

from sinfonia import db
from sinfonia.impact import COLUMNS, estimate_all

TABLE = "marts.mart_impact_estimates"

DDL = f"""
create table if not exists {TABLE} (
    outcome      text not null,
    method       text not null,
    event_time   integer,
    estimate     double precision not null,
    std_error    double precision not null check (std_error >= 0),
    ci_low       double precision not null,
    ci_high      double precision not null,
    p_value      double precision check (p_value between 0 and 1),
    n_treated    integer not null check (n_treated >= 0),
    n_control    integer not null check (n_control >= 0),
    threshold    integer not null check (threshold > 0),
    p_value_adjusted double precision check (p_value_adjusted between 0 and 1),
    p_adjust_method  text,
    band_low     double precision,
    band_high    double precision,
    band_draws   integer,
    band_seed    bigint,
    base_period  text not null check (base_period in ('varying', 'universal')),
    verdict      text check (verdict in ('evidencia de efecto', 'no concluyente', 'sin datos suficientes')),
    verdict_reason text,
    diagnostics  jsonb,
    computed_at  timestamptz not null default now(),
    constraint mart_impact_estimates_pk unique nulls not distinct (outcome, method, event_time),
    constraint mart_impact_estimates_ci check (ci_low <= estimate and estimate <= ci_high)
);
-- a table written before issue 17 gains the new columns (its rows are replaced right after)
alter table {TABLE}
    add column if not exists p_value_adjusted double precision,
    add column if not exists p_adjust_method text,
    add column if not exists band_low double precision,
    add column if not exists band_high double precision,
    add column if not exists band_draws integer,
    add column if not exists band_seed bigint,
    add column if not exists base_period text,
    add column if not exists verdict text,
    add column if not exists verdict_reason text,
    add column if not exists diagnostics jsonb;
comment on table {TABLE} is
    'Impact estimates of ESAP assistance (written by the impact DAG, not dbt). One row per outcome, method and event time (null: overall effect).';
comment on column {TABLE}.event_time is 'Years since treatment (0 = first treated year); null for the overall effect.';
comment on column {TABLE}.method is 'cs_did (Callaway-Sant''Anna, not-yet-treated controls, covariates), cs_did_never_treated, cs_did_unconditional, naive, pretrend, placebo, dose_1_2, dose_3_4, dose_5_plus.';
comment on column {TABLE}.p_value is 'Two-sided p-value of estimate = 0; for pretrend, the sup-t test of all pre-period event-time effects (bootstrap, as the band).';
comment on column {TABLE}.p_value_adjusted is 'Family-wise adjusted p-value (p_adjust_method, Holm by default) of one method''s overall estimates across the outcomes of the run; null for event times.';
comment on column {TABLE}.band_low is 'Lower end of the 95% simultaneous band over all event times (multiplier bootstrap, band_draws draws, seed band_seed); null for overall rows.';
comment on column {TABLE}.base_period is 'varying (R did''s default: the previous year before treatment, the year before the cohort after) or universal (the year before the cohort).';
comment on column {TABLE}.verdict is 'On the cs_did overall row of each outcome: evidencia de efecto, no concluyente or sin datos suficientes; verdict_reason says why.';
comment on column {TABLE}.diagnostics is 'What the method left out or changed and why (cohorts, cells, units; sinfonia.impact.did.REASONS), on the overall row.';
"""


def read_panel(conn) -> pd.DataFrame:
    cur = conn.execute("select * from marts.mart_impact_panel order by municipality_id, year")
    cols = [d.name for d in cur.description]
    frame = pd.DataFrame(cur.fetchall(), columns=cols)
    for c in frame.columns:
        if c not in ("municipality_id", "dose_group", "capacity_group", "category", "is_pdet"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


def check(rows: pd.DataFrame) -> None:
    key = rows[["outcome", "method", "event_time"]].astype(str)
    if key.duplicated().any():
        raise ValueError(f"duplicate impact estimate keys: {key[key.duplicated()].values.tolist()[:3]}")
    for r in rows.itertuples():
        if not all(math.isfinite(v) for v in (r.estimate, r.std_error, r.ci_low, r.ci_high)):
            raise ValueError(f"impact estimate {r.outcome}/{r.method}/{r.event_time} is not finite")


def write_estimates(conn, rows: pd.DataFrame) -> int:
    check(rows)
    ints = ("event_time", "n_treated", "n_control", "threshold", "band_draws", "band_seed")
    records = [tuple(None if pd.isna(v) else (int(v) if c in ints else v)
                     for c, v in zip(COLUMNS, r)) for r in rows[list(COLUMNS)].itertuples(index=False)]
    with conn.transaction():
        conn.execute("create schema if not exists marts")
        conn.execute(DDL)
        conn.execute(f"delete from {TABLE}")
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({', '.join(['%s'] * len(COLUMNS))})",
                records)
    return len(records)


def run(dsn: str) -> dict[str, int]:
    """Estimate from the published panel and replace the published estimates."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('marts.mart_impact_panel')").fetchone()[0] is None:
            raise RuntimeError("marts.mart_impact_panel is not published: run the transform DAG first")
        frame = read_panel(conn)
        threshold = int(frame["threshold"].dropna().iloc[0]) if frame["threshold"].notna().any() else 5
        rows = estimate_all(frame, threshold)
        n = write_estimates(conn, rows)
    return {"rows": n, "outcomes": int(rows["outcome"].nunique()) if n else 0,
            "treated": int(frame.drop_duplicates("municipality_id")["treatment_year"].notna().sum())}

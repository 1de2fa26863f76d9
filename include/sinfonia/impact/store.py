"""Estimate from the published impact panel and hand the rows to dbt.

The estimator's rows go to ``intermediate.impact_estimates``, a working table that analysts do
not read (the dbt source ``impact.impact_estimates``), replaced whole in one transaction. The dbt
model ``mart_impact_estimates`` (an enforced contract, tests, docs) selects from it into
``marts_build``; the impact DAG then runs the marts gate (suite ``marts_mart_impact_estimates``:
key unique, ``ci_low <= estimate <= ci_high``, ``std_error >= 0``) and ``publish``, the one writer of
``marts``. The table's columns are ``sinfonia.impact.COLUMNS``, typed by :data:`TYPES`.
"""

from __future__ import annotations

import json

import pandas as pd
from psycopg import sql
from psycopg.types.json import Jsonb

from sinfonia import db
from sinfonia.impact import COLUMNS, estimate_all

SCHEMA, TABLE = "intermediate", "impact_estimates"
PANEL = "marts.mart_impact_panel"  # the published, gated panel

# The SQL type of every column the estimator may produce (DESIGN.md §5, mart_impact_estimates).
TYPES = {
    "outcome": "text", "method": "text", "event_time": "integer",
    "estimate": "double precision", "std_error": "double precision",
    "ci_low": "double precision", "ci_high": "double precision",
    "p_value": "double precision", "p_value_adjusted": "double precision",
    "min_detectable_effect": "double precision",
    "band_low": "double precision", "band_high": "double precision",
    "n_treated": "integer", "n_treated_changed": "integer", "n_control": "integer", "threshold": "integer",
    "base_period": "text", "verdict": "text",
    "p_adjust_method": "text", "band_draws": "integer", "band_seed": "bigint",
    "verdict_reason": "text", "diagnostics": "jsonb",
}


def ddl(columns=COLUMNS) -> sql.Composed:
    unknown = [c for c in columns if c not in TYPES]
    if unknown:
        raise ValueError(f"sinfonia.impact.COLUMNS has {', '.join(unknown)}: add its SQL type to "
                         "sinfonia.impact.store.TYPES (and the column to mart_impact_estimates' contract)")
    return sql.SQL("create table {} ({}, computed_at timestamptz not null default now())").format(
        sql.Identifier(SCHEMA, TABLE),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(TYPES[c])) for c in columns))


def read_panel(conn) -> pd.DataFrame:
    panel = sql.Identifier(*PANEL.split("."))
    cur = conn.execute(sql.SQL("select * from {} order by municipality_id, year").format(panel))
    cols = [d.name for d in cur.description]
    frame = pd.DataFrame(cur.fetchall(), columns=cols)
    for c in frame.columns:
        if c not in ("municipality_id", "dose_group", "capacity_group", "category", "is_pdet"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


def _value(column: str, v):
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if TYPES[column] in ("integer", "bigint"):
        return int(v)
    if TYPES[column] == "jsonb":
        return Jsonb(json.loads(v) if isinstance(v, str) else v)
    return v


def write_estimates(conn, rows: pd.DataFrame) -> int:
    """Replace ``intermediate.impact_estimates`` with ``rows`` (one transaction)."""
    records = [tuple(_value(c, v) for c, v in zip(COLUMNS, r, strict=False))
               for r in rows[list(COLUMNS)].itertuples(index=False)]
    table = sql.Identifier(SCHEMA, TABLE)
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(ddl())
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("insert into {} ({}) values ({})").format(
                table, sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                sql.SQL(", ").join([sql.Placeholder()] * len(COLUMNS))), records)
    return len(records)


def run(dsn: str) -> dict[str, int]:
    """Estimate from the published panel into ``intermediate.impact_estimates``."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass(%s)", (PANEL,)).fetchone()[0] is None:
            raise RuntimeError(f"{PANEL} is not published: run the transform DAG first")
        frame = read_panel(conn)
        threshold = int(frame["threshold"].dropna().iloc[0]) if frame["threshold"].notna().any() else 5
        rows = estimate_all(frame, threshold)
        n = write_estimates(conn, rows)
    return {"rows": n, "outcomes": int(rows["outcome"].nunique()) if n else 0,
            "treated": int(frame.drop_duplicates("municipality_id")["treatment_year"].notna().sum())}


def overall_effects(dsn: str) -> list[tuple]:
    """The published overall effects (``cs_did`` and ``naive``): outcome, method, estimate, interval,
    minimum detectable effect, verdict and its reason, by outcome."""
    with db.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "select outcome, method, estimate, ci_low, ci_high, min_detectable_effect, verdict, verdict_reason "
            "from marts.mart_impact_estimates where event_time is null and method in ('cs_did', 'naive') "
            "order by outcome, method").fetchall()

"""The yearly prioritisation snapshot (DESIGN.md §6): ``marts.mart_prioritisation``.

One run computes one prioritisation year as of a date, in one transaction, with the SQL in
``sql/prioritisation.sql`` (the formula, readable by anyone who wants to recompute it). Design:

- **A snapshot kept per year.** ``marts.mart_prioritisation`` holds every year's list (primary
  key ``prioritisation_year, municipality_id``). It is written by this module, not by dbt:
  ``publish`` only replaces tables that dbt built in ``marts_build``, so this table survives every
  publication of the other marts (it reads them; it does not depend on them as a view would).
- **A past year is never rewritten unless asked.** When the year already has rows, a run keeps
  them (and says so, warning when the inputs changed since) unless ``force`` is given.
- **Reproducible.** The rows depend only on the inputs (marts, goals, seeds) and the parameters:
  no timestamps or run ids in them; re-running a year with the same inputs gives identical rows.
- **Recorded.** Every run, written or kept, is a row of ``meta.prioritisation_run`` with its
  parameters (weights, rules), its input versions (per indicator the latest year and
  ``published_on`` used, a fingerprint of the inputs, the load runs and the publication) and the
  number of rows.
- **Configurable without code.** Weights come from the seed ``prioritisation_weights`` and the
  eligibility rules from ``prioritisation_rules`` (both ``dbt_project/seeds``); invalid weights
  fail the run with a message naming the weight (and fail ``dbt build`` through a data test).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from importlib import resources

import psycopg

from sinfonia import db

log = logging.getLogger(__name__)

INDICATORS = ("mdm", "idf", "imrc", "ipm")
TABLE = "marts.mart_prioritisation"
YEARS = (2000, 2100)  # the prioritisation years accepted, first and last
# Indicator codes of marts.fct_municipal_indicator the method reads (DESIGN.md §5).
SOURCE_CODES = ("mdm", "idf", "imrc_exceso", "imrc_deficit", "ipm", "category")
REQUIRED = ("marts.dim_municipality", "marts.fct_municipal_indicator",
            "intermediate.int_goals__resolved", "seeds.prioritisation_weights",
            "seeds.prioritisation_rules")
DEFAULT_RULES = {"eligible_categories": "5,6", "pdet_eligible": "true", "imrc_component": "max",
                 "default_as_of": "01-15"}

DDL = f"""
create schema if not exists marts;
create schema if not exists meta;
create table if not exists {TABLE} (
    prioritisation_year integer not null,
    municipality_id text not null,
    as_of_date date not null,
    municipality_name text,
    department_id text,
    department_name text,
    directorate_id text,
    is_pdet boolean not null,
    category text,
    category_year integer,
    is_eligible boolean not null,
    eligibility_reason text not null,
    {", ".join(f"{i}_value double precision, {i}_year integer, {i}_percentile double precision, "
               f"{i}_contribution double precision" for i in INDICATORS)},
    indicators_missing text not null,
    need_score double precision,
    national_rank integer,
    directorate_rank integer,
    tier integer,
    directorate_goal integer not null,
    is_selected boolean not null,
    primary key (prioritisation_year, municipality_id)
);
create table if not exists meta.prioritisation_run (
    run_id bigserial primary key,
    prioritisation_year integer not null,
    as_of_date date not null,
    status text not null check (status in ('written', 'kept')),
    forced boolean not null,
    parameters jsonb not null,
    input_versions jsonb not null,
    rows integer not null,
    dag_run_id text,
    run_at timestamptz not null default now()
);
"""


class PrioritisationError(ValueError):
    """Invalid configuration or missing inputs: the message says which and what to do."""


@dataclass(frozen=True)
class Settings:
    year: int
    as_of_date: date
    weights: dict[str, float]
    eligible_categories: tuple[str, ...]
    pdet_eligible: bool
    imrc_component: str

    def parameters(self) -> dict:
        return {"weights": self.weights, "eligible_categories": list(self.eligible_categories),
                "pdet_eligible": self.pdet_eligible, "imrc_component": self.imrc_component}

    def sql_params(self) -> dict:
        return {"year": self.year, "as_of_date": self.as_of_date,
                "eligible_categories": list(self.eligible_categories),
                "pdet_eligible": self.pdet_eligible, "imrc_component": self.imrc_component,
                **{f"w_{i}": self.weights[i] for i in INDICATORS}}


@dataclass(frozen=True)
class RunResult:
    run_id: int
    year: int
    as_of_date: date
    status: str  # written | kept
    rows: int
    eligible: int
    selected: int
    inputs_changed: bool

    def __str__(self) -> str:
        verb = "written" if self.status == "written" else "kept (already snapshotted; --force rewrites it)"
        text = (f"prioritisation {self.year} as of {self.as_of_date}: {verb}; {self.rows} municipalities, "
                f"{self.eligible} eligible, {self.selected} selected (run {self.run_id})")
        if self.inputs_changed:
            text += "; note: the inputs changed since this snapshot was written"
        return text


def validate_weights(weights: dict[str, float]) -> None:
    unknown = sorted(set(weights) - set(INDICATORS))
    if unknown:
        raise PrioritisationError(f"prioritisation_weights: unknown indicator(s) {', '.join(unknown)}; "
                                  f"expected {', '.join(INDICATORS)}")
    for name, w in weights.items():
        if w is None or w != w or w < 0:
            raise PrioritisationError(f"prioritisation_weights: weight of {name} is {w}; weights must be >= 0")
    if not any(w > 0 for w in weights.values()):
        raise PrioritisationError("prioritisation_weights: at least one weight must be positive")


def settings(conn: psycopg.Connection, year: int, as_of_date: date | None = None) -> Settings:
    """Weights and rules from the seeds, validated; indicators absent from the seed weigh 0."""
    rows = conn.execute("select indicator, weight from seeds.prioritisation_weights").fetchall()
    weights = {str(i).strip().lower(): (None if w is None else float(w)) for i, w in rows}
    validate_weights(weights)
    weights = {i: weights.get(i, 0.0) for i in INDICATORS}
    rules = dict(DEFAULT_RULES)
    rules.update({str(r).strip(): str(v).strip() for r, v in
                  conn.execute("select rule, value from seeds.prioritisation_rules") if v is not None})
    categories = tuple(c.strip().upper() for c in rules["eligible_categories"].split(",") if c.strip())
    bad = [c for c in categories if c not in {"E", "1", "2", "3", "4", "5", "6"}]
    if bad:
        raise PrioritisationError(f"prioritisation_rules: eligible_categories has {', '.join(bad)}; "
                                  "expected categories among E, 1–6")
    pdet = rules["pdet_eligible"].lower()
    if pdet not in {"true", "false"}:
        raise PrioritisationError(f"prioritisation_rules: pdet_eligible is {pdet!r}; expected true or false")
    imrc = rules["imrc_component"].lower()
    if imrc not in {"max", "exceso", "deficit"}:
        raise PrioritisationError(f"prioritisation_rules: imrc_component is {imrc!r}; "
                                  "expected max, exceso or deficit")
    if as_of_date is None:
        try:
            month, day = (int(x) for x in rules["default_as_of"].split("-"))
            as_of_date = date(year, month, day)
        except ValueError as exc:
            raise PrioritisationError(f"prioritisation_rules: default_as_of is {rules['default_as_of']!r}; "
                                      "expected MM-DD") from exc
    return Settings(year, as_of_date, weights, categories, pdet == "true", imrc)


def snapshot_sql() -> str:
    text = resources.files("sinfonia").joinpath("sql/prioritisation.sql").read_text()
    indicator_columns = ",\n        ".join(
        f"max(value) filter (where indicator = '{i}') as {i}_value,\n"
        f"        max(year) filter (where indicator = '{i}') as {i}_year" for i in INDICATORS)
    percentile_columns = ",\n        ".join(
        f"max(eligible_values.percentile) filter (where eligible_values.indicator = '{i}') as {i}_percentile,\n"
        f"        max(eligible_values.weight * eligible_values.percentile / nullif(scores.weight_total, 0)) "
        f"filter (where eligible_values.indicator = '{i}') as {i}_contribution" for i in INDICATORS)
    missing = "concat_ws(', ', " + ", ".join(
        f"case when {i}_value is null then '{i}' end" for i in INDICATORS) + ")"
    return text.format(indicator_columns=indicator_columns, percentile_columns=percentile_columns,
                       missing_list=missing)


def input_versions(conn: psycopg.Connection, s: Settings) -> dict:
    """What the run read: per indicator code the latest year and publication used, a fingerprint."""
    per_indicator = {
        ind: {"max_year": y, "max_published_on": str(p) if p else None, "rows": n}
        for ind, y, p, n in conn.execute(
            """select indicator, max(year), max(published_on), count(*)
                 from marts.fct_municipal_indicator
                where published_on <= %s and indicator = any(%s) group by indicator""",
            (s.as_of_date, list(SOURCE_CODES)))
    }
    fingerprint = conn.execute(
        """select md5(coalesce((select string_agg(concat_ws('|', municipality_id, indicator, year, value,
                      value_label, published_on), ',' order by municipality_id, indicator, year)
                  from marts.fct_municipal_indicator where published_on <= %(d)s and indicator = any(%(c)s)), '')
              || coalesce((select string_agg(concat_ws('|', municipality_id, entity_type, directorate_id, is_pdet),
                      ',' order by municipality_id) from marts.dim_municipality), '')
              || coalesce((select string_agg(concat_ws('|', directorate_id, thematic_line_id, goal), ','
                      order by directorate_id, thematic_line_id) from intermediate.int_goals__resolved
                  where goal_year = %(y)s), ''))""",
        {"d": s.as_of_date, "c": list(SOURCE_CODES), "y": s.year}).fetchone()[0]
    versions: dict = {"indicators": per_indicator, "inputs_md5": fingerprint}
    if conn.execute("select to_regclass('meta.load_run')").fetchone()[0]:
        versions["load_runs"] = {
            src: ids for src, ids in conn.execute(
                "select source, jsonb_object_agg(period, load_id order by period) from meta.load_run "
                "where status = 'loaded' group by source order by source")}
    if conn.execute("select to_regclass('meta.publication')").fetchone()[0]:
        versions["publication_id"] = conn.execute("select max(publication_id) from meta.publication").fetchone()[0]
    return versions


def ensure_tables(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def check_inputs(conn: psycopg.Connection) -> None:
    missing = [t for t in REQUIRED if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0] is None]
    if missing:
        raise PrioritisationError(f"prioritisation needs {', '.join(missing)}, which the warehouse lacks: "
                                  "run `sinfonia build` (dbt seeds and marts) first")


def run(dsn: str | None, year: int, as_of_date: date | None = None, force: bool = False,
        dag_run_id: str | None = None) -> RunResult:
    """Snapshot ``year`` (or keep its existing snapshot) and record the run; one transaction."""
    if not YEARS[0] <= int(year) <= YEARS[1]:
        raise PrioritisationError(f"prioritisation year {year} is out of range ({YEARS[0]}–{YEARS[1]})")
    with db.connect(dsn, autocommit=True) as conn:
        check_inputs(conn)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('sinfonia.prioritisation'))")
            ensure_tables(conn)
            s = settings(conn, int(year), as_of_date)
            versions = input_versions(conn, s)
            existing = conn.execute(f"select count(*), min(as_of_date) from {TABLE} where prioritisation_year = %s",
                                    (s.year,)).fetchone()
            last = conn.execute(
                "select input_versions->>'inputs_md5', parameters from meta.prioritisation_run "
                "where prioritisation_year = %s and status = 'written' order by run_id desc limit 1",
                (s.year,)).fetchone()
            changed = bool(last) and (last[0] != versions["inputs_md5"] or last[1] != s.parameters())
            if existing[0] and not force:
                status = "kept"
                if existing[1] != s.as_of_date:
                    changed = True
                log.info("prioritisation %s already snapshotted (as of %s): kept", s.year, existing[1])
            else:
                status, changed = "written", False
                conn.execute(f"delete from {TABLE} where prioritisation_year = %s", (s.year,))
                conn.execute(f"insert into {TABLE} {snapshot_sql()}", s.sql_params())
                verify(conn, s.year)
            rows, eligible, selected = conn.execute(
                f"select count(*), count(*) filter (where is_eligible), count(*) filter (where is_selected) "
                f"from {TABLE} where prioritisation_year = %s", (s.year,)).fetchone()
            if status == "written" and rows == 0:
                raise PrioritisationError("prioritisation produced no rows: marts.dim_municipality has no "
                                          "municipalities (run `sinfonia build` first)")
            run_id = conn.execute(
                """insert into meta.prioritisation_run (prioritisation_year, as_of_date, status, forced,
                       parameters, input_versions, rows, dag_run_id)
                   values (%s, %s, %s, %s, %s, %s, %s, %s) returning run_id""",
                (s.year, s.as_of_date if status == "written" else existing[1], status, force,
                 json.dumps(s.parameters()), json.dumps(versions, default=str), rows, dag_run_id),
            ).fetchone()[0]
    result = RunResult(run_id, s.year, s.as_of_date if status == "written" else existing[1], status,
                       rows, eligible, selected, changed)
    log.info("%s", result)
    return result


CHECKS = {  # name → SQL counting the rows of the year that break it (must be 0)
    "need scores, percentiles and contributions lie in 0–100": f"""
        select count(*) from {TABLE} where prioritisation_year = %(y)s and not (
            coalesce(need_score between 0 and 100, true)
            and {" and ".join(f"coalesce({i}_percentile between 0 and 100, true) and "
                              f"coalesce({i}_contribution between 0 and 100, true)" for i in INDICATORS)})""",
    "national ranks are 1..n over the eligible": f"""
        select count(*) from (select national_rank, row_number() over (order by national_rank) as n
            from {TABLE} where prioritisation_year = %(y)s and is_eligible) r
        where national_rank is distinct from n""",
    "directorate ranks are 1..n within each directorate": f"""
        select count(*) from (select directorate_rank,
            row_number() over (partition by directorate_id order by directorate_rank) as n
            from {TABLE} where prioritisation_year = %(y)s and is_eligible) r
        where directorate_rank is distinct from n""",
    "only eligible municipalities are ranked or selected": f"""
        select count(*) from {TABLE} where prioritisation_year = %(y)s and not is_eligible
          and (national_rank is not null or tier is not null or is_selected)""",
    "no directorate selects more than its goal": f"""
        select count(*) from (select directorate_id from {TABLE} where prioritisation_year = %(y)s
            group by directorate_id having count(*) filter (where is_selected) > max(directorate_goal)) g""",
}


def verify(conn: psycopg.Connection, year: int) -> None:
    """Checks of the written snapshot; a failure rolls the run back."""
    broken = {name: n for name, q in CHECKS.items() if (n := conn.execute(q, {"y": year}).fetchone()[0])}
    if broken:
        raise PrioritisationError(f"prioritisation {year} failed its checks: "
                                  + "; ".join(f"{name} ({n} rows break it)" for name, n in broken.items()))


def latest_data_year(dsn: str | None) -> int | None:
    """The latest year with goals: the year a full refresh prioritises."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('intermediate.int_goals__resolved')").fetchone()[0] is None:
            return None
        return conn.execute("select max(goal_year) from intermediate.int_goals__resolved").fetchone()[0]


def goal_years(dsn: str | None) -> list[int]:
    """The years with goals (a positive goal of some directorate); empty before the first build."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('intermediate.int_goals__resolved')").fetchone()[0] is None:
            return []
        return [y for (y,) in conn.execute("select goal_year from intermediate.int_goals__resolved "
                                           "group by goal_year having sum(goal) > 0 order by goal_year")]


SNAPSHOT_TABLES = ("marts_build.mart_prioritisation", TABLE, "meta.prioritisation_run")


def drop_snapshot(dsn: str | None, year: int) -> dict[str, int]:
    """Remove one year's snapshot and its run records, in one transaction: the rows of the year in
    each of ``SNAPSHOT_TABLES`` that exists. Returns the rows removed per table."""
    removed: dict[str, int] = {}
    with db.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('sinfonia.prioritisation'))")
        for table in SNAPSHOT_TABLES:
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                removed[table] = conn.execute(f"delete from {table} where prioritisation_year = %s",
                                              (int(year),)).rowcount
    log.info("prioritisation %s removed: %s", year, removed)
    return removed

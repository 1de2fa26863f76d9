"""The yearly prioritisation snapshot (DESIGN.md §6): ``marts.mart_prioritisation``.

The method is dbt's (``dbt_project/models/intermediate/prioritisation`` and
``models/marts/prioritisation``): one run builds the dbt selector ``prioritisation`` with the dbt
vars ``prioritisation_year``, ``prioritisation_as_of_date`` and ``prioritisation_force``. The
checks of the weights and rules seeds run first, then the year is computed and tested in
``int_prioritisation__candidate``, then appended to the incremental ``mart_prioritisation`` in
``marts_build``; the DAG then gates and publishes it with the other marts (``publish`` is the one
writer of ``marts``). This module holds what is not SQL:

- **A past year is never rewritten unless asked** (the model's rule): when ``marts_build`` already
  holds the year, a run keeps it, and says so (warning when the inputs changed since), unless
  ``force`` is given.
- **Recorded.** Every run, written or kept, is a row of ``meta.prioritisation_run`` with its
  parameters (weights, rules), its input versions (per indicator the latest year and
  ``published_on`` used, a fingerprint of the inputs, the load runs and the publication) and the
  number of rows (:func:`record`).
- **Clear errors.** Invalid weights or rules fail the seeds' tests; :func:`run` turns their
  failing rows into one message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from sinfonia import config, db
from sinfonia.errors import UserError

log = logging.getLogger(__name__)

INDICATORS = ("mdm", "idf", "imrc", "ipm")
# dbt_project/selectors.yml: the year's candidate list first, then (after its certainty) the snapshot.
SELECTORS = ("prioritisation_candidate", "prioritisation")
YEARS = (2000, 2100)  # the prioritisation years accepted, first and last
SNAPSHOT = sql.Identifier(config.MARTS_BUILD, "mart_prioritisation")
# Indicator codes of fct_municipal_indicator the method reads (DESIGN.md §5).
SOURCE_CODES = ("mdm", "idf", "imrc_exceso", "imrc_deficit", "ipm", "category")
REQUIRED = (f"{config.MARTS_BUILD}.dim_municipality", f"{config.MARTS_BUILD}.fct_municipal_indicator",
            "intermediate.int_goals__resolved", "seeds.prioritisation_weights", "seeds.prioritisation_rules")
# The seeds' tests whose failing rows say what is wrong (store_failures, schema intermediate).
SEED_TESTS = ("intermediate.assert_prioritisation_weights_are_valid",
              "intermediate.assert_prioritisation_rules_are_valid")

RUN_DDL = """
create schema if not exists meta;
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


class PrioritisationError(UserError, ValueError):
    """Invalid configuration or missing inputs: the message says which and what to do."""


@dataclass(frozen=True)
class Plan:
    """One run's parameters and what the snapshot held before it (decided before dbt runs)."""

    year: int
    as_of_date: str | None  # ISO date; None: the rule default_as_of
    force: bool
    existing_rows: int

    @property
    def status(self) -> str:
        return "written" if self.force or not self.existing_rows else "kept"

    def dbt_vars(self) -> dict:
        return {"prioritisation_year": self.year, "prioritisation_as_of_date": self.as_of_date,
                "prioritisation_force": self.force}


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


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is not None


def plan(dsn: str | None, year: int, as_of_date: date | str | None = None, force: bool = False) -> Plan:
    """Check the year and the inputs, and note what the snapshot already holds for the year."""
    if not YEARS[0] <= int(year) <= YEARS[1]:
        raise PrioritisationError(f"prioritisation year {year} is out of range ({YEARS[0]}–{YEARS[1]})")
    with db.connect(dsn, autocommit=True) as conn:
        missing = [t for t in REQUIRED if not _exists(conn, t)]
        if missing:
            raise PrioritisationError(f"prioritisation needs {', '.join(missing)}, which the warehouse lacks: "
                                      "run `sinfonia build` (dbt seeds and marts) first")
        existing = 0
        if _exists(conn, f"{config.MARTS_BUILD}.mart_prioritisation"):
            existing = conn.execute(sql.SQL("select count(*) from {} where prioritisation_year = %s")
                                    .format(SNAPSHOT), (int(year),)).fetchone()[0]
    return Plan(int(year), str(as_of_date) if as_of_date else None, bool(force), existing)


def parameters(conn: psycopg.Connection) -> dict:
    """The weights and rules the run used (the seeds, validated by their dbt tests)."""
    weights = {i: 0.0 for i in INDICATORS}
    weights.update({str(i).strip().lower(): float(w) for i, w in
                    conn.execute("select indicator, weight from seeds.prioritisation_weights")})
    rules = {str(r).strip(): str(v).strip() for r, v in
             conn.execute("select rule, value from seeds.prioritisation_rules") if v is not None}
    return {"weights": weights,
            "eligible_categories": [c.strip().upper() for c in rules.get("eligible_categories", "").split(",")
                                    if c.strip()],
            "pdet_eligible": rules.get("pdet_eligible", "").lower() == "true",
            "imrc_component": rules.get("imrc_component", "").lower()}


def input_versions(conn: psycopg.Connection, year: int, as_of_date: date) -> dict:
    """What the run read: per indicator code the latest year and publication used, a fingerprint."""
    build = config.MARTS_BUILD
    indicators = sql.Identifier(build, "fct_municipal_indicator")
    per_indicator = {
        ind: {"max_year": y, "max_published_on": str(p) if p else None, "rows": n}
        for ind, y, p, n in conn.execute(sql.SQL(
            """select indicator, max(year), max(published_on), count(*) from {}
                where published_on <= %s and indicator = any(%s) group by indicator""").format(indicators),
            (as_of_date, list(SOURCE_CODES)))
    }
    fingerprint = conn.execute(sql.SQL(
        """select md5(coalesce((select string_agg(concat_ws('|', municipality_id, indicator, year, value,
                      value_label, published_on), ',' order by municipality_id, indicator, year)
                  from {indicators} where published_on <= %(d)s and indicator = any(%(c)s)), '')
              || coalesce((select string_agg(concat_ws('|', municipality_id, entity_type, directorate_id, is_pdet),
                      ',' order by municipality_id) from {municipalities}), '')
              || coalesce((select string_agg(concat_ws('|', directorate_id, thematic_line_id, goal), ','
                      order by directorate_id, thematic_line_id) from intermediate.int_goals__resolved
                  where goal_year = %(y)s), ''))""").format(
        indicators=indicators, municipalities=sql.Identifier(build, "dim_municipality")),
        {"d": as_of_date, "c": list(SOURCE_CODES), "y": year}).fetchone()[0]
    versions: dict = {"indicators": per_indicator, "inputs_md5": fingerprint}
    if _exists(conn, "meta.load_run"):
        versions["load_runs"] = {
            src: ids for src, ids in conn.execute(
                "select source, jsonb_object_agg(period, load_id order by period) from meta.load_run "
                "where status = 'loaded' group by source order by source")}
    if _exists(conn, "meta.publication"):
        versions["publication_id"] = conn.execute("select max(publication_id) from meta.publication").fetchone()[0]
    return versions


def record(dsn: str | None, p: Plan, dag_run_id: str | None = None) -> RunResult:
    """Record the run (after dbt wrote or kept the year) in ``meta.prioritisation_run``."""
    from sinfonia.bootstrap import comment_meta

    with db.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(RUN_DDL)
        comment_meta(conn)
        rows, eligible, selected, as_of = conn.execute(sql.SQL(
            "select count(*), count(*) filter (where is_eligible), count(*) filter (where is_selected), "
            "min(as_of_date) from {} where prioritisation_year = %s").format(SNAPSHOT), (p.year,)).fetchone()
        if rows == 0:
            raise PrioritisationError(f"prioritisation {p.year} produced no rows: {config.MARTS_BUILD}."
                                      "dim_municipality has no municipalities (run `sinfonia build` first)")
        params = parameters(conn)
        versions = input_versions(conn, p.year, as_of)
        last = conn.execute(
            "select input_versions->>'inputs_md5', parameters from meta.prioritisation_run "
            "where prioritisation_year = %s and status = 'written' order by run_id desc limit 1",
            (p.year,)).fetchone()
        changed = p.status == "kept" and (
            bool(last) and (last[0] != versions["inputs_md5"] or last[1] != params)
            or (p.as_of_date is not None and date.fromisoformat(p.as_of_date) != as_of))
        run_id = conn.execute(
            """insert into meta.prioritisation_run (prioritisation_year, as_of_date, status, forced,
                   parameters, input_versions, rows, dag_run_id)
               values (%s, %s, %s, %s, %s, %s, %s, %s) returning run_id""",
            (p.year, as_of, p.status, p.force, json.dumps(params), json.dumps(versions, default=str), rows,
             dag_run_id)).fetchone()[0]
    result = RunResult(run_id, p.year, as_of, p.status, rows, eligible, selected, changed)
    log.info("%s", result)
    return result


def keep_published(dsn: str, year: int, as_of_date: date | str | None = None) -> RunResult | None:
    """A year already snapshotted and published is kept (without ``force``): recorded at once,
    without running the DAG, whose dbt builds would keep it too. None when the DAG must run: the
    year is not written yet, or written but never published (the DAG gates and publishes it)."""
    p = plan(dsn, year, as_of_date, force=False)
    if p.status != "kept":
        return None
    published = sql.Identifier(config.MARTS, "mart_prioritisation")
    with db.connect(dsn, autocommit=True) as conn:
        if not _exists(conn, f"{config.MARTS}.mart_prioritisation") or not conn.execute(
                sql.SQL("select exists (select from {} where prioritisation_year = %s)").format(published),
                (int(year),)).fetchone()[0]:
            return None
    return record(dsn, p)


# Seed column types whose values must be numbers as dbt loads them (a point for decimals).
NUMERIC_TYPES = {"numeric", "decimal", "integer", "int", "bigint", "smallint", "real", "float", "double precision"}


def seed_file_problems(seeds_dir=None) -> list[str]:
    """Values of the seeds' numeric columns (``column_types`` in ``_seeds.yml``) that are not
    numbers as written in the CSV file, each quoted with its file, row and column: dbt would
    fail to load the seed, and nothing of the run must start on it."""
    import csv
    import re
    from pathlib import Path

    import yaml

    folder = Path(seeds_dir) if seeds_dir else config.DBT_DIR / "seeds"
    declared = yaml.safe_load((folder / "_seeds.yml").read_text(encoding="utf-8")) or {}
    problems = []
    for seed in declared.get("seeds") or []:
        types = ((seed.get("config") or {}).get("column_types")) or {}
        numeric = {c for c, t in types.items() if str(t).strip().lower() in NUMERIC_TYPES}
        path = folder / f"{seed['name']}.csv"
        if not numeric or not path.exists():
            continue
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row_number, row in enumerate(csv.DictReader(fh), start=2):
                for column in sorted(numeric & set(row)):
                    value = row[column]
                    if value is None or not value.strip():
                        continue
                    if not re.fullmatch(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*", value):
                        hint = " (write decimals with a point: " + value.strip().replace(",", ".") + ")" \
                            if re.fullmatch(r"\s*[+-]?\d+,\d+\s*", value) else ""
                        problems.append(f"{path.name}, row {row_number}, column {column}: {value!r} is not a "
                                        f"number{hint}")
    return problems


def clear_seed_problems(dsn: str | None) -> None:
    """Drop the seeds' stored test failures before a build, so that what a failed build reports
    is this run's, never a table an earlier run left (its tests, when they run, store them again)."""
    with db.connect(dsn, autocommit=True) as conn:
        for table in SEED_TESTS:
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(*table.split("."))))


def check_seed_files(dsn: str | None, seeds_dir=None) -> None:
    """Before any dbt build: the seed files as written (a ValueError quoting each bad value and
    naming its file), then no stale stored failure left to be reported."""
    problems = seed_file_problems(seeds_dir)
    if problems:
        raise ValueError("the planning office's seeds are not valid (dbt_project/seeds): " + "; ".join(problems))
    clear_seed_problems(dsn)


def seed_problems(dsn: str | None) -> list[str]:
    """What the seeds' tests found wrong in the weights and rules (their stored failing rows)."""
    with db.connect(dsn, autocommit=True) as conn:
        return [f"{table.split('_are_')[0].removeprefix('intermediate.assert_')}: {problem}"
                for table in SEED_TESTS if _exists(conn, table)
                for (problem,) in conn.execute(sql.SQL("select problem from {}").format(
                    sql.Identifier(*table.split("."))))]


def run(dsn: str, year: int, as_of_date: date | None = None, force: bool = False,
        dag_run_id: str | None = None) -> RunResult:
    """Snapshot ``year`` into ``marts_build`` (or keep it) with dbt, and record the run.

    The DAG runs the same steps as tasks (the dbt builds through Cosmos, the certainty between
    them), then the gate and ``publish``; this function is the dbt part, the certainty and the
    record, for the tests and scripts.
    """
    from sinfonia import certainty, dbt

    p = plan(dsn, year, as_of_date, force)
    try:
        check_seed_files(dsn)
    except ValueError as exc:
        raise PrioritisationError(str(exc)) from None
    try:
        candidate, snapshot = SELECTORS
        dbt.run(["build", "--selector", candidate, *dbt.PRODUCTION_FLAGS], dsn, parameters=p.dbt_vars())
        certainty.run(dsn, p.year, write=p.status == "written")
        dbt.run(["build", "--selector", snapshot, *dbt.PRODUCTION_FLAGS], dsn, parameters=p.dbt_vars())
    except RuntimeError as exc:
        problems = seed_problems(dsn)
        if problems:
            raise PrioritisationError("; ".join(problems)) from exc
        raise
    return record(dsn, p, dag_run_id)


def latest_data_year(dsn: str | None) -> int | None:
    """The latest year with goals: the year a full refresh prioritises."""
    with db.connect(dsn, autocommit=True) as conn:
        if not _exists(conn, "intermediate.int_goals__resolved"):
            return None
        return conn.execute("select max(goal_year) from intermediate.int_goals__resolved").fetchone()[0]


class NoGoals(UserError):
    """A year without goals was asked for: its list would select nobody."""


def require_goals(dsn: str | None, year: int) -> None:
    """Raise :class:`NoGoals` when ``year`` has no goals (ESAP's metas export)."""
    years = goal_years(dsn)
    if year not in years:
        known = f"years with goals: {', '.join(map(str, years))}" if years else "no year has goals"
        raise NoGoals(f"{year} has no goals (ESAP's metas export; {known}): its snapshot would "
                      "select no municipality; pass --allow-no-goals to write it anyway")


def check_year(year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise PrioritisationError(f"--year {year} is out of range ({YEARS[0]}–{YEARS[1]})")


def last_run(dsn: str | None) -> tuple | None:
    """The last recorded run: (year, as-of date, status, municipalities selected), or None."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('meta.prioritisation_run')").fetchone()[0] is None:
            return None
        return conn.execute("""select r.prioritisation_year, r.as_of_date, r.status,
                count(*) filter (where p.is_selected)
            from meta.prioritisation_run r left join marts.mart_prioritisation p using (prioritisation_year)
            group by r.run_id order by r.run_id desc limit 1""").fetchone()


def summary(dsn: str | None) -> str | None:
    """The last run in one line with the query that lists it, for the command line; None before any."""
    last = last_run(dsn)
    if not last:
        return None
    return (f"\nPrioritised list {last[0]} (as of {last[1]}, {last[2]}): {last[3]} municipalities selected; "  # noqa: S608 - a hint printed, not run
            f"select * from marts.mart_prioritisation where prioritisation_year = {last[0]} order by national_rank")


def goal_years(dsn: str | None) -> list[int]:
    """The years with goals (a positive goal of some directorate); empty before the first build."""
    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('intermediate.int_goals__resolved')").fetchone()[0] is None:
            return []
        return [y for (y,) in conn.execute("select goal_year from intermediate.int_goals__resolved "
                                           "group by goal_year having sum(goal) > 0 order by goal_year")]


# What holds a year's snapshot: the built marts (published from marts_build), the certainty's
# source rows and the run records.
SNAPSHOT_TABLES = (f"{config.MARTS_BUILD}.mart_prioritisation", f"{config.MARTS_BUILD}.mart_prioritisation_certainty",
                   f"{config.MARTS_BUILD}.mart_municipality_profile", "intermediate.prioritisation_certainty",
                   "meta.prioritisation_run")


def drop_snapshot(dsn: str | None, year: int) -> dict[str, int]:
    """Remove one year's snapshot, its certainty, its sheets and its run records from where they are
    built (one transaction), then gate and publish the marts as every run does (``publish`` stays
    the one writer of ``marts``). Holds the warehouse throughout (``sinfonia.runlock``): never
    under a running build. Returns the rows removed per table."""
    from sinfonia import runlock, warehouse

    dsn = dsn or warehouse.dsn()
    with runlock.hold(dsn, f"prioritise --drop --year {year}"):
        return _drop_snapshot(dsn, year)


def _drop_snapshot(dsn: str, year: int) -> dict[str, int]:
    from sinfonia import gates, publish

    removed: dict[str, int] = {}
    with db.connect(dsn, autocommit=True) as conn, conn.transaction():
        for table in SNAPSHOT_TABLES:
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None:
                schema, name = table.split(".")
                removed[table] = conn.execute(
                    sql.SQL("delete from {} where prioritisation_year = %s").format(sql.Identifier(schema, name)),
                    (int(year),)).rowcount
    if not any(removed.values()):
        return removed
    run_id = f"drop-prioritisation-{year}"
    gates.run_gate("marts_", dsn, run_id, schema_map={"marts": config.MARTS_BUILD})
    publish.publish(dsn, run_id)
    log.info("prioritisation %s removed: %s", year, removed)
    return removed

"""The warehouse's bootstrap: schemas and bookkeeping tables (``sql/bootstrap.sql``), every raw
table of the source catalogue, and, when this user may, the roles. Idempotent.

It sits above both the connection layer (:mod:`sinfonia.db`, a leaf) and the ingestion wing
(:mod:`sinfonia.ingest.raw_tables`), so that neither has to import the other.
"""

from __future__ import annotations

import logging
import time
from importlib import resources

import psycopg
from psycopg import sql

from sinfonia import config, db, roles
from sinfonia.ingest.raw_tables import ensure_raw_tables

log = logging.getLogger(__name__)


# Two bootstraps at once (two extracts starting together) race on the catalogue: `create … if not
# exists` and grants of the one fail with 'tuple concurrently updated' (XX000) or a unique violation
# on a catalogue index while the other commits. The whole bootstrap is one transaction, so it is
# simply run again: the second time, the other one's objects exist. No lock is taken that another
# role could hold to stop it.
RACES = (psycopg.errors.InternalError_, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject,
         psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema, psycopg.errors.SerializationFailure,
         psycopg.errors.DeadlockDetected)
ATTEMPTS = 5


def bootstrap(dsn: str | None = None) -> None:
    """Create the schemas, bookkeeping tables, raw tables and, when this user may, the roles."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _bootstrap(dsn)
        except RACES as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("bootstrap raced another one (%s); again (%d of %d)", str(exc).strip().splitlines()[0],
                     attempt + 1, ATTEMPTS)
            time.sleep(0.2 * attempt)


def _bootstrap(dsn: str | None) -> None:
    script = resources.files("sinfonia").joinpath("sql/bootstrap.sql").read_text()
    with db.connect(dsn) as conn:
        conn.execute(script)
        ensure_raw_tables(conn)
        comment_meta(conn)
        may = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
        if may and may[0]:
            roles.apply(conn)
        else:
            log.warning("this warehouse user may not create roles: run `sinfonia warehouse roles` as an "
                        "administrator to create %s", ", ".join(roles.ROLES))


# The descriptions of the meta tables and columns: dbt's source declaration (the docs site shows it).
META_SOURCES = config.DBT_DIR / "models" / "staging" / "meta" / "_meta__sources.yml"


def meta_descriptions() -> dict[str, tuple[str, dict[str, str]]]:
    """table -> (its description, {column: description}) from ``META_SOURCES``."""
    import yaml  # PyYAML, as dbt-core reads its own YAML

    [source] = yaml.safe_load(META_SOURCES.read_text(encoding="utf-8"))["sources"]
    return {t["name"]: (t["description"], {c["name"]: c["description"] for c in t.get("columns", [])})
            for t in source["tables"]}


def comment_meta(conn) -> None:
    """Comment every table and column of ``meta`` that exists with its description (idempotent)."""
    present = {(t, c) for t, c in conn.execute(
        "select table_name, column_name from information_schema.columns where table_schema = %s", (config.META,))}
    tables = {t for t, _ in present}
    for table, (about, columns) in meta_descriptions().items():
        if table not in tables:
            continue  # created by its writer later (prioritisation_run, run_lock): commented then or next time
        name = sql.Identifier(config.META, table)
        conn.execute(sql.SQL("comment on table {} is {}").format(name, sql.Literal(about)))
        for column, text in columns.items():
            if (table, column) in present:
                conn.execute(sql.SQL("comment on column {}.{} is {}").format(
                    name, sql.Identifier(column), sql.Literal(text)))

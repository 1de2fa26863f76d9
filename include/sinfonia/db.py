"""Connections to the warehouse and its bootstrap."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

from sinfonia import warehouse

log = logging.getLogger(__name__)


def connect(dsn: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(dsn or warehouse.dsn(), **kwargs)


def bootstrap(dsn: str | None = None) -> None:
    """Create the schemas, bookkeeping tables and, when this user may, the roles (idempotent)."""
    from sinfonia import roles

    sql = resources.files("sinfonia").joinpath("sql/bootstrap.sql").read_text()
    with connect(dsn) as conn:
        conn.execute(sql)
        _raw_tables(conn)
        may = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
        if may and may[0]:
            roles.apply(conn)
        else:
            log.warning("this warehouse user may not create roles: run `sinfonia warehouse roles` as an "
                        "administrator to create %s", ", ".join(roles.ROLES))


def _raw_tables(conn: psycopg.Connection) -> None:
    """Every table of the source catalogue, empty until loaded, so that models and gates find it
    (person-level sources in ``restricted``, the others in ``raw``)."""
    from sinfonia.loading import ensure_raw_table
    from sinfonia.sources import CATALOGUE

    for spec in CATALOGUE:
        for name, columns in spec.tables.items():
            ensure_raw_table(conn, name, columns, spec.schema)


def count(conn: psycopg.Connection, table: str) -> int:
    schema, name = table.split(".")
    return conn.execute(
        psycopg.sql.SQL("select count(*) from {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
        )
    ).fetchone()[0]

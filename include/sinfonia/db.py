"""Connections to the warehouse and its bootstrap."""

from __future__ import annotations

from importlib import resources

import psycopg

from sinfonia import warehouse


def connect(dsn: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(dsn or warehouse.dsn(), **kwargs)


def bootstrap(dsn: str | None = None) -> None:
    """Create the schemas and bookkeeping tables (idempotent)."""
    sql = resources.files("sinfonia").joinpath("sql/bootstrap.sql").read_text()
    with connect(dsn) as conn:
        conn.execute(sql)
        _raw_tables(conn)


def _raw_tables(conn: psycopg.Connection) -> None:
    """Every source's raw table, empty until loaded, so that models and gates find it."""
    from sinfonia.loading import ensure_raw_table
    from sinfonia.sources import REGISTRY

    for module in REGISTRY.values():
        for name, columns in {module.SOURCE: module.COLUMNS, **getattr(module, "EXTRA_TABLES", {})}.items():
            ensure_raw_table(conn, name, columns)


def count(conn: psycopg.Connection, table: str) -> int:
    schema, name = table.split(".")
    return conn.execute(
        psycopg.sql.SQL("select count(*) from {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name)
        )
    ).fetchone()[0]

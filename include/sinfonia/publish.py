"""Publish: copy the audited marts from ``marts_build`` into ``marts`` in one transaction.

Analysts only ever read ``marts``. dbt builds into ``marts_build``; after the gates pass, every
table there replaces its namesake in ``marts`` inside a single transaction, so readers see either
the previous publication or the new one, never a mix; a failure rolls everything back.
Every mart, the prioritisation snapshots and the impact estimates included, is built by dbt into
``marts_build``: this is the one writer of ``marts``.
"""

from __future__ import annotations

import json

from psycopg import sql

from sinfonia import config, db, roles


def built_tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE' order by table_name", (config.MARTS_BUILD,))]


def publish(dsn: str, run_id: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    with db.connect(dsn, autocommit=True) as conn:
        tables = built_tables(conn)
        if not tables:
            raise RuntimeError(f"nothing to publish: schema {config.MARTS_BUILD} has no tables (run dbt first)")
        with conn.transaction():
            conn.execute("create schema if not exists marts")
            for t in tables:
                src = sql.Identifier(config.MARTS_BUILD, t)
                dst = sql.Identifier(config.MARTS, t)
                conn.execute(sql.SQL("drop table if exists {} cascade").format(dst))
                conn.execute(sql.SQL("create table {} (like {} including all)").format(dst, src))
                conn.execute(sql.SQL("insert into {} select * from {}").format(dst, src))
                counts[t] = conn.execute(sql.SQL("select count(*) from {}").format(dst)).fetchone()[0]
            roles.grant_marts(conn)  # the tables are new: the analyst's SELECT must be re-granted
            conn.execute("insert into meta.publication (run_id, tables) values (%s, %s)",
                         (run_id, json.dumps(counts)))
    return counts

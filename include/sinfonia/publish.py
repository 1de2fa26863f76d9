"""Publish: the audited marts of ``marts_build`` replace their namesakes in ``marts``.

Analysts only ever read ``marts``; dbt builds into ``marts_build``. Publication never makes an
analyst wait and never waits forever itself:

1. **Stage** (no lock on ``marts``): each built table is copied into the private schema
   ``marts_next`` with its indexes, its table and column comments and the grants its namesake in
   ``marts`` has (the analyst's SELECT included). Analysts keep reading ``marts`` meanwhile.
2. **Swap** (one short transaction): every table about to be replaced is locked with ``NOWAIT``
   (publication never queues behind a reader, so it never makes the readers behind it queue),
   dropped, and the staged table moved into ``marts`` (``SET SCHEMA``: a catalog change, no
   copy). ``meta.publication`` gets its row in the same transaction. Readers see the previous
   publication or the new one, never a mix; any failure rolls the whole swap back.
3. When a reader holds one of those tables, the swap is retried with backoff for up to
   ``SINFONIA_PUBLISH_WAIT`` seconds (default 60), then fails with :class:`MartsBusy`
   ("marts are busy: N sessions hold locks on …"), the marts as they were.

Every mart, the prioritisation snapshots and the impact estimates included, is built by dbt into
``marts_build``: this is the one writer of ``marts``.
"""

from __future__ import annotations

import json
import logging
import time

import psycopg
from psycopg import sql

from sinfonia import config, db, roles
from sinfonia.errors import UserError

log = logging.getLogger(__name__)

STAGE = config.MARTS_NEXT  # where a publication is staged; never granted to analysts
WAIT_ENV = "SINFONIA_PUBLISH_WAIT"
FIRST_DELAY, MAX_DELAY = 0.25, 5.0  # seconds between swap attempts (doubling)


class NoMarts(UserError):
    """The warehouse has no published marts yet."""


def require_marts(dsn: str) -> None:
    """Raise :class:`NoMarts`, saying what builds them, when ``marts`` holds no publication yet."""
    from sinfonia.warehouse import masked

    with db.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('marts.dim_municipality')").fetchone()[0] is None:
            raise NoMarts(f"the warehouse {masked(dsn)} has no published marts yet: run "
                          "`sinfonia run --sources DIR` (or `sinfonia demo`) first")


def mart_counts(dsn: str) -> dict[str, int | None]:
    """Rows of every mart: those dbt publishes (the manifest; None when absent) and any other table
    in ``marts``."""
    from sinfonia import dbt

    out: dict[str, int | None] = {}
    with db.connect(dsn, autocommit=True) as conn:
        present = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s", (config.MARTS,))]
        for t in sorted({*dbt.mart_models(), *present}):
            out[t] = db.count(conn, f"{config.MARTS}.{t}") if t in present else None
    return out


def summary(dsn: str) -> str:
    """The published marts and their rows, one line each, for the command line."""
    return "\nPublished marts (schema marts):\n" + "\n".join(
        f"  marts.{table:<32} {'—' if n is None else f'{n:>8,} rows'}" for table, n in mart_counts(dsn).items())


class MartsBusy(RuntimeError):
    """Readers held the marts for the whole wait: nothing was published."""


def built_tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type = 'BASE TABLE' order by table_name", (config.MARTS_BUILD,))]


def _exists(conn, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s)", (sql.Identifier(schema, table).as_string(conn),)
                        ).fetchone()[0] is not None


def _copy_grants(conn, table: str) -> None:
    """The grants of ``marts.<table>`` (whoever gave them) onto its staged successor; the
    analyst's SELECT in any case."""
    staged = sql.Identifier(STAGE, table)
    if _exists(conn, config.MARTS, table):
        grants = conn.execute(
            """
            select coalesce(r.rolname, 'public'), a.privilege_type, a.is_grantable
              from pg_class c
              cross join lateral aclexplode(c.relacl) a
              left join pg_roles r on r.oid = a.grantee
             where c.oid = %s::regclass and a.grantee <> c.relowner
            """, (sql.Identifier(config.MARTS, table).as_string(conn),)).fetchall()
        for grantee, privilege, grantable in grants:
            to = sql.SQL("public") if grantee == "public" else sql.Identifier(grantee)
            conn.execute(sql.SQL("grant {} on {} to {}{}").format(
                sql.SQL(privilege), staged, to, sql.SQL(" with grant option" if grantable else "")))
    if conn.execute("select 1 from pg_roles where rolname = %s", (roles.ANALYST,)).fetchone():
        conn.execute(sql.SQL("grant select on {} to {}").format(staged, sql.Identifier(roles.ANALYST)))


def stage(conn, tables: list[str]) -> dict[str, int]:
    """Copy ``marts_build`` into ``marts_next`` (comments, indexes, grants); row counts."""
    counts: dict[str, int] = {}
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(config.MARTS)))
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(STAGE)))
        for t in tables:
            src, dst = sql.Identifier(config.MARTS_BUILD, t), sql.Identifier(STAGE, t)
            conn.execute(sql.SQL("drop table if exists {} cascade").format(dst))
            # INCLUDING ALL brings the column comments, defaults, constraints and indexes.
            conn.execute(sql.SQL("create table {} (like {} including all)").format(dst, src))
            conn.execute(sql.SQL("insert into {} select * from {}").format(dst, src))
            comment = conn.execute("select obj_description(%s::regclass, 'pg_class')",
                                   (src.as_string(conn),)).fetchone()[0]
            if comment is not None:
                conn.execute(sql.SQL("comment on table {} is {}").format(dst, sql.Literal(comment)))
            _copy_grants(conn, t)
            counts[t] = conn.execute(sql.SQL("select count(*) from {}").format(dst)).fetchone()[0]
    return counts


def _move_in(conn, table: str) -> None:
    """Inside the swap: the published table gives way to the staged one."""
    conn.execute(sql.SQL("drop table if exists {} cascade").format(sql.Identifier(config.MARTS, table)))
    conn.execute(sql.SQL("alter table {} set schema {}").format(
        sql.Identifier(STAGE, table), sql.Identifier(config.MARTS)))


def swap(conn, counts: dict[str, int], run_id: str | None) -> None:
    """One short transaction: lock (NOWAIT) the tables replaced, move the staged ones in, record
    the publication. Raises ``psycopg.errors.LockNotAvailable`` when a reader holds one."""
    with conn.transaction():
        # Anything else this transaction might wait for (a dependent view) waits briefly, too.
        conn.execute("set local lock_timeout = '2s'")
        present = [t for t in counts if _exists(conn, config.MARTS, t)]
        if present:
            conn.execute(sql.SQL("lock table {} in access exclusive mode nowait").format(
                sql.SQL(", ").join(sql.Identifier(config.MARTS, t) for t in present)))
        for t in counts:
            _move_in(conn, t)
        conn.execute("insert into meta.publication (run_id, tables) values (%s, %s)",
                     (run_id, json.dumps(counts)))


def lock_holders(conn, tables: list[str]) -> list[tuple]:
    """(pid, table, user, application, seconds in transaction) of the other sessions holding a
    lock on these ``marts`` tables."""
    return conn.execute(
        """
        select distinct l.pid, c.relname, a.usename, a.application_name,
               round(extract(epoch from now() - a.xact_start))
          from pg_locks l
          join pg_class c on c.oid = l.relation
          join pg_namespace n on n.oid = c.relnamespace
          left join pg_stat_activity a on a.pid = l.pid
         where l.granted and l.pid <> pg_backend_pid() and n.nspname = %s and c.relname = any(%s)
         order by 2, 1
        """, (config.MARTS, tables)).fetchall()


def _busy_message(holders: list[tuple], waited: float) -> str:
    sessions = sorted({h[0] for h in holders})
    tables = sorted({h[1] for h in holders})
    who = "; ".join(
        f"pid {pid} ({user or 'unknown user'}{', ' + app if app else ''}"
        f"{f', in a transaction for {int(age)} s' if age is not None else ''}) on marts.{table}"
        for pid, table, user, app, age in holders)
    return (f"marts are busy: {len(sessions)} session{'s' if len(sessions) != 1 else ''} "
            f"hold{'s' if len(sessions) == 1 else ''} locks on "
            f"{', '.join('marts.' + t for t in tables) or 'the marts'} ({who}); publication waited "
            f"{waited:.0f} s and gave up: nothing was published, the marts are as they were. "
            f"Retry when those reads end (or raise {WAIT_ENV}).")


def publish(dsn: str, run_id: str | None = None, wait: float | None = None) -> dict[str, int]:
    """Stage and swap in every table of ``marts_build``; row counts per table. ``wait`` (seconds,
    default ``SINFONIA_PUBLISH_WAIT`` or 60) bounds how long readers may hold the swap back."""
    wait = db.env_number(WAIT_ENV, 60) if wait is None else wait
    with db.connect(dsn, autocommit=True) as conn:
        tables = built_tables(conn)
        if not tables:
            raise RuntimeError(f"nothing to publish: schema {config.MARTS_BUILD} has no tables (run dbt first)")
        counts = stage(conn, tables)
        started, delay = time.monotonic(), FIRST_DELAY
        while True:
            try:
                swap(conn, counts, run_id)
                return counts
            except psycopg.errors.LockNotAvailable:
                waited = time.monotonic() - started
                if waited >= wait:
                    holders = lock_holders(conn, list(counts))
                    raise MartsBusy(_busy_message(holders, waited)) from None
                pause = min(delay, wait - waited)  # the last attempt comes at the end of the wait
                log.info("marts busy (readers hold them): publication retries in %.2f s", pause)
                time.sleep(pause)
                delay = min(delay * 2, MAX_DELAY)

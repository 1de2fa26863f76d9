"""One run at a time per warehouse, for every path that writes to it.

The warehouse is held through one row, ``meta.run_lock`` (a single-row table): its holder names
the run (``run_key``) and describes it (``holder``: who, where, what) with ``started_at``. Only
the pipeline's roles may lock or change that row (``meta`` is closed to everyone else, the
analyst included), so no other session can take the warehouse or stop a run: the server's
advisory locks, which any role may take, are not used.

Who holds it, and how a holder that died lets go:

- **A command-line run** (``sinfonia run``, ``build``, ``impact``, ``prioritise``, ``demo``,
  ``extract``, ``prioritise --drop``: :func:`hold`) records its own session (``backend_pid``,
  ``backend_start``) and keeps it open. It releases the row when it ends in any way; killed, its
  session ends with it and the row is free at once for the next run.
- **An Airflow DAG run** (scheduled, triggered in the UI or by an asset, or driven by the command
  line): its first task ``take_warehouse`` (:func:`take`) takes the row and its teardown task
  ``release_warehouse`` (:func:`release`) gives it back whatever the other tasks did. Every other
  task first checks that its run still holds the row (:func:`guard`) and renews
  ``heartbeat_at`` every minute while it runs; a DAG run that vanished (its Airflow stopped) lets
  go when its heartbeat is older than ``SINFONIA_RUN_LEASE_SECONDS`` (default 900: longer than a
  retry's wait between two tasks), and the run that takes over says whom it replaced.

Inside a run the row is re-entrant: ``SINFONIA_RUN_LOCK_HELD`` (this process and the processes
it starts) carries the holding run's key, and the DAGs a command-line run drives in process take
nothing of their own.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from sinfonia import db

log = logging.getLogger(__name__)

TABLE = "meta.run_lock"
HELD_ENV = "SINFONIA_RUN_LOCK_HELD"
LEASE_ENV = "SINFONIA_RUN_LEASE_SECONDS"
LEASE_SECONDS = 900
HEARTBEAT_SECONDS = 60
# The tasks that take and release the row (they are not guarded: they do it).
TAKE_TASK, RELEASE_TASK = "take_warehouse", "release_warehouse"
PIPELINE_ROLES = ("sinfonia_loader", "sinfonia_transformer")


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse."""


class LeaseLost(WarehouseBusy):
    """This run no longer holds the warehouse (its lease expired and another run took it)."""


def lease_seconds() -> float:
    return db.env_number(LEASE_ENV, LEASE_SECONDS)


def ensure_table(conn: psycopg.Connection) -> None:
    """Create ``meta.run_lock`` with its one row, closed to all but the pipeline's roles
    (idempotent; a concurrent creation is waited for, not failed). ``conn`` is in autocommit."""
    for _attempt in range(3):
        if conn.execute(
                "select 1 from pg_attribute where attrelid = to_regclass('meta.run_lock') "
                "and attname = 'run_key' and not attisdropped").fetchone():
            if not conn.execute("select 1 from meta.run_lock where id").fetchone():
                conn.execute("insert into meta.run_lock (id) values (true) on conflict do nothing")
            return
        try:
            with conn.transaction():
                conn.execute("create schema if not exists meta")
                # A table of the earlier shape (one row per advisory-lock holder) holds nothing now.
                conn.execute("drop table if exists meta.run_lock")
                conn.execute("""
                    create table meta.run_lock (
                        id            boolean primary key default true check (id),
                        run_key       text,
                        holder        text,
                        started_at    timestamptz,
                        heartbeat_at  timestamptz,
                        backend_pid   integer,
                        backend_start timestamptz
                    )""")
                conn.execute("comment on table meta.run_lock is "
                             "'The run holding the warehouse (sinfonia.runlock): one row, free when run_key is null'")
                conn.execute("insert into meta.run_lock (id) values (true)")
                grant(conn)
            return
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateObject):
            continue  # another session created it in the meantime: use theirs
    raise RuntimeError("meta.run_lock could not be created")


def grant(conn: psycopg.Connection) -> None:
    """Only the pipeline's roles may read or change the row (nobody else: not PUBLIC, not the
    analyst). Roles that do not exist yet are skipped (``roles.apply`` calls this again)."""
    conn.execute("revoke all on meta.run_lock from public")
    for role in PIPELINE_ROLES:
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("grant select, insert, update on meta.run_lock to {}").format(
                sql.Identifier(role)))


def _describe(purpose: str) -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}, pid {os.getpid()}: {purpose}"


def _acquire(conn: psycopg.Connection, key: str, holder: str, own_session: bool) -> None:
    """Take the row for ``key`` unless a live holder has it (then :class:`WarehouseBusy`)."""
    ensure_table(conn)
    with conn.transaction():
        row = conn.execute("""
            select r.run_key, r.holder, r.started_at, r.backend_pid,
                   exists (select 1 from pg_stat_activity a
                            where a.pid = r.backend_pid
                              and (r.backend_start is null or a.backend_start is null
                                   or a.backend_start = r.backend_start)) as session_alive,
                   r.heartbeat_at > now() - make_interval(secs => %s) as fresh
              from meta.run_lock r where r.id for update""", (lease_seconds(),)).fetchone()
        current, by, started, pid, session_alive, fresh = row
        if current is not None and current != key:
            alive = session_alive if pid is not None else fresh
            if alive:
                raise WarehouseBusy(
                    f"another run (started at {started:%Y-%m-%d %H:%M:%S %Z}, by {by}) holds the warehouse: "
                    "this run changed nothing; try again when it ends")
            log.warning("the warehouse was held by %s (since %s), which is gone: %s takes it over",
                        by, started, holder)
        if current == key:
            conn.execute("update meta.run_lock set heartbeat_at = now() where id")
            return
        conn.execute("""
            update meta.run_lock set run_key = %s, holder = %s, started_at = now(), heartbeat_at = now(),
                   backend_pid = case when %s then pg_backend_pid() end,
                   backend_start = case when %s then (select backend_start from pg_stat_activity
                                                      where pid = pg_backend_pid()) end
             where id""", (key, holder, own_session, own_session))


def _release(conn: psycopg.Connection, key: str) -> bool:
    return conn.execute(
        "update meta.run_lock set run_key = null, holder = null, started_at = null, heartbeat_at = null, "
        "backend_pid = null, backend_start = null where id and run_key = %s returning 1", (key,)).fetchone() is not None


def holder(dsn: str) -> tuple[str | None, str | None]:
    """(run key, description) of the row's holder, (None, None) when free."""
    with db.connect(dsn, autocommit=True) as conn:
        if not conn.execute("select to_regclass('meta.run_lock')").fetchone()[0]:
            return None, None
        row = conn.execute("select run_key, holder from meta.run_lock where id").fetchone()
        return (row[0], row[1]) if row else (None, None)


@contextmanager
def hold(dsn: str, purpose: str) -> Iterator[None]:
    """Hold the warehouse for a command-line run, or raise :class:`WarehouseBusy` at once. The
    row names this process; its session stays open for the whole run (its end frees the row)."""
    if os.environ.get(HELD_ENV):
        yield
        return
    key = f"cli:{uuid.uuid4()}"
    description = _describe(purpose)
    conn = db.connect(dsn, autocommit=True, application_name=f"sinfonia run: {purpose}"[:63])
    try:
        _acquire(conn, key, description, own_session=True)
        os.environ[HELD_ENV] = key
        try:
            yield
        finally:
            os.environ.pop(HELD_ENV, None)
            if not conn.closed:
                try:
                    _release(conn, key)
                except psycopg.Error:
                    pass  # its session closing frees the row anyway
    finally:
        conn.close()


# -- a DAG run: take (first task), guard (every task), release (teardown) --------------------------
def run_key(dag_id: str, run_id: str) -> str:
    return f"airflow:{dag_id}/{run_id}"


def take(dsn: str, dag_id: str, run_id: str) -> str:
    """The first task of a DAG run: take the warehouse for this run (or fail at once naming the
    holder). Inside a command-line run, check that run holds it and take nothing more."""
    inherited = os.environ.get(HELD_ENV)
    with db.connect(dsn, autocommit=True) as conn:
        if inherited:
            _check(conn, inherited)
            return inherited
        key = run_key(dag_id, run_id)
        _acquire(conn, key, _describe(f"Airflow run {dag_id} {run_id}"), own_session=False)
        return key


def release(dsn: str, dag_id: str, run_id: str) -> bool:
    """The teardown of a DAG run: free the row if this run holds it (True when it did)."""
    if os.environ.get(HELD_ENV):
        return False  # the command-line run that drives this DAG releases it
    key = run_key(dag_id, run_id)
    stop = _beating.pop(key, None)
    if stop is not None:  # this process's heartbeat of the run ends with it (not at process exit)
        stop.set()
    with db.connect(dsn, autocommit=True) as conn:
        ensure_table(conn)
        return _release(conn, key)


def _check(conn: psycopg.Connection, key: str) -> None:
    row = conn.execute("update meta.run_lock set heartbeat_at = now() where id and run_key = %s "
                       "returning 1", (key,)).fetchone()
    if row is None:
        now = conn.execute("select run_key, holder from meta.run_lock where id").fetchone()
        by = f"{now[1]}" if now and now[0] else "nobody"
        raise LeaseLost(f"this run ({key}) no longer holds the warehouse (held by {by}): it stops before "
                        "writing anything more")


_beating: dict[str, threading.Event] = {}  # run key -> the stop of this process's heartbeat thread


def guard(dsn: str, dag_id: str, run_id: str, task_id: str) -> None:
    """Before every other task of a DAG run: the run must still hold the warehouse (else
    :class:`LeaseLost`); its heartbeat is renewed every minute while this process runs."""
    if task_id in (TAKE_TASK, RELEASE_TASK):
        return
    key = os.environ.get(HELD_ENV) or run_key(dag_id, run_id)
    with db.connect(dsn, autocommit=True) as conn:
        _check(conn, key)
    if os.environ.get(HELD_ENV) or key in _beating:
        return  # a command-line run's own session keeps the row; one heartbeat per process and run
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                with db.connect(dsn, autocommit=True) as conn:
                    _check(conn, key)
            except LeaseLost as exc:
                log.error("%s", exc)
                return
            except psycopg.Error as exc:  # the next beat tries again
                log.warning("could not renew the warehouse lease of %s: %s", key, exc)

    thread = threading.Thread(target=beat, name=f"sinfonia-lease-{key}", daemon=True)
    _beating[key] = stop
    thread.start()

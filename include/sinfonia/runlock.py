"""One run at a time per warehouse, whatever the number of Airflow installations or shells.

A run (``sinfonia run``, ``build``, ``impact``, ``prioritise``, ``demo``: everything
:func:`sinfonia.pipeline.run_dags` drives) holds a PostgreSQL session-level advisory lock on the
warehouse for its whole duration. A second run asks for the same lock without waiting and fails
at once with "another run (started at …, by …) holds the warehouse". The holder describes itself
in ``meta.run_lock`` (who, where, what, since when) and in its session's ``application_name``.

The lock belongs to a database session, so the server releases it when the run ends in any way:
normally, with an error, or killed (the connection closes; keepalives cover a machine that went
away). A stale ``meta.run_lock`` row is never trusted on its own: only the session that holds the
lock is reported.

Within a run the lock is re-entrant: ``SINFONIA_RUN_LOCK_HELD`` marks the process (and the
processes it starts) as the holder.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sinfonia import db

# An arbitrary 64-bit key for pg_try_advisory_lock (spells "SINFONIA" in ASCII, minus the sign bit).
KEY = int.from_bytes(b"SINFONIA", "big") & 0x7FFF_FFFF_FFFF_FFFF
HELD_ENV = "SINFONIA_RUN_LOCK_HELD"


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse."""


def _holder(conn: psycopg.Connection) -> tuple[str, str]:
    """(started at, by) of the session holding the lock, as best the server can say."""
    row = conn.execute(
        """
        select l.pid, a.application_name, a.backend_start
          from pg_locks l left join pg_stat_activity a on a.pid = l.pid
         where l.locktype = 'advisory' and l.granted
           and l.classid = (%(key)s >> 32)::oid and l.objid = (%(key)s & 4294967295)::oid and l.objsubid = 1
        """, {"key": KEY}).fetchone()
    if row is None:
        return "an unknown time", "a session that has just ended"
    pid, application, backend_start = row
    if conn.execute("select to_regclass('meta.run_lock')").fetchone()[0]:
        recorded = conn.execute("select started_at, holder from meta.run_lock where backend_pid = %s",
                                (pid,)).fetchone()
        if recorded:
            return f"{recorded[0]:%Y-%m-%d %H:%M:%S %Z}", recorded[1]
    started = f"{backend_start:%Y-%m-%d %H:%M:%S %Z}" if backend_start else "an unknown time"
    return started, f"{application or 'an unnamed session'} (server pid {pid})"


def _record(conn: psycopg.Connection, holder: str) -> None:
    """Describe the holder in meta.run_lock (best effort: a user without CREATE on meta is
    still described by its application_name)."""
    try:
        with conn.transaction():
            conn.execute("create schema if not exists meta")
            conn.execute(
                "create table if not exists meta.run_lock (backend_pid integer primary key, "
                "holder text not null, started_at timestamptz not null default now())")
            conn.execute("delete from meta.run_lock")  # rows of holders gone (their lock went with them)
            conn.execute("insert into meta.run_lock (backend_pid, holder) values (pg_backend_pid(), %s)",
                         (holder,))
    except psycopg.errors.InsufficientPrivilege:
        pass


@contextmanager
def hold(dsn: str, purpose: str) -> Iterator[None]:
    """Hold the warehouse for a run, or raise :class:`WarehouseBusy` at once."""
    if os.environ.get(HELD_ENV):
        yield
        return
    holder = f"{getpass.getuser()}@{socket.gethostname()}, pid {os.getpid()}: {purpose}"
    conn = db.connect(dsn, autocommit=True, application_name=f"sinfonia run: {purpose}"[:63])
    try:
        if not conn.execute("select pg_try_advisory_lock(%s)", (KEY,)).fetchone()[0]:
            started, by = _holder(conn)
            raise WarehouseBusy(
                f"another run (started at {started}, by {by}) holds the warehouse: this run "
                "changed nothing; try again when it ends")
        _record(conn, holder)
        os.environ[HELD_ENV] = holder
        try:
            yield
        finally:
            os.environ.pop(HELD_ENV, None)
            if not conn.closed:
                try:
                    conn.execute("delete from meta.run_lock where backend_pid = pg_backend_pid()")
                except psycopg.Error:
                    pass  # closing the session releases the lock anyway
    finally:
        conn.close()

"""Publication against real readers on a real server: it keeps comments and grants, never makes
an analyst wait, gives up clearly when readers hold the marts, and is all or nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from psycopg import sql

from sinfonia import db, publish, roles
from sinfonia.bootstrap import bootstrap

pytestmark = pytest.mark.integration

TABLES = ("mart_a", "mart_b")


def build(dsn: str, version: int) -> None:
    """Two documented marts in marts_build, their rows tagged with ``version``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for t in TABLES:
            table = sql.Identifier("marts_build", t)
            conn.execute(sql.SQL("drop table if exists {}").format(table))
            conn.execute(sql.SQL("create table {} (id integer primary key, v text not null)").format(table))
            conn.execute(sql.SQL("insert into {} select g, %s from generate_series(1, 50) g").format(table),
                         (f"v{version}",))
            conn.execute(sql.SQL("comment on table {} is {}").format(table, sql.Literal(f"The {t} mart.")))
            conn.execute(sql.SQL("comment on column {} is {}").format(
                sql.Identifier("marts_build", t, "id"), sql.Literal(f"Key of {t}.")))
            conn.execute(sql.SQL("comment on column {} is {}").format(
                sql.Identifier("marts_build", t, "v"), sql.Literal(f"Version of {t}.")))


def published(dsn: str) -> dict:
    query = sql.SQL("select v, count(*) from {} group by v")
    with psycopg.connect(dsn) as conn:
        return {
            "rows": {t: conn.execute(query.format(sql.Identifier("marts", t))).fetchall() for t in TABLES},
            "publications": conn.execute("select count(*) from meta.publication").fetchone()[0],
        }


@pytest.fixture
def warehouse(fresh_dsn):
    bootstrap(fresh_dsn)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("create schema if not exists marts_build")
    build(fresh_dsn, 1)
    publish.publish(fresh_dsn, "first")
    build(fresh_dsn, 2)
    return fresh_dsn


def test_every_published_table_and_column_keeps_its_comment_its_index_and_its_grants(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("drop role if exists bi_reader")
        conn.execute("create role bi_reader")
        conn.execute("grant select on marts.mart_a to bi_reader")
    publish.publish(warehouse, "second")
    with psycopg.connect(warehouse) as conn:
        comments = conn.execute(
            """
            select c.table_name, c.column_name,
                   obj_description(format('marts.%I', c.table_name)::regclass, 'pg_class'),
                   col_description(format('marts.%I', c.table_name)::regclass, c.ordinal_position::int)
              from information_schema.columns c
             where c.table_schema = 'marts' order by 1, 2
            """).fetchall()
        assert [(t, c) for t, c, *_ in comments] == [(t, c) for t in TABLES for c in ("id", "v")]
        for table, column, table_comment, column_comment in comments:
            assert table_comment == f"The {table} mart."
            assert column_comment == {"id": f"Key of {table}.", "v": f"Version of {table}."}[column]
        indexes = conn.execute("select tablename from pg_indexes where schemaname = 'marts' order by 1").fetchall()
        assert indexes == [("mart_a",), ("mart_b",)]
        assert conn.execute("select has_table_privilege('bi_reader', 'marts.mart_a', 'select'), "
                            "has_table_privilege('bi_reader', 'marts.mart_b', 'select')").fetchone() == (True, False)
        for t in TABLES:
            assert conn.execute("select has_table_privilege(%s, %s, 'select')", (roles.ANALYST, f"marts.{t}")).fetchone()[0]
        assert conn.execute("select count(*) from information_schema.tables where table_schema = 'marts_next'").fetchone()[0] == 0
    assert published(warehouse) == {"rows": {t: [("v2", 50)] for t in TABLES}, "publications": 2}


def test_a_long_reader_makes_publish_give_up_clearly_and_no_other_reader_waits(warehouse):
    before = published(warehouse)
    reader = psycopg.connect(warehouse)  # an analyst's long read: its transaction stays open
    reader.execute("select count(*) from marts.mart_b").fetchone()
    outcome: dict = {}

    def run():
        started = time.monotonic()
        try:
            publish.publish(warehouse, "blocked", wait=3)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    # Meanwhile other analysts read every mart, each read allowed 1 s: none may wait.
    reads = 0
    with psycopg.connect(warehouse, autocommit=True, options="-c statement_timeout=1000") as other:
        while thread.is_alive():
            for t in TABLES:
                query = sql.SQL("select count(*) from {}").format(sql.Identifier("marts", t))
                assert other.execute(query).fetchone()[0] == 50
                reads += 1
            time.sleep(0.05)
    thread.join()
    reader.close()
    assert reads > 20
    error = outcome.get("error")
    assert isinstance(error, publish.MartsBusy), outcome
    message = str(error)
    assert message.startswith("marts are busy: 1 session holds locks on marts.mart_b"), message
    assert "nothing was published" in message and "SINFONIA_PUBLISH_WAIT" in message
    assert 2.5 < outcome["seconds"] < 10, outcome
    assert published(warehouse) == before
    # The reader gone, the same publication goes through.
    publish.publish(warehouse, "after")
    assert published(warehouse) == {"rows": {t: [("v2", 50)] for t in TABLES}, "publications": 2}


def test_publish_waits_for_a_short_reader_then_publishes(warehouse):
    reader = psycopg.connect(warehouse)
    reader.execute("select count(*) from marts.mart_a").fetchone()
    timer = threading.Timer(1.0, reader.close)
    timer.start()
    started = time.monotonic()
    publish.publish(warehouse, "patient", wait=20)
    timer.join()
    assert 0.9 < time.monotonic() - started < 10
    assert published(warehouse)["rows"] == {t: [("v2", 50)] for t in TABLES}


def test_a_publication_failing_halfway_leaves_marts_and_meta_publication_unchanged(warehouse, monkeypatch):
    before = published(warehouse)
    real = publish._move_in
    moved: list[str] = []

    def failing(conn, table):
        if moved:  # the first table is already swapped in: now a statement fails
            conn.execute("select 1 / 0")
        real(conn, table)
        moved.append(table)

    monkeypatch.setattr(publish, "_move_in", failing)
    with pytest.raises(psycopg.errors.DivisionByZero):
        publish.publish(warehouse, "broken")
    assert moved == ["mart_a"]
    assert published(warehouse) == before
    with psycopg.connect(warehouse) as conn:  # the previous publication's comments are still there
        assert conn.execute("select obj_description('marts.mart_a'::regclass, 'pg_class')").fetchone()[0] == "The mart_a mart."


def test_pipeline_sessions_carry_their_timeouts_liveness_checks_and_no_jit(fresh_dsn, monkeypatch):
    monkeypatch.setenv("SINFONIA_LOCK_TIMEOUT", "7")
    with db.connect(fresh_dsn) as conn:
        settings = dict(conn.execute(
            "select name, setting from pg_settings where name in ('lock_timeout', 'statement_timeout', "
            "'idle_in_transaction_session_timeout', 'client_connection_check_interval', 'tcp_keepalives_idle', "
            "'jit')"))
    assert settings == {"lock_timeout": "7000", "statement_timeout": "3600000",
                        "idle_in_transaction_session_timeout": "600000",
                        "client_connection_check_interval": "10000", "tcp_keepalives_idle": "30", "jit": "off"}
    monkeypatch.setenv("SINFONIA_LOCK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match=r"SINFONIA_LOCK_TIMEOUT='soon': expected a number of seconds"):
        db.session_options()


WAITER = """
import sys
from sinfonia import db
conn = db.connect(sys.argv[1])
print("connected", flush=True)
conn.execute("lock table marts.mart_a in access exclusive mode")
"""


def test_a_killed_client_waiting_for_a_lock_leaves_no_session_behind(warehouse):
    """kill -9 of a pipeline process waiting on a lock: the server ends its session (and so its
    place in the lock queue) within seconds, instead of waiting on forever."""
    reader = psycopg.connect(warehouse)
    reader.execute("select count(*) from marts.mart_a").fetchone()
    env = {**os.environ, "SINFONIA_LOCK_TIMEOUT": "600"}
    proc = subprocess.Popen([sys.executable, "-c", WAITER, warehouse], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "connected"
        with psycopg.connect(warehouse, autocommit=True) as watch:
            def waiting() -> int:
                return watch.execute("select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                                     "where c.relname = 'mart_a' and not l.granted").fetchone()[0]

            deadline = time.monotonic() + 10
            while not waiting() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert waiting() == 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 20
            while waiting() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert waiting() == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.close()

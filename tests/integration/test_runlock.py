"""One run at a time per warehouse: two processes, one holds the warehouse, the other refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from sinfonia import runlock
from sinfonia.bootstrap import bootstrap
from tests.conftest import sinfonia

pytestmark = pytest.mark.integration

HOLDER = """
import sys
from sinfonia import runlock
with runlock.hold(sys.argv[1], "first run (test)"):
    print("held", flush=True)
    sys.stdin.read()
"""


def _start_holder(dsn: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != runlock.HELD_ENV}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, dsn], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _publications(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select count(*) from meta.publication").fetchone()[0]


def test_a_second_run_refuses_at_once_naming_the_run_that_holds_the_warehouse(fresh_dsn):

    bootstrap(fresh_dsn)
    first = _start_holder(fresh_dsn)
    try:
        started = time.monotonic()
        proc = sinfonia("build", env={"WAREHOUSE_DSN": fresh_dsn}, check=False, timeout=120)
        seconds = time.monotonic() - started
        assert proc.returncode == 1, proc.stdout + proc.stderr
        message = proc.stderr.strip()
        assert "another run (started at 20" in message and "holds the warehouse" in message, message
        assert f"pid {first.pid}: first run (test)" in message, message
        assert seconds < 60, seconds  # at once: no dbt, no waiting
        assert _publications(fresh_dsn) == 0
        with psycopg.connect(fresh_dsn) as conn:
            assert conn.execute("select count(*) from meta.run_lock").fetchone()[0] == 1
    finally:
        first.communicate("")
    # The first run over, the warehouse is free again.
    with runlock.hold(fresh_dsn, "second run (test)"):
        with psycopg.connect(fresh_dsn) as conn:
            assert conn.execute("select holder from meta.run_lock").fetchone()[0].endswith("second run (test)")


def test_a_killed_run_frees_the_warehouse(fresh_dsn, monkeypatch):
    monkeypatch.delenv(runlock.HELD_ENV, raising=False)
    first = _start_holder(fresh_dsn)
    with pytest.raises(runlock.WarehouseBusy, match=r"another run \(started at .*first run \(test\)\) holds the warehouse"):
        with runlock.hold(fresh_dsn, "second run (test)"):
            pass
    first.send_signal(signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 15
    while True:
        try:
            with runlock.hold(fresh_dsn, "after the kill (test)"):
                assert runlock.holder(fresh_dsn)[1].endswith("after the kill (test)")
                with runlock.hold(fresh_dsn, "nested (test)"):  # re-entrant within a run
                    pass
            break
        except runlock.WarehouseBusy:
            assert time.monotonic() < deadline, "the lock of a killed run was not released"
            time.sleep(0.5)
    assert runlock.HELD_ENV not in os.environ


# -- every path that writes holds the same row, and only the pipeline's roles can take it ----------
def test_a_dag_run_however_started_holds_the_warehouse_alone(fresh_dsn, monkeypatch, state_dir):
    """A DAG run (here driven by dag.test(), as a scheduler's run would go: no command-line lock
    around it) whose first task finds another run holding the warehouse fails there: nothing
    built, nothing published; a DAG run's row names it, refuses the command line, survives a
    task of another run (guard), and is released by its teardown."""
    bootstrap(fresh_dsn)
    monkeypatch.delenv(runlock.HELD_ENV, raising=False)
    first = _start_holder(fresh_dsn)
    try:
        code = ("import sys; from sinfonia import pipeline; pipeline.prepare_environment(); "
                "pipeline._run_dags(('sinfonia_transform',), {}, print, sys.argv[1])")
        env = {**{k: v for k, v in os.environ.items() if k != runlock.HELD_ENV}, "WAREHOUSE_DSN": fresh_dsn}
        proc = subprocess.run([sys.executable, "-c", code, fresh_dsn], capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode != 0
        assert "task take_warehouse" in proc.stderr and "holds the warehouse" in proc.stderr, proc.stderr[-3000:]
        assert f"pid {first.pid}: first run (test)" in proc.stderr, proc.stderr[-3000:]
        assert _publications(fresh_dsn) == 0
        with psycopg.connect(fresh_dsn) as conn:  # dbt never ran
            assert conn.execute("select to_regclass('marts_build.dim_municipality')").fetchone()[0] is None
    finally:
        first.communicate("")

    key = runlock.take(fresh_dsn, "sinfonia_monitoring", "scheduled__1")
    assert key == runlock.run_key("sinfonia_monitoring", "scheduled__1")
    assert runlock.holder(fresh_dsn)[1].endswith("Airflow run sinfonia_monitoring scheduled__1")
    with pytest.raises(runlock.WarehouseBusy, match="Airflow run sinfonia_monitoring scheduled__1"):
        with runlock.hold(fresh_dsn, "sinfonia run --weekly (test)"):
            pass
    with pytest.raises(runlock.WarehouseBusy, match="Airflow run sinfonia_monitoring scheduled__1"):
        runlock.take(fresh_dsn, "sinfonia_transform", "manual__2")
    with pytest.raises(runlock.LeaseLost):  # a task of a run that does not hold it stops before writing
        runlock.guard(fresh_dsn, "sinfonia_transform", "manual__2", "dbt_build")
    runlock.guard(fresh_dsn, "sinfonia_monitoring", "scheduled__1", "notify_directorates")
    [beat] = [t for t in threading.enumerate() if t.name == f"sinfonia-lease-{key}"]  # its heartbeat
    assert runlock.release(fresh_dsn, "sinfonia_transform", "manual__2") is False  # not its row
    assert beat.is_alive()
    assert runlock.release(fresh_dsn, "sinfonia_monitoring", "scheduled__1") is True
    assert runlock.holder(fresh_dsn) == (None, None)
    beat.join(timeout=10)  # released: the heartbeat ends with the run, not when the process exits
    assert not beat.is_alive()


def test_a_vanished_dag_run_lets_go_after_its_lease(fresh_dsn, monkeypatch):
    monkeypatch.delenv(runlock.HELD_ENV, raising=False)
    runlock.take(fresh_dsn, "sinfonia_transform", "scheduled__gone")
    with pytest.raises(runlock.WarehouseBusy):
        runlock.take(fresh_dsn, "sinfonia_transform", "manual__next")
    with psycopg.connect(fresh_dsn) as conn:  # its Airflow stopped: no heartbeat for 20 minutes
        conn.execute("update meta.run_lock set heartbeat_at = now() - interval '20 minutes'")
    runlock.take(fresh_dsn, "sinfonia_transform", "manual__next")
    assert runlock.holder(fresh_dsn)[0] == runlock.run_key("sinfonia_transform", "manual__next")


def test_prioritise_drop_waits_for_no_one_and_removes_nothing_under_another_run(fresh_dsn):
    bootstrap(fresh_dsn)
    first = _start_holder(fresh_dsn)
    try:
        proc = sinfonia("prioritise", "--year", "2024", "--drop", env={"WAREHOUSE_DSN": fresh_dsn},
                        check=False, timeout=120)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "holds the warehouse" in proc.stderr and "first run (test)" in proc.stderr, proc.stderr
        assert _publications(fresh_dsn) == 0
    finally:
        first.communicate("")


ANALYST_CODE = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("set role sinfonia_analyst")
conn.execute("select pg_advisory_lock(%s)", (int(sys.argv[2]),))  # the key runs used to take
try:
    conn.execute("select * from meta.run_lock for update")
    print("locked", flush=True)
except psycopg.errors.InsufficientPrivilege:
    print("refused", flush=True)
sys.stdin.read()
"""


def test_the_analyst_cannot_take_the_warehouse_nor_hold_a_transaction_open(fresh_dsn, server_dsn, monkeypatch):
    """The recipe of the attack (``select pg_advisory_lock(<the run key>)`` as the analyst, the
    session left open) stops nothing; the row cannot be locked by the analyst; its sessions carry
    the timeouts; it cannot create temporary tables here nor in the server's ``postgres`` database."""
    from sinfonia import roles

    bootstrap(fresh_dsn)
    monkeypatch.delenv(runlock.HELD_ENV, raising=False)
    old_key = int.from_bytes(b"SINFONIA", "big") & 0x7FFF_FFFF_FFFF_FFFF
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST_CODE, fresh_dsn, str(old_key)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "refused"
        with runlock.hold(fresh_dsn, "a run beside the analyst (test)"):
            assert runlock.holder(fresh_dsn)[1].endswith("a run beside the analyst (test)")
    finally:
        analyst.communicate("")
    with psycopg.connect(fresh_dsn) as conn:  # every login of the role starts with these
        settings = dict(conn.execute(
            "select split_part(s, '=', 1), split_part(s, '=', 2) from pg_db_role_setting r, "
            "unnest(r.setconfig) s where r.setrole = %s::regrole and r.setdatabase = 0", (roles.ANALYST,)))
    assert settings == {"idle_in_transaction_session_timeout": "60000ms", "statement_timeout": "300000ms",
                        "lock_timeout": "10000ms"}, settings
    for role in (roles.LOADER, roles.TRANSFORMER):  # the pipeline's roles may take it
        with psycopg.connect(fresh_dsn) as conn:
            conn.execute(f"set role {role}")
            assert conn.execute("select run_key from meta.run_lock where id for update nowait").fetchone() == (None,)
    info = psycopg.conninfo.conninfo_to_dict(fresh_dsn)
    for database in (info["dbname"], "postgres"):
        with psycopg.connect(psycopg.conninfo.make_conninfo(**{**info, "dbname": database})) as conn:
            conn.execute(f"set role {roles.ANALYST}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create temporary table t (x int)")


QUEUED = """
import os, sqlite3, subprocess, sys
from sinfonia import config, pipeline
os.environ["WAREHOUSE_DSN"] = sys.argv[1]
pipeline.prepare_environment()
pipeline.ensure_airflow_db()
# What a local Airflow (`sinfonia airflow`) has: every DAG parsed into the metadata database, unpaused.
subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"], check=True, capture_output=True,
               env=os.environ.copy())
with sqlite3.connect(config.airflow_home() / "airflow.db") as db:
    db.execute("update dag set is_paused = 0 where dag_id like 'sinfonia_%'")
try:
    pipeline.run_dags(("sinfonia_extract",), {"sources_dir": sys.argv[2]})
finally:
    with sqlite3.connect(config.airflow_home() / "airflow.db") as db:
        queued = sorted(r[0] for r in db.execute("select distinct target_dag_id from asset_dag_run_queue"))
        db.execute("delete from asset_dag_run_queue")
        db.execute("update dag set is_paused = 1 where dag_id like 'sinfonia_%'")
print("queued", ",".join(queued) or "none")
"""


def test_a_command_line_run_queues_no_run_for_a_local_airflow_unless_asked(fresh_dsn, small_sample, state_dir):
    """The asset events of the DAGs the command line drives would make a scheduler on the same
    metadata database (`sinfonia airflow`) start the transform and monitoring DAGs beside it."""
    env = {k: v for k, v in os.environ.items() if k not in (runlock.HELD_ENV, "SINFONIA_TRIGGER_AIRFLOW")}
    proc = subprocess.run([sys.executable, "-c", QUEUED, fresh_dsn, str(small_sample)], capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "queued none", proc.stdout[-2000:]
    proc = subprocess.run([sys.executable, "-c", QUEUED, fresh_dsn, str(small_sample)], capture_output=True,
                          text=True, timeout=900, env={**env, "SINFONIA_TRIGGER_AIRFLOW": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # asked: the DAGs the raw assets schedule are queued (so the check above could see them)
    assert proc.stdout.strip().splitlines()[-1] == "queued sinfonia_monitoring,sinfonia_transform", proc.stdout[-2000:]

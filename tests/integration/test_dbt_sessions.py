"""dbt keeps each thread's database session from one node to the next (``dbt._keep_sessions_between_nodes``):
a build opens a session per thread, not one per node, and a node that fails leaves nothing behind
for the next node on the same session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import psycopg

BUILD = """
import json, sys
import psycopg2
from dbt.cli.main import dbtRunner
from sinfonia import dbt

opened = []
connect = psycopg2.connect
psycopg2.connect = lambda *a, **k: opened.append(1) or connect(*a, **k)
if sys.argv[3] == "keep":
    dbt._keep_sessions_between_nodes()
with dbt.connection(sys.argv[1]) as profiles:
    result = dbtRunner().invoke(["build", "--threads", "1", "--project-dir", sys.argv[2], "--profiles-dir",
                                 str(profiles), "--target-path", sys.argv[2] + "/target", "--quiet"])
print(json.dumps({"opened": len(opened),
                  "status": {r.node.name: str(r.status) for r in result.result.results}}))
"""

MODELS = {
    "a": "select 1 as x",
    "broken": "select 1 / (select count(*) - count(*) from {{ ref('a') }}) as x",  # division by zero
    "c": "select x + 1 as x from {{ ref('a') }}",
    "d": "select x + 2 as x from {{ ref('a') }}",
    "e": "select x from {{ ref('c') }} union all select x from {{ ref('d') }}",
}


def _project(root):
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(textwrap.dedent("""\
        name: sessions
        version: "1.0"
        profile: sinfonia
        models:
          sessions:
            +materialized: table
            +schema: probe
        """), encoding="utf-8")
    for name, sql in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n", encoding="utf-8")
    columns = "\n".join(f"  - name: {m}\n    columns:\n      - name: x\n        data_tests: [not_null, unique]"
                        for m in ("a", "c", "d"))
    (root / "models" / "schema.yml").write_text(f"models:\n{columns}\n", encoding="utf-8")


def _build(fresh_dsn, root, mode):
    proc = subprocess.run([sys.executable, "-c", BUILD, fresh_dsn, str(root), mode], capture_output=True, text=True,
                          env={**os.environ, "WAREHOUSE_DSN": fresh_dsn}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_build_opens_a_session_per_thread_and_a_failed_node_spoils_none_after_it(fresh_dsn, tmp_path):
    _project(tmp_path)
    kept = _build(fresh_dsn, tmp_path, "keep")
    status = kept["status"]
    assert status.pop("broken") == "error"
    # every node after the failed one on the same (only) thread ran on its session and passed
    assert set(status.values()) == {"success", "pass"} and len(status) == 10, status
    assert kept["opened"] <= 3  # dbt's own connections before the nodes, and the thread's one
    # dbt's own release opens one per node: the count above is the reuse, not dbt's default
    assert _build(fresh_dsn, tmp_path, "dbt")["opened"] >= len(status) + 1
    with psycopg.connect(fresh_dsn) as conn:  # and every session is closed when the command ends
        others = conn.execute("select count(*) from pg_stat_activity where datname = current_database() "
                              "and pid <> pg_backend_pid()").fetchone()[0]
    assert others == 0


def _manager_holding(handle, transaction_open: bool):
    """dbt-postgres' connection manager with ``handle`` as this thread's open connection of a node."""
    import threading

    from dbt.adapters.contracts.connection import Connection, ConnectionState
    from dbt.adapters.postgres.connections import PostgresConnectionManager, PostgresCredentials

    from sinfonia import dbt

    dbt._keep_sessions_between_nodes()
    manager = object.__new__(PostgresConnectionManager)  # only what release() reads
    manager.lock, manager.thread_connections = threading.RLock(), {}
    credentials = PostgresCredentials(host="-", user="-", password="", port=1, database="-", schema="-")
    conn = Connection(type="postgres", name="model.sessions.a", state=ConnectionState.OPEN,
                      transaction_open=transaction_open, handle=handle, credentials=credentials)
    manager.set_thread_connection(conn)
    return manager, conn


def test_a_node_released_with_its_transaction_open_leaves_an_idle_session_without_its_work(fresh_dsn):
    import psycopg2
    from dbt.adapters.contracts.connection import ConnectionState
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    handle = psycopg2.connect(fresh_dsn)
    try:
        handle.cursor().execute("create table left_open (x int); insert into left_open values (1)")
        manager, conn = _manager_holding(handle, transaction_open=True)
        manager.release()
        assert conn.state == ConnectionState.OPEN and not conn.transaction_open
        assert not handle.closed and handle.get_transaction_status() == TRANSACTION_STATUS_IDLE
        cursor = handle.cursor()
        cursor.execute("select to_regclass('left_open')")
        assert cursor.fetchone() == (None,)  # rolled back, not carried into the next node's transaction
    finally:
        handle.close()


def test_a_node_whose_session_is_gone_is_released_as_dbt_releases_it(fresh_dsn):
    import psycopg2
    from dbt.adapters.contracts.connection import ConnectionState

    handle = psycopg2.connect(fresh_dsn)
    handle.close()
    manager, conn = _manager_holding(handle, transaction_open=False)
    manager.release()
    assert conn.state == ConnectionState.CLOSED

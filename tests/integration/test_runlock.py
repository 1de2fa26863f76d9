"""One run at a time per warehouse: two processes, one holds the warehouse, the other refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
                assert os.environ[runlock.HELD_ENV].endswith("after the kill (test)")
                with runlock.hold(fresh_dsn, "nested (test)"):  # re-entrant within a run
                    pass
            break
        except runlock.WarehouseBusy:
            assert time.monotonic() < deadline, "the lock of a killed run was not released"
            time.sleep(0.5)
    assert runlock.HELD_ENV not in os.environ

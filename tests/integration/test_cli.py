"""The command line as its users meet it: a quiet console, safe prioritisation commands, the
report's year, and Airflow's UI on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from tests.conftest import _traversable_tmp, sample_run, sinfonia
from tests.corpus import IDF_ROWS, divipola_csv, idf_book

pytestmark = pytest.mark.integration

TASK_LINE = re.compile(r"^\s+(ok|FAILED|[A-Z_]+)\s+(\S+)\s+(.*?)\s+(\d+\.\d) s$")


@pytest.fixture(scope="module")
def warehouse(server_dsn, small_sample, state_dir):
    """The small sample through ``sinfonia run`` once: (dsn, the finished process)."""
    with sample_run(server_dsn, small_sample, "cli") as run:
        yield run


def _log_path(stdout: str) -> Path:
    found = re.search(r"^Airflow and dbt logs: (.+)$", stdout, re.M)
    assert found, stdout
    return Path(found.group(1))


def test_run_prints_a_line_per_task_and_keeps_airflow_and_dbt_in_the_log(warehouse):
    _, proc = warehouse
    out = proc.stdout
    tasks = [TASK_LINE.match(line) for line in out.splitlines()]
    tasks = [m for m in tasks if m]
    names = [m.group(2) for m in tasks]
    for task in ("bootstrap", "gate_raw", "dbt_build", "gate_marts", "publish", "snapshot"):
        assert any(n == task or n.startswith(task) for n in names), (task, names)
    assert all(m.group(1) == "ok" for m in tasks)
    rows = {m.group(2): m.group(3) for m in tasks}
    assert re.fullmatch(r"[\d,]+ rows in \d+ tables", rows["publish"]) and re.fullmatch(r"[\d,]+ rows", rows["snapshot"])
    assert any(re.fullmatch(r"[\d,]+ rows.*", v) for k, v in rows.items() if k.startswith("extract"))
    # Nothing of Airflow's or dbt's own output reaches the console; all of it is in the log.
    assert "[DAG TEST]" not in out + proc.stderr and "Running with dbt" not in out + proc.stderr
    assert proc.stderr == ""
    log = _log_path(out).read_text(errors="replace")
    assert "[DAG TEST]" in log and "dbt" in log
    # A quiet console: a line per task, the summary, and a heartbeat line only while a task is long.
    # Besides the task lines (one per task of the four DAGs, the run lock's take and release among
    # them) and heartbeats: a header and a result per DAG, the published marts, the list, the address.
    others = [line for line in out.splitlines() if "still running (" not in line and not TASK_LINE.match(line)]
    assert len(others) < 40, out


def test_a_year_without_goals_is_refused_then_allowed_reported_only_when_asked_and_dropped(warehouse, tmp_path):
    dsn, _ = warehouse
    env = {"WAREHOUSE_DSN": dsn}
    with psycopg.connect(dsn) as conn:
        goals = [y for (y,) in conn.execute("select distinct goal_year from intermediate.int_goals__resolved "
                                            "where goal > 0 order by 1")]
    latest, empty = goals[-1], goals[-1] + 6
    refused = sinfonia("prioritise", "--year", str(empty), env=env, check=False)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines) == 1 and "Traceback" not in refused.stderr
    assert f"{empty} has no goals" in lines[0] and "--allow-no-goals" in lines[0] and str(latest) in lines[0]
    assert _years(dsn) == [latest]

    sinfonia("prioritise", "--year", str(empty), "--allow-no-goals", env=env)
    assert _years(dsn) == [latest, empty]
    # The report's default stays the latest year with goals; the empty year only when asked for.
    default = sinfonia("report", "--out", str(tmp_path / "default"), env=env)
    assert (tmp_path / "default" / f"priorizacion_{latest}.xlsx").exists(), default.stdout
    assert not (tmp_path / "default" / f"priorizacion_{empty}.xlsx").exists()
    sinfonia("report", "--out", str(tmp_path / "asked"), "--year", str(empty), env=env)
    assert (tmp_path / "asked" / f"priorizacion_{empty}.xlsx").exists()

    dropped = sinfonia("prioritise", "--drop", "--year", str(empty), env=env)
    assert f"removed the {empty} snapshot" in dropped.stdout and "marts_build.mart_prioritisation" in dropped.stdout
    assert _years(dsn) == [latest]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from meta.prioritisation_run where prioritisation_year = %s",
                            (empty,)).fetchone()[0] == 0
    again = sinfonia("prioritise", "--drop", "--year", str(empty), env=env, check=False)
    assert again.returncode == 1 and f"no prioritisation snapshot of {empty}" in again.stderr
    missing = sinfonia("report", "--out", str(tmp_path / "gone"), "--year", str(empty), env=env, check=False)
    assert missing.returncode == 1 and f"snapshots: {latest}" in missing.stderr
    assert not (tmp_path / "gone").exists()


def _years(dsn) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [y for (y,) in conn.execute("select distinct prioritisation_year from marts.mart_prioritisation "
                                           "order by 1")]


def test_a_failed_task_prints_the_reason_the_task_and_the_log_without_a_traceback(warehouse):
    dsn, _ = warehouse
    with psycopg.connect(dsn) as conn:
        year = conn.execute("select max(prioritisation_year) from marts.mart_prioritisation").fetchone()[0]
        weights = conn.execute("select indicator, weight from seeds.prioritisation_weights").fetchall()
        conn.execute("update seeds.prioritisation_weights set weight = 0")
    try:
        proc = sinfonia("prioritise", "--year", str(year), "--force", env={"WAREHOUSE_DSN": dsn}, check=False)
        debug = sinfonia("prioritise", "--year", str(year), "--force", "--debug", env={"WAREHOUSE_DSN": dsn},
                         check=False)
    finally:
        with psycopg.connect(dsn) as conn:
            for indicator, weight in weights:
                conn.execute("update seeds.prioritisation_weights set weight = %s where indicator = %s",
                             (weight, indicator))
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    error, log_line = proc.stderr.strip().splitlines()
    assert error.startswith("sinfonia prioritise: error:") and "task dbt_build_candidate" in error
    assert "prioritisation_weights: at least one weight must be positive" in error
    log = Path(log_line.removeprefix("the whole log: "))
    assert log == _log_path(proc.stdout) and "Traceback" in log.read_text(errors="replace")
    assert any((m := TASK_LINE.match(line)) and m.group(1) == "FAILED" and m.group(2) == "dbt_build_candidate"
               for line in proc.stdout.splitlines())
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_extract_says_per_source_what_it_quarantined_why_and_where_to_look(fresh_dsn, tmp_path):
    """The extract DAG's console, as run's and demo's: the rows set aside, their reasons and the
    query on meta.quarantine that lists them (one IDF score outside 0–100, one code DIVIPOLA lacks)."""
    from sinfonia.bootstrap import bootstrap
    from sinfonia.ingest.extract import extract

    bootstrap(fresh_dsn)
    extract("divipola", [divipola_csv(tmp_path / "good")], None, fresh_dsn)
    rows = [list(r) for r in IDF_ROWS] + [["99999", "NINGUNO", "NINGUNO", 50.0, "2. Riesgo (>=40 y <60)"]]
    rows[0][3] = 130
    book = idf_book(tmp_path / "bad", rows)
    proc = sinfonia("extract", "idf", "--from", str(book), env={"WAREHOUSE_DSN": fresh_dsn})
    out = proc.stdout
    assert "idf 2023-nueva: read 4, loaded 2, quarantined 2" in out, out
    assert "Quarantined rows (2; not loaded" in out and "in meta.quarantine):" in out, out
    assert re.search(r"^  idf: 2$", out, re.M), out
    assert re.search(r"^ +1 × outside the published range 0–100$", out, re.M), out
    assert re.search(r"^ +1 × code 99999 does not resolve to DIVIPOLA", out, re.M), out
    [query] = [line.strip() for line in out.splitlines() if line.strip().startswith("select * from meta.quarantine")]
    with psycopg.connect(fresh_dsn) as conn:  # the printed query lists exactly the rows counted
        listed = conn.execute(query).fetchall()
    assert len(listed) == 2
    again = sinfonia("extract", "idf", "--from", str(book), env={"WAREHOUSE_DSN": fresh_dsn})
    assert "already loaded" in again.stdout and "Quarantined rows" not in again.stdout  # nothing new set aside


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sinfonia_airflow_serves_the_dag_list_on_loopback_with_the_printed_login_and_stops():
    state = _traversable_tmp("airflow-ui")
    port = _free_port()
    env = {**os.environ, "SINFONIA_STATE_DIR": str(state)}
    env.pop("WAREHOUSE_DSN", None)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("sinfonia")), "airflow", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"sinfonia airflow exited ({proc.poll()}): {''.join(lines)}"
            lines.append(line)
            if line.startswith("Airflow UI:"):
                break
        login = re.search(r"Airflow UI: (http://127\.0\.0\.1:\d+)\s+user (\S+), password (\S+)", "".join(lines))
        assert login, "".join(lines)
        url, user, password = login.groups()
        assert url == f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/api/v2/dags", timeout=10).status_code == 401  # a login is needed
        token = requests.post(f"{url}/auth/token", json={"username": user, "password": password},
                              timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        wanted = {"sinfonia_extract", "sinfonia_transform", "sinfonia_impact", "sinfonia_prioritisation",
                  "sinfonia_monitoring"}
        found: set[str] = set()
        while time.monotonic() < deadline and not wanted <= found:  # the dag-processor parses them
            found = {d["dag_id"] for d in requests.get(f"{url}/api/v2/dags", headers=headers,
                                                       timeout=30).json()["dags"]}
            time.sleep(2)
        assert wanted <= found
        assert requests.get(url, timeout=10).status_code == 200  # the UI itself
        health: dict = {}
        while time.monotonic() < deadline and (health.get("triggerer") or {}).get("status") != "healthy":
            health = requests.get(f"{url}/api/v2/monitor/health", timeout=30).json()  # the UI's status panel
            time.sleep(2)
        assert {k: (v or {}).get("status") for k, v in health.items()} == {
            "metadatabase": "healthy", "scheduler": "healthy", "triggerer": "healthy", "dag_processor": "healthy"}
        after = [proc.stdout.readline() for _ in range(2)]  # the warehouse line, then the time zone's
        assert "Bogotá time (America/Bogota)" in "".join(lines + after)
        outside = _outside_address()
        if outside != "127.0.0.1":  # loopback only: not reachable on the machine's own address
            with socket.socket() as s:
                assert s.connect_ex((outside, port)) != 0
        assert json.loads((state / "airflow" / "passwords.json").read_text()) == {user: password}
        assert len(psutil.Process(proc.pid).children(recursive=True)) >= 4
    finally:
        children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running: {[p.pid for p in alive]}"
    shutil.rmtree(state, ignore_errors=True)  # kept after a failure, for its logs


def _outside_address() -> str:
    """This machine's address on its default route (127.0.0.1 when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def test_a_dag_triggered_in_the_local_airflow_uses_the_warehouse_the_command_line_uses(small_sample):
    """No WAREHOUSE_DSN and no Airflow connection: the command line uses the embedded warehouse of
    its state folder, and so does a run triggered through ``sinfonia airflow``'s REST API."""
    state = _traversable_tmp("airflow-run")
    port = _free_port()
    env = {**os.environ, "SINFONIA_STATE_DIR": str(state)}
    for name in ("WAREHOUSE_DSN", "AIRFLOW_CONN_SINFONIA_WAREHOUSE"):
        env.pop(name, None)
    dsn = subprocess.run([str(Path(sys.executable).with_name("sinfonia")), "warehouse", "start"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("sinfonia")), "airflow", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 300
        while not (lines and lines[-1].startswith("DAGs of this checkout")):
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, f"sinfonia airflow exited ({proc.poll()}): {''.join(lines)}"
            lines.append(line)
        assert "warehouse: the embedded one" in lines[-1], lines[-1]
        url, user, password = re.search(r"Airflow UI: (http://\S+)\s+user (\S+), password (\S+)", "".join(lines)).groups()
        token = requests.post(f"{url}/auth/token", json={"username": user, "password": password},
                              timeout=30).json()["access_token"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        while api.get(f"{url}/api/v2/dags/sinfonia_extract", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the dag-processor did not parse sinfonia_extract"
            time.sleep(2)
        assert api.patch(f"{url}/api/v2/dags/sinfonia_extract", json={"is_paused": False}, timeout=30).ok
        run = api.post(f"{url}/api/v2/dags/sinfonia_extract/dagRuns", timeout=30,
                       json={"logical_date": None, "conf": {"sources_dir": str(small_sample)}})
        assert run.ok, run.text
        run_id = run.json()["dag_run_id"]
        deadline = time.monotonic() + 900
        state_now = "queued"
        while state_now not in ("success", "failed"):
            assert time.monotonic() < deadline, f"the triggered run is still {state_now}"
            time.sleep(3)
            state_now = api.get(f"{url}/api/v2/dags/sinfonia_extract/dagRuns/{run_id}", timeout=30).json()["state"]
        assert state_now == "success", (state / "airflow" / "logs" / "scheduler.log").read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        subprocess.run([str(Path(sys.executable).with_name("sinfonia")), "warehouse", "stop"], env=env,
                       capture_output=True, text=True)
    # what the run loaded is in the command line's warehouse
    from sinfonia.warehouse import Embedded

    server = Embedded(state / "warehouse")
    server.start()
    try:
        with psycopg.connect(dsn) as conn:
            loaded = conn.execute("select count(*), sum(rows_loaded) from meta.load_run where status = 'loaded'").fetchone()
            gated = conn.execute("select count(*) from meta.gate_run where suite like 'raw_%'").fetchone()[0]
    finally:
        server.stop()
    assert loaded[0] >= 5 and loaded[1] > 0 and gated > 0, (loaded, gated)
    shutil.rmtree(state, ignore_errors=True)

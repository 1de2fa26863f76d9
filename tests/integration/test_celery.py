"""The pipeline's DAGs on a real CeleryExecutor: Redis, PostgreSQL, api-server, scheduler,
dag-processor and two Celery workers as separate processes on loopback; a run triggered through the
CLI and awaited through the REST API; the marts checked; every process stopped by PID.

The two workers share no local folder (each its own SINFONIA_STATE_DIR) and the landing zone is on
a real S3-compatible server (moto's server mode, ``tests.objectstore``): worker ``worker-a`` takes
only the ``landing`` queue (SINFONIA_LANDING_QUEUE: the extract DAG's ``land`` task), worker
``worker-b`` every other task, so every file is landed by one worker and parsed by the other."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from tests.conftest import _traversable_tmp, sinfonia

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AIRFLOW = [sys.executable, "-m", "airflow"]
DAGS = ("sinfonia_extract", "sinfonia_transform")
REPO = Path(__file__).resolve().parents[2]
# Each worker names itself (Airflow's [core] hostname_callable), so the task instances say which ran them.
WORKERS = {"worker-a": "landing", "worker-b": "default"}
STORE_PREFIX = "celery"
TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, procs: dict | None = None, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for name, p in (procs or {}).items():
            if p.poll() is not None:
                raise AssertionError(f"{name} exited with {p.returncode} while waiting for {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(procs: dict[str, subprocess.Popen]) -> list[int]:
    """Terminate each process and all its descendants by PID; return any PID still alive."""
    tree: list[psutil.Process] = []
    for p in procs.values():
        try:
            root = psutil.Process(p.pid)
            tree += [*root.children(recursive=True), root]
        except psutil.NoSuchProcess:
            pass
    for proc in tree:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(tree, timeout=20)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    for p in procs.values():
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    return [proc.pid for proc in tree if _alive(proc)]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def stack(request, s3_server):
    from sinfonia.warehouse import Embedded

    redis_bin = shutil.which("redis-server")
    if not redis_bin:
        pytest.skip("redis-server is not installed: the CeleryExecutor needs a Redis broker")
    pytest.importorskip("airflow.providers.celery", reason="apache-airflow-providers-celery is not installed")
    base = _traversable_tmp("celery")
    procs: dict[str, subprocess.Popen] = {}
    server = Embedded(base / "pg")
    try:
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("create database airflow_meta")
        meta = server.url("airflow_meta").replace("postgresql://", "postgresql+psycopg2://", 1)
        redis_port, api_port, log_port = _free_port(), _free_port(), _free_port()
        home = base / "airflow"
        home.mkdir()
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + server.url("airflow_meta"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[2] / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Paused at creation: only the two DAGs under test are unpaused below (the yearly and
            # weekly DAGs would otherwise start at once for their latest interval).
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),  # per run, never stored
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__OPENLINEAGE__DISABLED": "True",
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "WAREHOUSE_DSN": server.url(),
            # The tasks read the warehouse as this Airflow connection (and dbt's profile from it).
            "AIRFLOW_CONN_SINFONIA_WAREHOUSE": server.url(),
            "SINFONIA_STATE_DIR": str(base / "state"),
            # The landing zone and the failure records on the S3-compatible server; the land task
            # on its own queue.
            **s3_server.env(STORE_PREFIX),
            "SINFONIA_LANDING_QUEUE": WORKERS["worker-a"],
        }

        def start(name: str, cmd: list[str], **extra: str) -> None:
            log = open(base / f"{name}.log", "w")
            procs[name] = subprocess.Popen(cmd, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT,
                                           cwd=base, start_new_session=True)

        start("redis", [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(base)])
        migrate = subprocess.run([*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True)
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        from sinfonia.pipeline import POOL_ARGS

        pool = subprocess.run([*AIRFLOW, *POOL_ARGS], env=env, capture_output=True, text=True)
        assert pool.returncode == 0, pool.stderr[-3000:]
        start("api-server", [*AIRFLOW, "api-server"])
        start("scheduler", [*AIRFLOW, "scheduler"])
        start("dag-processor", [*AIRFLOW, "dag-processor"])
        for name, queue in WORKERS.items():  # each with its own local folders and log server
            start(name, [*AIRFLOW, "celery", "worker", "--queues", queue, "--celery-hostname", f"{name}@%h"],
                  SINFONIA_STATE_DIR=str(base / name), SINFONIA_TEST_WORKER=name,
                  AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.objectstore.worker_name",
                  AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
                  PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])))
        yield {"env": env, "base": base, "procs": procs, "api": f"http://127.0.0.1:{api_port}",
               "warehouse": server.url(), "s3": s3_server}
    finally:
        left = _stop(procs)
        server.stop()
        if not left and not request.session.testsfailed:
            shutil.rmtree(base, ignore_errors=True)  # kept after a failure, for its logs
    assert not left, f"processes left running after the Celery test: {left}"


def _runs(stack, dag_id: str) -> list[dict]:
    try:
        r = requests.get(f"{stack['api']}/api/v2/dags/{dag_id}/dagRuns", timeout=30)
    except requests.RequestException:
        return []
    return r.json().get("dag_runs", []) if r.ok else []


def _logs(stack) -> str:
    out = []
    for log in sorted(stack["base"].glob("*.log")):
        out.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}")
    for log in sorted((stack["base"] / "airflow" / "logs").rglob("*.log")):
        text = log.read_text(errors="replace")
        if '"level":"error"' in text or "Traceback" in text:
            out.append(f"--- task log {log.relative_to(stack['base'])}\n{text[-3000:]}")
    return "\n".join(out)


def test_dags_run_on_celery_workers(stack, tmp_path):
    try:
        _run_and_check(stack, tmp_path)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_logs(stack)}") from None


def _run_and_check(stack, tmp_path):
    sources = tmp_path / "sources"
    sinfonia("sample", "--out", str(sources), "--municipalities", "60", "--scale", "0.1",
             "--first-year", "2022", "--last-year", "2024", "--seed", "5")
    env, procs = stack["env"], stack["procs"]

    def dags_parsed():
        with psycopg.connect(stack["warehouse"].rsplit("/", 1)[0] + "/airflow_meta") as conn:
            found = {r[0] for r in conn.execute("select dag_id from serialized_dag")}
        return set(DAGS) <= found

    _wait("the dag-processor to serialise the DAGs", dags_parsed, 180, procs)
    def api_up():
        try:
            return requests.get(f"{stack['api']}/api/v2/version", timeout=5).ok
        except requests.RequestException:
            return False

    _wait("the api-server", api_up, 120, procs)
    for dag_id in DAGS:
        unpause = subprocess.run([*AIRFLOW, "dags", "unpause", dag_id], env=env, capture_output=True, text=True)
        assert unpause.returncode == 0, unpause.stderr[-3000:]
    trigger = subprocess.run(
        [*AIRFLOW, "dags", "trigger", DAGS[0], "--conf", json.dumps({"sources_dir": str(sources)})],
        env=env, capture_output=True, text=True)
    assert trigger.returncode == 0, trigger.stderr[-3000:]

    def finished(dag_id):
        def check():
            runs = _runs(stack, dag_id)
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return done[0] if done else None
        return check

    extract = _wait(f"{DAGS[0]} to finish", finished(DAGS[0]), TIMEOUT, procs, 5)
    assert extract["state"] == "success", extract
    transform = _wait(f"{DAGS[1]} (asset-triggered) to finish", finished(DAGS[1]), TIMEOUT, procs, 5)
    assert transform["state"] == "success", transform

    # The runs went through Celery: task instances ran on the worker, recorded by the CLI.
    listed = subprocess.run([*AIRFLOW, "dags", "list-runs", DAGS[1], "-o", "json"],
                            env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and '"success"' in listed.stdout, listed.stderr[-2000:]
    with psycopg.connect(stack["warehouse"].rsplit("/", 1)[0] + "/airflow_meta") as conn:
        executors = {r[0] for r in conn.execute(
            "select distinct queued_by_job_id is not null and hostname <> '' from task_instance")}
        states = dict(conn.execute("select state, count(*) from task_instance group by state").fetchall())
        ran = conn.execute("select task_id, queue, hostname from task_instance where dag_id = %s", (DAGS[0],)).fetchall()
    assert executors == {True} and set(states) == {"success"}, states

    # Landed by one worker, parsed by the other, through the object store only.
    where = {task_id: (queue, host) for task_id, queue, host in ran}
    assert where["land"] == ("landing", "worker-a"), where
    parsed = {t: h for t, (_, h) in where.items() if t.startswith("extract_")}
    assert parsed and set(parsed.values()) == {"worker-b"}, where
    s3 = stack["s3"]
    landed = s3.keys(f"{STORE_PREFIX}/landing/")
    base = stack["base"]
    with psycopg.connect(stack["warehouse"]) as conn:
        stored = {f"{STORE_PREFIX}/landing/{p}" for (p,) in conn.execute("select stored_path from meta.landed_file")}
        loaded = {f for (files,) in conn.execute("select files from meta.load_run where status = 'loaded'")
                  for f in files}
    assert landed and set(landed) == stored, (landed, stored)
    assert {k.split("/")[3] for k in landed} == loaded  # every landed file was parsed and loaded
    assert not (base / "worker-a" / "landing").exists() and not (base / "worker-b" / "landing").exists()
    cached = {p.parent.name for p in (base / "worker-b" / "landing-cache").rglob("*") if p.is_file()}
    assert cached == loaded  # worker-b read each file from its copy of the object, fetched from the store

    entities = sum(len(json.loads(p.read_text())) for p in (sources / "divipola").glob("*.json"))
    with psycopg.connect(stack["warehouse"]) as conn:
        assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] == entities
        assert conn.execute("select count(*) from marts.dim_territorial_directorate").fetchone()[0] == 16
        assert conn.execute("select count(*) from marts.fct_technical_assistance").fetchone()[0] > 0
        assert conn.execute("select count(*) from marts.fct_municipal_indicator").fetchone()[0] > 0
        assert conn.execute("select count(*) from meta.publication").fetchone()[0] == 1
        # The extract DAG's bootstrap task created the roles: the analyst reads the marts.
        conn.execute("set role sinfonia_analyst")
        assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] == entities

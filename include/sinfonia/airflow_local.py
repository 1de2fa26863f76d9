"""``sinfonia airflow``: Airflow's web UI and scheduler on loopback, for this checkout's DAGs.

The same Airflow home as ``sinfonia run`` (SQLite metadata under the state folder,
``config.airflow_env()``), so the UI shows the runs the command line made. Four processes, as
Airflow 3 splits them: the api-server (web UI, REST API and the task execution API), the
scheduler (LocalExecutor), the dag-processor (parses ``dags/``) and the triggerer (the UI
reports a missing one as unhealthy). Each logs to
``<state>/airflow/logs/<name>.log``. The login is Airflow's simple auth manager: one ``admin``
user whose password is generated once into ``<state>/airflow/passwords.json`` (mode 0600) and
printed. A JWT secret shared by the three processes is generated per start and never stored.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sinfonia import config

USER = "admin"
# The triggerer runs deferred tasks (none of ours defers); without it the UI shows it red, as if broken.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# The DAGs' schedules are in Bogotá time (their timetables say so); naive datetimes are read there too.
TIMEZONE = "America/Bogota"


class AirflowError(RuntimeError):
    pass


def passwords_file() -> Path:
    return config.airflow_home() / "passwords.json"


def password() -> str:
    """The admin's password: read from the passwords file, generated there the first time."""
    path = passwords_file()
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8")).get(USER)
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(json.dumps({USER: value}) + "\n", encoding="utf-8")
    return value


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def environment(port: int) -> dict[str, str]:
    """The processes' environment: the project's Airflow home and DAGs, loopback only. The tasks
    find the warehouse as the command line does (``warehouse.address``: ``WAREHOUSE_DSN``, the
    connection ``sinfonia_warehouse``, the embedded server of the same state folder)."""
    env = {**os.environ, **config.airflow_env()}
    env.update({
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file()),
        # New DAGs start paused: the yearly and weekly DAGs would otherwise run at once.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__TRIGGERER__CAPACITY": "100",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": TIMEZONE,
    })
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalAirflow:
    """The three processes, started and stopped by PID (each in its own process group)."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = config.airflow_home() / "logs"

    def start(self) -> None:
        from sinfonia import dbt, pipeline

        if not port_free(self.port):
            raise AirflowError(f"port {self.port} on 127.0.0.1 is in use: pass another with --port")
        env = environment(self.port)
        os.environ.update(config.airflow_env())  # the metadata database is created in this process
        pipeline.ensure_airflow_db()
        dbt.ensure_manifest()  # the weekly DAG reads it
        password()
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            log = open(self.logs / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", name], env=env,
                                                stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()

    def ready(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).ok
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready():
                return
            time.sleep(1)
        raise AirflowError(f"the api-server did not answer on {self.url} within {timeout:.0f} s "
                           f"(its log: {self.logs / 'api-server.log'})")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AirflowError(f"airflow {name} exited with code {proc.returncode} "
                                   f"(its log: {self.logs / f'{name}.log'})")

    def stop(self) -> None:
        """SIGTERM to each process group, then SIGKILL to what is left after 20 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for proc in self.procs.values():  # children left in a group whose leader exited
            _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def serve(port: int, warehouse: str, say: Callable[[str], None] = print) -> None:
    """Start Airflow, print the address and login, and keep it up until Ctrl-C or SIGTERM;
    ``warehouse`` says which warehouse its runs use (for the message)."""
    stack = LocalAirflow(port)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the three processes too
    try:
        say(f"Starting Airflow ({', '.join(COMPONENTS)}; logs in {stack.logs}) …")
        stack.start()
        stack.wait_ready()
        say(f"Airflow UI: {stack.url}  user {USER}, password {password()} (stored in {passwords_file()})")
        say(f"DAGs of this checkout, new ones paused; warehouse: {warehouse}. Ctrl-C stops Airflow.")
        say(f"The UI shows times in your browser's time zone; the schedules are in Bogotá time ({TIMEZONE}): "
            "pick it under User → Timezone to read them as scheduled.")
        while True:
            stack.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        say("stopping Airflow …")
    finally:
        stack.stop()

"""Shared fixtures: a throwaway embedded PostgreSQL, fresh databases, small sample folders.

Set ``SINFONIA_TEST_DSN`` to a PostgreSQL URL (superuser) to run the integration tests against
that server instead of an embedded one; each test still gets its own database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]

# The documented local-only pseudonymisation key (sinfonia.ingest.pii.DEMO_KEY): test data are synthetic.
os.environ.setdefault("SINFONIA_PII_KEY", "sinfonia-demo-local-only-not-a-secret")
REFERENCE = REPO.parent / "shared" / "reference"


# The modules that take longest (seconds of one run on 3 workers, 7 December 2026: 320, 246, 207, 189,
# 187, 175, 169, 136, 104, 79, 72, 71, 69, 64, 57, 55, 46, 40, 37, 33, 25, 23), longest first. Run
# first, so that the workers end together (longest processing time first) rather than one
# finishing a long module alone while the others wait; the rest follow in their usual order. Only the
# order changes. `make test` passes --no-loadscope-reorder, or xdist would put the modules with the
# most tests first instead.
SLOW_MODULES = tuple(f"tests/integration/{name}.py" for name in (
    "test_cli", "test_reference_sources", "test_prioritisation_pipeline", "test_celery", "test_notifications",
    "test_pipeline", "test_impact", "test_monitoring", "test_marts_incremental", "test_bad_inputs",
    "test_prioritisation_method", "test_warehouse", "test_runlock", "test_first_hour",
    "test_report_formula_injection", "test_roles", "test_extract_url", "test_tls_warehouse", "test_sqlfluff",
    "test_impact_report", "test_dbt_unit_tests", "test_ficha",
))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: same order within


def _traversable_tmp(name: str) -> Path:
    """A throwaway folder under the checkout: when tests run as root, PostgreSQL runs as an
    unprivileged user that cannot enter pytest's private tmp folders (mode 0700)."""
    path = REPO / ".sinfonia" / "test-runs" / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def _project_artefacts() -> dict[str, tuple[int, int] | None]:
    """(mtime in ns, size) of the dbt project's own parse, which ``make install`` writes."""
    from sinfonia.dbt import MANIFEST

    target = MANIFEST.parent
    out = {}
    for name in ("manifest.json", "partial_parse.msgpack"):
        try:
            st = (target / name).stat()
            out[name] = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            out[name] = None
    return out


@pytest.fixture(scope="session", autouse=True)
def _project_parse_left_alone():
    """No test writes over ``dbt_project/target/`` (dbt's default artefacts folder): the DAG files and
    the other test workers read that manifest while a test runs, and Cosmos takes the newest
    partial-parse file, so a parse written there with another profile makes every worker's next
    build parse the whole project again. Tests give dbt a target under the state folder
    (``sinfonia.dbt.target_dir``)."""
    before = _project_artefacts()
    yield
    after = _project_artefacts()
    changed = sorted(name for name in before if before[name] is not None and after[name] != before[name])
    assert not changed, (f"dbt_project/target/{', '.join(changed)} rewritten during the tests: a dbt command "
                         "ran with the project's default --target-path")


@pytest.fixture(scope="session")
def state_dir() -> Path:
    """A private state folder (warehouse, Airflow home, landing) for the whole session."""
    path = _traversable_tmp("state")
    os.environ["SINFONIA_STATE_DIR"] = str(path)
    os.environ.pop("WAREHOUSE_DSN", None)
    os.environ.pop("SINFONIA_STORE_URL", None)  # the local default store, under the state folder
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto's server mode) on loopback with one bucket
    (``tests.objectstore``); its ``env()`` points ``SINFONIA_STORE_URL`` at it."""
    pytest.importorskip("moto.server", reason="moto[s3] is not installed (requirements.txt)")
    from tests import objectstore

    folder = _traversable_tmp("s3")
    server = objectstore.start(folder / "moto.log")
    try:
        yield server
    finally:
        objectstore.stop(server)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_dir():
    """A folder for a test's own embedded server."""
    path = _traversable_tmp("server")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_dsn(state_dir):
    """A superuser URL of the server the integration tests use (maintenance database)."""
    configured = os.environ.get("SINFONIA_TEST_DSN")
    if configured:
        yield configured
        return
    from sinfonia.warehouse import Embedded

    server = Embedded(state_dir / "test-warehouse")
    server.start()
    yield server.url("postgres")
    server.stop()


def _with_db(server_dsn: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    info["dbname"] = name
    user = info.get("user", "")
    pwd = f":{info['password']}" if info.get("password") else ""
    return f"postgresql://{user}{pwd}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{name}"


def _create_database(server_dsn: str, name: str, template: str | None = None) -> None:
    """``create database`` (a copy of ``template`` when given). A template must have no other
    session: a pipeline process that just exited may leave its backend for a moment, so retry."""
    statement = f'create database "{name}"' + (f' template "{template}"' if template else "")
    for attempt in range(50):
        try:
            with psycopg.connect(server_dsn, autocommit=True) as conn:
                conn.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 49:
                raise
            time.sleep(0.2)


@contextmanager
def throwaway_database(server_dsn: str, prefix: str = "t", template: str | None = None):
    """A new database on the test server (its URL), empty or a copy of ``template``; dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _create_database(server_dsn, name, template)
    try:
        yield _with_db(server_dsn, name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def dbname(dsn: str) -> str:
    """The database a URL names (for ``throwaway_database(…, template=dbname(dsn))``)."""
    return psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]


# Full refreshes already run in this session: (server, sources folder) → (template database, process).
_TEMPLATES: dict[tuple[str, str], tuple[str, subprocess.CompletedProcess]] = {}


@contextmanager
def sample_run(server_dsn: str, sources: Path, prefix: str):
    """A throwaway database holding ``sources`` run through the full refresh: (dsn, process).

    The first call for a folder runs the real pipeline (``sinfonia run``) into a template
    database; later calls, from any test module, get their own copy of it
    (``CREATE DATABASE … TEMPLATE``, about a second) instead of running the pipeline again.
    Each copy is private: a test may change it freely. The process is that of the first run.
    """
    key = (server_dsn, str(Path(sources).resolve()))
    if key not in _TEMPLATES:
        template = f"tpl_{prefix}_{uuid.uuid4().hex[:12]}"
        _create_database(server_dsn, template)
        proc = sinfonia("run", "--sources", str(sources), env={"WAREHOUSE_DSN": _with_db(server_dsn, template)})
        _TEMPLATES[key] = (template, proc)
    template, proc = _TEMPLATES[key]
    with throwaway_database(server_dsn, prefix, template=template) as dsn:
        yield dsn, proc


@pytest.fixture(scope="session", autouse=True)
def _drop_template_databases():
    yield
    for server, _ in list(_TEMPLATES):
        template, _proc = _TEMPLATES.pop((server, _))
        try:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{template}" with (force)')
        except psycopg.OperationalError:
            pass  # the embedded test server is already stopped: its folder goes with it


@pytest.fixture
def fresh_dsn(server_dsn):
    """A new, empty database for one test; dropped afterwards."""
    with throwaway_database(server_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A small synthetic sample (about 120 municipalities, 2019–2025)."""
    from sinfonia.sample import write_sample

    out = tmp_path_factory.mktemp("sample")
    write_sample(out, seed=7, scale=0.2, first_year=2019, last_year=2025, municipalities=120)
    return out


def sinfonia(*args: str, env: dict | None = None, check: bool = True, timeout: int = 900):
    """Run the installed command line in a subprocess, as a user would."""
    exe = Path(sys.executable).with_name("sinfonia")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"sinfonia {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def reference(*parts: str) -> Path:
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference file {path.name} not found beside the checkout (../shared/reference)")
    return path

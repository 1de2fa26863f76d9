"""dbt settings shared by the CLI, the DAGs (through Cosmos) and the tests."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from sinfonia import config, db

MANIFEST = config.DBT_DIR / "target" / "manifest.json"

log = logging.getLogger(__name__)


# dbt's settings beside the connection itself: the same for the private profile of every dbt
# invocation (``run`` and the DAGs' Cosmos builds) and the project's profiles.yml.
PROFILE_ARGS = {"schema": "public", "threads": 2, "connect_timeout": 10}
# The libpq parameters dbt-postgres's profile has a field for (dbt/adapters/postgres/connections.py).
# Every other parameter of the address (``options``, ``target_session_attrs``, ``sslcrl``, …) reaches
# libpq through a private service file (``connection``): none is dropped.
PROFILE_FIELDS = {"sslmode": str, "sslcert": str, "sslkey": str, "sslrootcert": str,
                  "application_name": str, "keepalives_idle": int, "connect_timeout": int}
_OWN = ("host", "port", "user", "password", "dbname")


def _connection(info: dict) -> dict[str, str | int]:
    """Host, port, user, password and database of a parsed PostgreSQL URL, libpq's defaults filled in."""
    return {"host": str(info.get("host") or "127.0.0.1"), "port": int(info.get("port") or 5432),
            "user": str(info.get("user") or os.environ.get("USER", "postgres")),
            "password": str(info.get("password") or ""), "dbname": str(info.get("dbname") or "postgres")}


def profile(dsn: str) -> dict:
    """The dbt-postgres output of ``dsn``: its connection, the profile fields it sets, ``PROFILE_ARGS``."""
    info = conninfo_to_dict(dsn)
    fields = {k: kind(info[k]) for k, kind in PROFILE_FIELDS.items() if info.get(k) not in (None, "")}
    return {"type": "postgres", **_connection(info), **PROFILE_ARGS, **fields}


def service(dsn: str) -> dict[str, str]:
    """The libpq parameters of ``dsn`` that dbt's profile cannot carry, with ``options`` led by the
    pipeline's session limits (``db.session_options``; the URL's own come last and win)."""
    info = conninfo_to_dict(dsn)
    out = {k: str(v) for k, v in info.items() if k not in _OWN and k not in PROFILE_FIELDS and v not in (None, "")}
    out["options"] = pg_options(dsn)
    bad = sorted(k for k, v in out.items() if "\n" in v or "\r" in v)
    if bad:
        raise ValueError(f"the warehouse address's {', '.join(bad)} holds a line break: libpq cannot read it")
    return out


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """These environment variables for the duration, each restored (or removed) after."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def connection(dsn: str) -> Iterator[Path]:
    """A private folder (mode 0700, removed on exit) holding ``profiles.yml`` (the connection and the
    profile fields of ``dsn``) and ``pg_service.conf`` (every other libpq parameter of ``dsn``), with
    libpq pointed at that service for the duration (``PGSERVICEFILE``/``PGSERVICE``, restored after):
    dbt-postgres opens its sessions with every parameter of the address and the pipeline's limits.
    The credentials reach dbt as a file, not through the environment."""
    outputs = {"warehouse": profile(dsn)}
    with tempfile.TemporaryDirectory(prefix="sinfonia-dbt-profile-") as folder:
        path = Path(folder) / "profiles.yml"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"sinfonia": {"target": "warehouse", "outputs": outputs}}), encoding="utf-8")
        services = Path(folder) / "pg_service.conf"
        services.touch(mode=0o600)
        services.write_text("[sinfonia]\n" + "".join(f"{k}={v}\n" for k, v in service(dsn).items()),
                            encoding="utf-8")
        with _environment({"PGSERVICEFILE": str(services), "PGSERVICE": "sinfonia"}):
            yield Path(folder)


def env_for(dsn: str) -> dict[str, str]:
    """The environment variables ``dbt_project/profiles.yml`` reads, from a PostgreSQL URL, and
    libpq's own variables for the URL's other parameters: for dbt's own command line run as a
    subprocess (its environment given explicitly, never exported)."""
    from psycopg import pq

    info = conninfo_to_dict(dsn)
    env = {f"SINFONIA_DBT_{key.upper()}": str(value) for key, value in _connection(info).items()}
    variables = {o.keyword.decode(): (o.envvar or b"").decode() for o in pq.Conninfo.get_defaults()}
    for key, value in {**{k: str(info[k]) for k in PROFILE_FIELDS if info.get(k)}, **service(dsn)}.items():
        if not variables.get(key):
            raise ValueError(f"libpq has no environment variable for {key}: dbt as a subprocess cannot use it")
        env[variables[key]] = value
    return env


def pg_options(dsn: str) -> str:
    """libpq's ``options`` for dbt's sessions: the pipeline's lock and statement timeouts, then
    the URL's own ``options``."""
    return " ".join(filter(None, (db.session_options(), conninfo_to_dict(dsn).get("options"))))


class DataTestsFailed(ValueError):
    """dbt's data tests found rows that break them: the data, not the build, must change (a
    ``ValueError``, so the task's retry policy fails it at once)."""


# A data test that ran and found rows (dbt's message, dbt/task/test.py) as Cosmos reports it.
_TEST_FAILURE = re.compile(r"^(?P<node>[^:\n]+): Got \d+ results?, configured to (?:fail|warn) if ", re.MULTILINE)
_COSMOS_ERRORS = "dbt invocation completed with errors:"


def data_test_failures(message: str) -> list[str]:
    """The failed data tests named in Cosmos' error message, when that is all it reports; empty
    when any node failed for another reason (an error of SQL or connection, which may be transient)."""
    if _COSMOS_ERRORS not in message:
        return []
    lines = [line for line in message.split(_COSMOS_ERRORS, 1)[1].strip().splitlines() if line.strip()]
    failures = [m.group("node") for m in map(_TEST_FAILURE.match, lines) if m]
    return failures if failures and len(failures) == len(lines) else []


# A row that breaks a model's enforced contract (its NOT NULL, CHECK, UNIQUE constraints): PostgreSQL's
# own message as dbt reports it. The contract is checked when the table is built, before any data test.
_CONSTRAINT_VIOLATION = re.compile(r"^\s*(.*violates (?:not-null|check|unique|foreign key|exclusion) constraint.*)$",
                                   re.MULTILINE)


def constraint_violations(message: str) -> list[str]:
    """PostgreSQL's messages in a failed build for rows that break a model's constraints, in
    order, each once: the data, not the build, must change (as for a failed data test)."""
    return list(dict.fromkeys(m.strip() for m in _CONSTRAINT_VIOLATION.findall(message)))


# A source table dbt reads that the warehouse lacks (PostgreSQL's message through dbt).
_MISSING_SOURCE = re.compile(r'relation "((?:raw|restricted)\.\w+)" does not exist')


def missing_sources(message: str) -> list[str]:
    """The raw (or restricted) tables a failed build found missing, in order, each once: the
    extract never ran on this warehouse."""
    return list(dict.fromkeys(_MISSING_SOURCE.findall(message)))


def target_dir() -> Path:
    """Where ``run`` has dbt write its artefacts: one folder per state folder, so that two runs
    on one checkout (two test workers, a CLI command beside the demo) never write the same files,
    and the project's own ``target/manifest.json`` (``ensure_manifest``) is never rewritten under
    a reader."""
    return config.state_dir() / "dbt-target"


# A prioritisation run's parameters (dbt_project/macros/prioritisation_parameter.sql) reach dbt as
# environment variables, not as ``--vars``: dbt re-parses the whole project whenever ``--vars``
# change (about 4 s of every build of a new year), and a changed environment variable re-parses
# only the files that read it (two models).
PARAMETERS = ("prioritisation_year", "prioritisation_as_of_date", "prioritisation_force")


def parameters_env(parameters: dict | str | None) -> dict[str, str]:
    """``SINFONIA_<NAME>`` = the JSON value of each prioritisation parameter, from a dict or its
    JSON text (``Plan.dbt_vars``). Every parameter gets a variable, empty when not given, so that
    a value set for an earlier build in the same process never applies to this one."""
    given = json.loads(parameters) if isinstance(parameters, str) and parameters else dict(parameters or {})
    unknown = sorted(set(given) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown prioritisation parameters {unknown}: expected some of {list(PARAMETERS)}")
    return {f"SINFONIA_{name.upper()}": json.dumps(given[name]) if name in given else "" for name in PARAMETERS}


@functools.cache  # once per process, on its first dbt command
def _name_flags_by_frame() -> None:
    """Have dbt's behaviour flags find the module that declared them from the frames' globals.

    ``dbt_common.behavior_flags.BehaviorFlagRendered._default_source`` calls ``inspect.stack()`` and
    ``inspect.getmodule()`` for every flag an adapter declares: the first call in a process reads the
    source file of every frame on the stack and maps every loaded module to its file. In a pipeline
    process (Airflow, Great Expectations and dbt loaded: about 3,800 modules) that is 1-2 s of its
    first dbt build; dbt's own command line pays little of it. The name is the same (the first frame
    outside that module, by its module's ``__name__``) and only labels dbt's behaviour-change event.
    """
    from dbt_common import behavior_flags

    def default_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if name and name != behavior_flags.__name__:
                return name
            frame = frame.f_back
        return "Unknown"

    default_source.__wrapped__ = behavior_flags.BehaviorFlagRendered._default_source  # dbt's own
    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(default_source)


@functools.cache  # once per process, on its first dbt command
def _keep_sessions_between_nodes() -> None:
    """Have dbt keep each thread's database session from one node to the next.

    dbt closes a thread's connection after every node (``BaseConnectionManager.release``) and opens
    a new one for the next: a new PostgreSQL backend and a SCRAM authentication each time, about
    6 ms here, 245 times in the transform's build. Here a node's release rolls back whatever
    transaction the node left open and keeps the idle session for the thread's next node (dbt
    renames it, as it does for its own reuse). Any other session (not a psycopg2 connection, closed,
    or not idle after the rollback) is released as dbt releases it, closed; and dbt still closes
    every session when the command ends (``cleanup_connections``). The project sets nothing on a
    session that a node could leave behind (no hook, no ``SET``, no session lock).
    """
    from dbt.adapters.base.connections import BaseConnectionManager
    from dbt.adapters.contracts.connection import ConnectionState
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    close_it = BaseConnectionManager.release

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        handle = conn.handle if conn is not None and conn.state == ConnectionState.OPEN else None
        if handle is not None and hasattr(handle, "get_transaction_status") and not handle.closed:
            try:
                handle.rollback()  # psycopg2 sends nothing when no transaction is open
                conn.transaction_open = False
                if handle.get_transaction_status() == TRANSACTION_STATUS_IDLE:
                    return
            except Exception:  # noqa: BLE001 - a broken session: closed below, as dbt would
                pass
        close_it(self)

    release.__wrapped__ = close_it  # dbt's own
    BaseConnectionManager.release = release


def run(args: list[str], dsn: str | None = None, check: bool = True, target: Path | None = None,
        parameters: dict | None = None, callbacks: list | None = None):
    """Run dbt in-process (``dbtRunner``); raises with dbt's message when it fails (``check``) and
    returns dbt's result (``dbtRunnerResult``).

    With ``dsn``, dbt connects through a private profile; without, it reads the project's
    ``profiles.yml`` (enough for commands that do not connect). Artefacts go to ``target``
    (default ``target_dir()``). ``parameters``: a prioritisation run's (``parameters_env``);
    ``callbacks``: dbt's, each called with every event dbt fires."""
    from dbt.cli.main import dbtRunner

    _name_flags_by_frame()
    _keep_sessions_between_nodes()
    base = ["--project-dir", str(config.DBT_DIR), "--target-path", str(target or target_dir())]
    with _environment(parameters_env(parameters)):
        if dsn is None:
            result = dbtRunner(callbacks=callbacks).invoke([*args, *base, "--profiles-dir", str(config.DBT_DIR)])
        else:
            with connection(dsn) as profiles:
                result = dbtRunner(callbacks=callbacks).invoke([*args, *base, "--profiles-dir", str(profiles)])
    if check and not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log above'}")
    return result


def ensure_manifest() -> Path:
    """Parse the project when the manifest is missing or older than a project file."""
    newest = max(p.stat().st_mtime for p in config.DBT_DIR.rglob("*")
                 if p.is_file() and "target" not in p.parts and "logs" not in p.parts)
    if not MANIFEST.exists() or MANIFEST.stat().st_mtime < newest:
        run(["parse", "--quiet"], target=MANIFEST.parent)
    return MANIFEST


def mart_models(manifest: Path = MANIFEST) -> list[str]:
    """The models dbt builds into ``marts_build``: what ``publish`` copies into ``marts`` (from the
    manifest; none when the project was never parsed)."""
    if not manifest.exists():
        return []
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    return sorted(n["alias"] for n in nodes if n["resource_type"] == "model" and n["schema"] == config.MARTS_BUILD)


def missing_relations(dsn: str, manifest: Path = MANIFEST) -> list[str]:
    """The project's tables and views (models and seeds) not yet in the warehouse.

    A narrowed build (a selector) reads everything it does not build from where the last full
    build left it: that is only possible when every relation exists.
    """
    if not manifest.exists():
        return ["(no dbt manifest)"]
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    names = sorted({f"{n['schema']}.{n['alias']}" for n in nodes
                    if n["resource_type"] in ("model", "seed") and n["config"]["materialized"] != "ephemeral"})
    import psycopg

    with psycopg.connect(dsn) as conn:
        found = conn.execute("select name from unnest(%s::text[]) as name where to_regclass(name) is not null",
                             (names,)).fetchall()
    return sorted(set(names) - {row[0] for row in found})


# What a pipeline build leaves out:
# - the unit tests: they check the models' logic on fixed inputs, not the data, so they run in CI
#   (tests/integration/test_dbt_unit_tests.py), not in every production build, as dbt's
#   documentation advises (23 of them: a few seconds of every build);
# - dbt's own log file: every event of every node at debug level, written into the temporary
#   copy of the project that Cosmos deletes after the build (1-2 s of the transform's build here).
#   dbt's console lines still reach the run's log, and a failure still raises with dbt's message.
PRODUCTION_FLAGS = ["--exclude-resource-type", "unit_test", "--log-level-file", "none"]


def selection(selector: str | None, dsn: str) -> list[str]:
    """dbt flags for a build narrowed by ``selector``, or none (the whole project) when the
    warehouse does not hold yet what the narrowed build would read."""
    if not selector:
        return []
    missing = missing_relations(dsn)
    if missing:
        log.warning("building the whole dbt project instead of selector %s: %d relations not built yet (%s)",
                    selector, len(missing), ", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""))
        return []
    return ["--selector", selector]


def cosmos_build(task_id: str, flags: list[str], profiles: Path, parameters: str | None = None):
    """Cosmos' DbtBuildLocalOperator for one in-process ``dbt build`` with extra ``flags``, its
    profile the private ``profiles.yml`` in ``profiles`` (``connection``: the warehouse address of
    ``warehouse.address``, every libpq parameter kept), and a prioritisation run's ``parameters``
    (JSON) in its environment (``parameters_env``).

    Built when the task runs (see ``airflow_common.DbtBuild``). ``cache_dir`` lets Cosmos carry
    dbt's partial-parse file from one build to the next (without it each build re-parsed the whole
    project: about 4 s); every build shares it, as none passes ``--vars``.

    dbt writes no ``manifest.json`` or ``run_results.json`` (``--no-write-json``): in Cosmos'
    temporary copy of the project they were written (the manifest twice) and deleted unread, 0.4 s
    of a weekly build here. The partial-parse file, all dbt reads back, is still written and kept.
    """
    from cosmos import ProfileConfig
    from cosmos.constants import InvocationMode
    from cosmos.dbt.project import get_partial_parse_path
    from cosmos.fs import safe_copy
    from cosmos.operators.local import DbtBuildLocalOperator

    class Build(DbtBuildLocalOperator):
        def calculate_openlineage_events_completes(self, *args, **kwargs) -> bool:
            """Cosmos reads the build's manifest and results back into OpenLineage events after
            every build (0.2-0.4 s), which on Airflow 3 it keeps on the operator and nothing reads;
            it also copies the build's environment into this process's. Neither is wanted here."""
            return False

        def _update_partial_parse_cache(self, tmp_dir_path: Path) -> None:
            """Cosmos' own, which copies the manifest beside the partial-parse file: there is none."""
            built = get_partial_parse_path(tmp_dir_path)
            if built.exists():
                kept = get_partial_parse_path(self.cache_dir)
                kept.parent.mkdir(parents=True, exist_ok=True)
                safe_copy(built, kept)
                kept.with_name("manifest.json").unlink(missing_ok=True)  # an older build's, if any

    _name_flags_by_frame()
    _keep_sessions_between_nodes()
    cache = config.state_dir() / "cosmos" / "partial-parse"
    cache.mkdir(parents=True, exist_ok=True)
    return Build(
        task_id=task_id,
        project_dir=str(config.DBT_DIR),
        profile_config=ProfileConfig(profile_name="sinfonia", target_name="warehouse",
                                     profiles_yml_filepath=profiles / "profiles.yml"),
        invocation_mode=InvocationMode.DBT_RUNNER,
        dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        install_deps=False,
        cache_dir=cache,
        dbt_cmd_flags=[*flags, "--no-write-json"],
        env=parameters_env(parameters),
        emit_datasets=False,  # the DAGs declare their own assets (the marts are published after the gate)
    )

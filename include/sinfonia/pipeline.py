"""Drive the real Airflow DAGs in process (``dag.test()``), in the order their Assets chain them.

``sinfonia run``/``demo``/``build`` and the tests use this, so the code path that users schedule
is the one that runs everywhere: there is no second, DAG-free pipeline. Airflow keeps its
metadata in SQLite under the state folder; it is created on first use.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sinfonia import config, console

# The DAGs of a full refresh, in Asset order (extract → transform → impact → prioritisation of the
# latest year with goals; a year already snapshotted is kept).
FULL_REFRESH = ("sinfonia_extract", "sinfonia_transform", "sinfonia_impact", "sinfonia_prioritisation")
# The weekly monitoring path: new ESAP exports → only the monitoring marts and their parents.
WEEKLY = ("sinfonia_extract", "sinfonia_monitoring")


# The one-slot pool that serialises dbt builds across DAGs (airflow_common.DBT_POOL).
POOL_ARGS = ["pools", "set", "sinfonia_dbt", "1", "one dbt build into marts_build at a time"]


class PipelineFailed(RuntimeError):
    pass


def prepare_environment() -> None:
    """Airflow's and Cosmos' settings for an in-process run (the tasks find the warehouse as the
    command line does: ``warehouse.address``)."""
    for key, value in config.airflow_env().items():
        os.environ.setdefault(key, value)
    config.airflow_home().mkdir(parents=True, exist_ok=True)


def ensure_airflow_db() -> None:
    """Create or upgrade the metadata database this process's Airflow uses (a few seconds, first
    time only). The marker names that database: an ``AIRFLOW_HOME`` or connection inherited from the
    environment, not the state folder's, is migrated too, never assumed ready."""
    marker = config.airflow_home() / ".migrated"
    db_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    db_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None
    import airflow

    stamp = f"{airflow.__version__} +pools {db_url}"  # a new stamp re-runs the set-up steps once
    if marker.exists() and marker.read_text() == stamp and (db_file is None or db_file.exists()):
        return
    for args in (["db", "migrate"], POOL_ARGS):
        proc = subprocess.run([sys.executable, "-m", "airflow", *args],
                              capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode != 0:
            raise PipelineFailed(f"airflow {' '.join(args[:2])} failed: {proc.stderr.strip()[-2000:]}")
    marker.write_text(stamp)


def load_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(config.DAGS_DIR), safe_mode=False)
    if bag.import_errors:
        errors = "; ".join(f"{Path(k).name}: {v.strip().splitlines()[-1]}" for k, v in bag.import_errors.items())
        raise PipelineFailed(f"DAG files failed to import: {errors}")
    return bag.dags


def run_dags(dag_ids: tuple[str, ...], conf: dict | None = None, progress=print,
             returned: dict | None = None) -> dict[str, float]:
    """Run each DAG to completion in order; raise ``PipelineFailed`` naming the failed task.
    ``returned`` (a dict) receives what each task returned, by task id.

    The whole sequence holds the warehouse (``sinfonia.runlock``): a second run, from this
    machine or another Airflow installation, fails at once instead of publishing a mix."""
    from sinfonia import runlock, warehouse

    dsn = warehouse.dsn()
    with console.running(progress, "starting Airflow"), runlock.hold(dsn, " → ".join(dag_ids)):
        return _run_dags(dag_ids, conf, progress, dsn, returned)


# The DAGs whose last task publishes the marts.
PUBLISHING = ("sinfonia_transform", "sinfonia_monitoring")


def _run_dags(dag_ids: tuple[str, ...], conf: dict | None, progress, dsn: str,
              returned: dict | None = None) -> dict[str, float]:
    from sinfonia import db, dbt, tasks
    from sinfonia.airflow_common import for_in_process_run

    with console.running(progress, "preparing Airflow's metadata database"):
        ensure_airflow_db()
    with console.running(progress, "parsing the dbt project (after a change of the dbt files)"):
        dbt.ensure_manifest()
    with console.running(progress, "loading the DAG files"):
        dags = load_dags()
    with console.running(progress, "starting Airflow's execution API"):
        execution_api_for_this_client()
    timings: dict[str, float] = {}
    for dag_id in dag_ids:
        if dag_id not in dags:
            raise PipelineFailed(f"no DAG {dag_id!r} in {config.DAGS_DIR}")
        progress(f"→ {dag_id} …")
        start = time.perf_counter()
        for_in_process_run(dags[dag_id])  # a retry waits seconds here, not minutes
        # What the process holds by now (Airflow, dbt, Great Expectations, the DAGs: about 400,000
        # objects) stays for its life: leave it out of the garbage collector's full passes, which
        # Cosmos runs after every dbt command (0.5-0.9 s each over that heap here).
        gc.freeze()
        with task_lines(progress, returned), no_asset_triggered_runs(), console.running(progress, dag_id):
            run = dags[dag_id].test(run_conf=conf or {})
        timings[dag_id] = time.perf_counter() - start
        state = str(getattr(run, "state", "unknown"))
        if not state.endswith("success"):
            failures = tasks.failures(dag_id, run.run_id) if getattr(run, "run_id", None) else []
            detail = "; ".join(f"task {f['task_id']}: {f['error']}" for f in failures) or "see the log above"
            gone = db.unreachable(dsn)
            if gone:
                published = [d for d in dag_ids[:dag_ids.index(dag_id)] if d in PUBLISHING]
                raise PipelineFailed(
                    f"the warehouse went away during {dag_id} ({gone}): the run stopped there; "
                    + (f"the marts were published by {published[-1]} before it, nothing after that"
                       if published else "nothing was published, the marts keep their last publication")
                    + f". Task errors: {detail}")
            raise PipelineFailed(f"DAG {dag_id} {state.split('.')[-1]}: {detail}")
        progress(f"  {dag_id} succeeded in {timings[dag_id]:.1f} s")
    return timings


def execution_api_for_this_client(app=None) -> bool:
    """Have the execution API that ``dag.test()`` serves in this process build the routes of the
    one API version its only client asks for, and of the newer ones, not of every version.

    The client is this installation's Task SDK (``airflow.sdk.api.client.API_VERSION``). Cadwyn
    builds the routes of every version the API has had (nine in Airflow 3.3) at the first request:
    3.4 s of every pipeline process here, against 0.5 s for the client's. A request naming an older
    version gets 404. Returns whether it applies: not when the app has served a request already,
    nor when the client's version is not one the server knows (a mixed installation), which keeps
    Cadwyn's own behaviour. ``app``: another such app (the tests'); by default the one
    ``dag.test()`` uses."""
    from airflow.sdk.api.client import API_VERSION
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    if app is None:
        app = in_process_api_server().app
    if app._cadwyn_initialized or API_VERSION not in app.versions.version_values:
        return False
    app._cadwyn_initialize = lambda: _build_routes_from(app, API_VERSION)
    return True


def _build_routes_from(app, version: str) -> None:
    """Cadwyn's ``_cadwyn_initialize`` (cadwyn 7.0) over the versions from the newest to
    ``version``: the bundle's list is narrowed while the routes are built and restored after, and
    the check that every route deleted from the head comes back in an older version is left to the
    build of all versions (Airflow's own tests), since those versions are not built here."""
    from cadwyn.route_generation import _EndpointTransformer

    class Transformer(_EndpointTransformer):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            self.routes_that_never_existed = []

    bundle = app.versions
    every = bundle.versions
    bundle.versions = every[:bundle.version_values.index(version) + 1]
    try:
        built = Transformer(app._latest_version_router, bundle, app.webhooks, app.api_version_parameter_name,
                            app._api_version_location).transform()
    finally:
        bundle.versions = every
    for value, router in built.endpoints.items():
        app._add_versioned_routers(router, version=value)
    app._versioned_webhook_routers.update(built.webhooks)
    app._cadwyn_initialized = True


TRIGGER_ENV = "SINFONIA_TRIGGER_AIRFLOW"


@contextmanager
def no_asset_triggered_runs() -> Iterator[None]:
    """While the command line drives a DAG in process, its asset events are recorded (the UI of a
    local Airflow shows them) but queue no run of the DAGs they schedule: a scheduler running on
    the same metadata database (``sinfonia airflow``) would otherwise start runs of its own beside
    this one. ``SINFONIA_TRIGGER_AIRFLOW=1`` asks for those runs."""
    if os.environ.get(TRIGGER_ENV) == "1":
        yield
        return
    from airflow.assets.manager import AssetManager

    original = AssetManager.__dict__["_queue_dagruns"]
    AssetManager._queue_dagruns = classmethod(lambda cls, **kwargs: None)
    try:
        yield
    finally:
        AssetManager._queue_dagruns = original


# -- the console: a line per task; Airflow's and dbt's output in a log file ------------------------
def run_logged(log: Path | None, dag_ids: tuple[str, ...], conf: dict | None = None, say=print,
               returned: dict | None = None) -> dict[str, float]:
    """``run_dags`` for a command: its path said first, a line per task on the console, everything
    else in ``log`` (None: streamed to the console instead)."""
    prepare_environment()
    if log:
        say(f"Airflow and dbt logs: {log}")
    with output_to(log) as progress:
        return run_dags(dag_ids, conf or {}, progress=progress, returned=returned)


def new_log(command: str) -> Path:
    """A fresh log file for one command under ``<state>/logs/``."""
    folder = config.state_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}.log"


@contextmanager
def output_to(log: Path | None) -> Iterator[Callable[[str], None]]:
    """Send everything this process and its children write to stdout and stderr (Airflow's task
    logs, dbt's and Cosmos' output, warnings) to ``log``, at the file-descriptor level; yield a
    ``console.Console`` that prints one line on the real terminal (and a heartbeat line when the
    terminal has been silent too long). ``log=None`` redirects nothing."""
    if log is None:
        with console.open_console() as say:
            yield say
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    terminal = os.fdopen(os.dup(saved[0]), "w", encoding="utf-8", errors="replace")

    def write(line: str) -> None:
        terminal.write(line + "\n")
        terminal.flush()

    with open(log, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            with console.open_console(write) as say:
                yield say
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


@contextmanager
def task_lines(progress: Callable[[str], None], returned: dict | None = None) -> Iterator[None]:
    """One progress line per task as ``dag.test()`` finishes it: the task, its rows when it
    returned a count, its seconds. Wraps the SDK's in-process task runner for the duration."""
    from airflow.sdk.definitions import dag as sdk_dag

    original = getattr(sdk_dag, "_run_task", None)
    if original is None:  # another Airflow release: the DAG lines alone
        yield
        return

    def timed(*, ti, task, **kwargs):
        start = time.perf_counter()
        try:
            with console.running(progress, ti.task_id):
                return original(ti=ti, task=task, **kwargs)
        finally:
            value = _returned(ti)
            if returned is not None:
                returned[ti.task_id] = value
            state = str(getattr(ti.state, "value", ti.state))
            said = skip_reason(ti.task_id) if state == "skipped" else rows_text(value)
            progress(task_line(ti.task_id, state, said, time.perf_counter() - start))

    sdk_dag._run_task = timed
    try:
        yield
    finally:
        sdk_dag._run_task = original


def task_line(task_id: str, state: str, rows: str | None, seconds: float) -> str:
    mark = "ok" if state == "success" else state.upper()
    return f"    {mark:<7} {task_id:<34} {rows or '':>28} {seconds:6.1f} s"


def _returned(ti):
    """The task's return value (its XCom), or None."""
    try:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(XComModel.get_many(
                run_id=ti.run_id, key="return_value", task_ids=ti.task_id, dag_ids=ti.dag_id,
                map_indexes=ti.map_index, limit=1)).first()
            return XComModel.deserialize_value(row) if row is not None else None
    except Exception:  # noqa: BLE001 - a progress line never fails a run
        return None


# What notify_directorates returns: messages, not rows.
MESSAGES = {"sent": "sent", "already_sent": "already sent", "failed": "failed",
            "without_recipients": "without recipients"}


def skip_reason(task_id: str) -> str | None:
    """Why a task that skips itself did (the console's line says it; the log has the whole message)."""
    if task_id == "notify_directorates":
        from sinfonia import notify

        if not notify._connection_exists(notify.conn_id()):
            return f"no mail connection {notify.conn_id()} (AIRFLOW_CONN_{notify.conn_id().upper()})"
    return None


def rows_text(value) -> str | None:
    """Rows out of what a task returned: load results (rows loaded, quarantined), a ``rows`` count,
    or a count per table; None when it returned none of those."""
    if isinstance(value, list) and all(isinstance(v, dict) and "rows_loaded" in v for v in value):
        loaded = sum(int(v["rows_loaded"]) for v in value)
        quarantined = sum(int(v.get("rows_quarantined") or 0) for v in value)
        return f"{loaded:,} rows" + (f", {quarantined:,} quarantined" if quarantined else "")
    if isinstance(value, dict) and set(MESSAGES) <= set(value):  # the weekly messages (notify.send_weekly)
        return ", ".join(f"{value[k]:,} {label}" for k, label in MESSAGES.items() if value[k] or k == "sent")
    if isinstance(value, dict):
        if isinstance(value.get("rows"), int):
            return f"{value['rows']:,} rows"
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            return f"{sum(value.values()):,} rows in {len(value)} tables"
    return None

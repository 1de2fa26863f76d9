"""Drive the real Airflow DAGs in process (``dag.test()``), in the order their Assets chain them.

``sinfonia run``/``demo``/``build`` and the tests use this, so the code path that users schedule
is the one that runs everywhere: there is no second, DAG-free pipeline. Airflow keeps its
metadata in SQLite under the state folder; it is created on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sinfonia import config

# The DAGs of a full refresh, in Asset order (extract → transform → impact → prioritisation of the
# latest year with goals; a year already snapshotted is kept).
FULL_REFRESH = ("sinfonia_extract", "sinfonia_transform", "sinfonia_impact", "sinfonia_prioritisation")
# The weekly monitoring path: new ESAP exports → only the monitoring marts and their parents.
WEEKLY = ("sinfonia_extract", "sinfonia_monitoring")


# The one-slot pool that serialises dbt builds across DAGs (airflow_common.DBT_POOL).
POOL_ARGS = ["pools", "set", "sinfonia_dbt", "1", "one dbt build into marts_build at a time"]


class PipelineFailed(RuntimeError):
    pass


def prepare_environment(dsn: str) -> None:
    """Airflow, Cosmos and dbt settings for an in-process run against ``dsn``."""
    from sinfonia import warehouse

    for key, value in config.airflow_env().items():
        os.environ.setdefault(key, value)
    # The warehouse as the Airflow connection the tasks read (and Cosmos maps to dbt's profile).
    os.environ[f"AIRFLOW_CONN_{warehouse.CONN_ID.upper()}"] = dsn
    config.airflow_home().mkdir(parents=True, exist_ok=True)


def ensure_airflow_db() -> None:
    """Create or upgrade the SQLite metadata database (a few seconds, first time only)."""
    marker = config.airflow_home() / ".migrated"
    db_file = config.airflow_home() / "airflow.db"
    import airflow

    stamp = f"{airflow.__version__} +pools"  # a new stamp re-runs the set-up steps once
    if marker.exists() and db_file.exists() and marker.read_text() == stamp:
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


def _failures_since(offset: int) -> list[dict]:
    path = config.state_dir() / "failures" / "failures.jsonl"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        fh.seek(offset)
        return [json.loads(line) for line in fh if line.strip()]


def _failures_offset() -> int:
    path = config.state_dir() / "failures" / "failures.jsonl"
    return path.stat().st_size if path.exists() else 0


def run_dags(dag_ids: tuple[str, ...], conf: dict | None = None, progress=print) -> dict[str, float]:
    """Run each DAG to completion in order; raise ``PipelineFailed`` naming the failed task.

    The whole sequence holds the warehouse (``sinfonia.runlock``): a second run, from this
    machine or another Airflow installation, fails at once instead of publishing a mix."""
    from sinfonia import runlock, warehouse

    dsn = warehouse.dsn()
    with runlock.hold(dsn, " → ".join(dag_ids)):
        return _run_dags(dag_ids, conf, progress, dsn)


# The DAGs whose last task publishes the marts.
PUBLISHING = ("sinfonia_transform", "sinfonia_monitoring")


def _run_dags(dag_ids: tuple[str, ...], conf: dict | None, progress, dsn: str) -> dict[str, float]:
    from sinfonia import db, dbt
    from sinfonia.airflow_common import for_in_process_run

    ensure_airflow_db()
    dbt.ensure_manifest()
    dags = load_dags()
    timings: dict[str, float] = {}
    for dag_id in dag_ids:
        if dag_id not in dags:
            raise PipelineFailed(f"no DAG {dag_id!r} in {config.DAGS_DIR}")
        progress(f"→ {dag_id} …")
        offset = _failures_offset()
        start = time.perf_counter()
        for_in_process_run(dags[dag_id])  # a retry waits seconds here, not minutes
        run = dags[dag_id].test(run_conf=conf or {})
        timings[dag_id] = time.perf_counter() - start
        state = str(getattr(run, "state", "unknown"))
        if not state.endswith("success"):
            failures = _failures_since(offset)
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

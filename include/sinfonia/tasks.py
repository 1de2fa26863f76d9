"""The work behind each DAG task, importable without Airflow (and so unit-testable).

DAG files stay declarative: each task calls one function here. Heavy imports (pandas, GX, dbt)
happen inside the functions, at run time, never when a DAG file is parsed.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from sinfonia import config

log = logging.getLogger(__name__)

SOURCES_DIR_ENV = "SINFONIA_SOURCES_DIR"


def warehouse_dsn() -> str:
    from sinfonia import dbt, warehouse

    dsn = warehouse.dsn()
    dbt.export_env(dsn)  # profiles.yml reads these when Cosmos runs dbt in this process
    return dsn


def sources_dir(params: dict | None) -> Path:
    value = (params or {}).get("sources_dir") or os.environ.get(SOURCES_DIR_ENV)
    if not value:
        raise ValueError(
            f"no sources folder: pass sources_dir in the run configuration or set {SOURCES_DIR_ENV}"
        )
    path = Path(value)
    if not path.is_dir():
        raise FileNotFoundError(f"sources folder {path} does not exist")
    return path


def bootstrap() -> None:
    from sinfonia import db

    db.bootstrap(warehouse_dsn())


def extract_source(source: str, params: dict | None) -> list[dict]:
    from sinfonia.extract import discover, extract

    folder = sources_dir(params)
    paths = discover(folder, source)
    if not paths:
        log.warning("no %s files under %s: nothing loaded", source, folder)
        return []
    results = extract(source, paths, folder, warehouse_dsn())
    for r in results:
        log.info("%s", r)
    return [r.__dict__ for r in results]


def gate(prefix: str, run_id: str | None, schema_map: dict[str, str] | None = None) -> str:
    from sinfonia.gates import DATA_DOCS_INDEX, run_gate

    report = run_gate(prefix, warehouse_dsn(), run_id, schema_map)
    for w in report.warnings:
        log.warning("gate warning: %s", w.describe())
    log.info("gate %s: %s; summary in meta.gate_run (run %s); Data Docs: %s (built by make docs)",
             prefix, report.summary(), run_id, DATA_DOCS_INDEX)
    return report.summary()


def publish(run_id: str | None) -> dict[str, int]:
    from sinfonia.publish import publish as do_publish

    counts = do_publish(warehouse_dsn(), run_id)
    log.info("published %s", counts)
    return counts


def record_failure(context) -> None:
    """on_failure_callback: keep the failed task and its error where ``sinfonia`` can report it."""
    ti = context.get("ti") or context.get("task_instance")
    folder = config.state_dir() / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id"),
        "error": str(context.get("exception")),
    }
    with open(folder / "failures.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")

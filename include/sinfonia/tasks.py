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


def warehouse_dsn() -> str:
    """The one address (``warehouse.address``), read when a task runs: DAG files import this
    module, and the warehouse module is not needed to parse them."""
    from sinfonia.warehouse import dsn

    return dsn()

SOURCES_DIR_ENV = "SINFONIA_SOURCES_DIR"


def take_warehouse(dag=None, run_id=None) -> str:
    """The first task of every DAG run: hold the warehouse for the run (``sinfonia.runlock``)."""
    from sinfonia import runlock

    key = runlock.take(warehouse_dsn(), dag.dag_id, run_id)
    log.info("the warehouse is held by %s", key)
    return key


def release_warehouse(dag=None, run_id=None) -> bool:
    """The teardown of every DAG run: give the warehouse back, whatever the other tasks did."""
    from sinfonia import runlock

    released = runlock.release(warehouse_dsn(), dag.dag_id, run_id)
    log.info("warehouse released" if released else "the warehouse was not held by this run: nothing to release")
    return released


def guard_warehouse(context) -> None:
    """``pre_execute`` of every task: its run must still hold the warehouse (``sinfonia.runlock``)."""
    from sinfonia import runlock

    ti = context["ti"]
    runlock.guard(warehouse_dsn(), ti.dag_id, context["run_id"], ti.task_id)


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
    from sinfonia.bootstrap import bootstrap as bootstrap_warehouse

    bootstrap_warehouse(warehouse_dsn())


def land_sources(params: dict | None = None) -> dict[str, list[dict]]:
    """Land every file of every source of the catalogue found in the sources folder, or only the
    files the run configuration lists (``files``: ``{source: [paths]}``, with their ``origins`` and
    ``period``: ``sinfonia extract``), intake rules first, source by source; returns, per source,
    the landed files' records for the tasks that parse them, which may run on another worker and
    read them from the landing zone's store."""
    from sinfonia.ingest import sources
    from sinfonia.ingest.extract import discover, land_files

    params = params or {}
    if params.get("files"):
        folder = Path(params["sources_dir"]) if params.get("sources_dir") else None
        unknown = sorted(set(params["files"]) - set(sources.SOURCES))
        if unknown:
            raise ValueError(f"files: unknown source {', '.join(unknown)}; known: {', '.join(sources.SOURCES)}")
        chosen = {name: [Path(p) for p in paths] for name, paths in params["files"].items()}
    else:
        folder = sources_dir(params)
        chosen = {spec.name: discover(folder, spec.name) for spec in sources.CATALOGUE}
    origins = {Path(k): v for k, v in (params.get("origins") or {}).items()}
    dsn = warehouse_dsn()
    landed: dict[str, list[dict]] = {}
    for spec in sources.CATALOGUE:
        paths = chosen.get(spec.name)
        if paths:
            files = land_files(spec.name, paths, folder, dsn, origins, params.get("period"))
            landed[spec.name] = [f.record() for f in files]
            log.info("landed %d %s file(s) on %s", len(paths), spec.name, config.store().url)
    return landed


def extract_source(source: str, landed: dict[str, list[dict]] | None = None, params: dict | None = None) -> list[dict]:
    """Parse and load the files the ``land`` task landed for ``source`` (``land_sources``), with the
    run configuration's ``period`` and ``force`` (reload files already loaded)."""
    from sinfonia.ingest.extract import load_landed
    from sinfonia.ingest.landing import LandedFile

    records = (landed or {}).get(source) or []
    if not records:
        log.warning("no %s files were landed: nothing loaded", source)
        return []
    params = params or {}
    results = load_landed(source, [LandedFile.from_record(r) for r in records], warehouse_dsn(),
                          period=params.get("period"), force=bool(params.get("force")))
    for r in results:
        log.info("%s", r)
    # JSON-native values only: XCom stores a tuple as a tagged object, which readers of the returned
    # records (the command line's extract summary) would take for the notices themselves.
    return [{**r.__dict__, "notices": list(r.notices)} for r in results]


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


def impact() -> dict[str, int]:
    """Estimate from the published panel into ``intermediate.impact_estimates`` (the source of
    the dbt model ``mart_impact_estimates``, built, gated and published after this task)."""
    from sinfonia.impact.store import run

    result = run(warehouse_dsn())
    log.info("impact estimates computed: %s", result)
    return result


def prioritisation_parameters(params: dict | None, logical_date=None, run_type=None) -> dict:
    """Year, as-of date and force for one prioritisation run.

    The year is the run configuration's ``year``; else, for scheduled runs and backfills, the
    logical date's year in Bogotá; else (a manual run without a year, as in a full refresh) the
    latest year with goals in the warehouse.
    """
    import pendulum

    from sinfonia import prioritisation

    params = params or {}
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    year = params.get("year")
    if year is None and logical_date is not None and kind in ("scheduled", "backfill"):
        year = pendulum.instance(logical_date).in_timezone("America/Bogota").year
    if year is None:
        year = prioritisation.latest_data_year(warehouse_dsn())
    if year is None:
        year = (pendulum.instance(logical_date) if logical_date else pendulum.now()).in_timezone("America/Bogota").year
    as_of = params.get("as_of_date") or None
    if as_of:
        from datetime import date

        try:
            date.fromisoformat(str(as_of))
        except ValueError as exc:
            raise ValueError(f"as_of_date {as_of!r} is not a date (expected YYYY-MM-DD)") from exc
    return {"year": int(year), "as_of_date": str(as_of) if as_of else None, "force": bool(params.get("force"))}


def prioritisation_plan(params: dict | None, logical_date=None, run_type=None) -> dict:
    """The run's parameters, what the snapshot holds for the year before dbt runs, and the dbt
    vars of the build (a JSON object)."""
    from dataclasses import asdict

    from sinfonia import prioritisation

    resolved = prioritisation_parameters(params, logical_date, run_type)
    plan = prioritisation.plan(warehouse_dsn(), resolved["year"], resolved["as_of_date"], resolved["force"])
    log.info("prioritisation %s: %s", plan.year, "write" if plan.status == "written" else "keep the snapshot")
    return {**asdict(plan), "dbt_vars": json.dumps(plan.dbt_vars())}


def prioritisation_certainty(plan: dict) -> dict:
    """The certainty of the year's computed list (``sinfonia.certainty``), written beside the
    snapshot when the run writes the year; a kept year keeps its certainty."""
    from sinfonia import certainty, prioritisation

    fields = {k: plan[k] for k in ("year", "as_of_date", "force", "existing_rows")}
    written = prioritisation.Plan(**fields).status == "written"
    result = certainty.run(warehouse_dsn(), plan["year"], write=written)
    log.info("certainty of the %s list: %s", plan["year"], result)
    return result


def record_prioritisation(plan: dict, run_id: str | None) -> dict:
    """Record the run in ``meta.prioritisation_run`` (after dbt wrote or kept the year)."""
    from sinfonia import prioritisation

    fields = {k: plan[k] for k in ("year", "as_of_date", "force", "existing_rows")}
    result = prioritisation.record(warehouse_dsn(), prioritisation.Plan(**fields), run_id)
    log.info("%s", result)
    return {**result.__dict__, "as_of_date": str(result.as_of_date)}


def record_failure(context) -> None:
    """on_failure_callback: keep the failed task and its error where ``sinfonia`` can report it:
    one record per failure under ``<store>/failures/<dag_id>/<run_id>/`` (``failures``)."""
    import uuid

    ti = context.get("ti") or context.get("task_instance")
    record = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id"),
        "error": str(context.get("exception")),
    }
    folder = _failures_folder(record["dag_id"], record["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{record['task_id']}.{uuid.uuid4().hex[:12]}.json").write_text(json.dumps(record), encoding="utf-8")


def failures(dag_id: str, run_id: str) -> list[dict]:
    """The failure records of one DAG run (``record_failure``), in no particular order."""
    folder = _failures_folder(dag_id, run_id)
    if not folder.exists():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".json")]


def _failures_folder(dag_id: str | None, run_id: str | None):
    from urllib.parse import quote

    # run ids hold ':' and '+' (manual__2025-01-01T00:00:00+00:00): quoted into one safe segment
    return config.store_root() / "failures" / quote(str(dag_id), safe="") / quote(str(run_id), safe="")

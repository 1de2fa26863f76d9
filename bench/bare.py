"""The bare work of a refresh, with no Airflow: the baseline of ``orchestration_overhead_*``.

The same steps the DAGs run, in the same order, through the same functions: every source of the
catalogue through its parser and the COPY loader (``sinfonia.tasks.extract_source``), the raw
gate (the same GX suites), ``dbt build`` from dbt's own command line, the marts gate, publish, the
impact estimator and its build, gate and publish, and the prioritisation's plan, build, gate,
publish and record. What it leaves out is only what orchestration adds: Airflow's import, the DAG
runs, task starts, the execution API, Cosmos. ``make bench`` runs it in a fresh interpreter, as
``sinfonia run`` runs the DAGs, and divides the DAG-driven wall time by this one.

    python bench/bare.py full|weekly SOURCES_DIR      (WAREHOUSE_DSN names the database)

Prints one JSON object: seconds per step and in total.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

START = time.perf_counter()


def dbt_cli(args: list[str], dsn: str) -> None:
    """``dbt`` from its own command line (a subprocess, as a user would run it)."""
    from sinfonia import config, dbt

    exe = Path(sys.executable).with_name("dbt")
    if args[0] == "build":  # what the DAGs' builds leave out (the unit tests: CI's)
        args = [*args, *dbt.PRODUCTION_FLAGS]
    proc = subprocess.run([str(exe), *args, "--project-dir", str(config.DBT_DIR),
                           "--profiles-dir", str(config.DBT_DIR), "--quiet"],
                          env={**os.environ, **dbt.env_for(dsn)}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")


def build_gate_publish(dsn: str, run_id: str, steps: dict, label: str, flags: list[str]) -> None:
    from sinfonia import tasks

    timed(steps, f"{label}.dbt_build", lambda: dbt_cli(["build", *flags], dsn))
    timed(steps, f"{label}.gate_marts", lambda: tasks.gate("marts_", run_id, schema_map={"marts": "marts_build"}))
    timed(steps, f"{label}.publish", lambda: tasks.publish(run_id))


def timed(steps: dict, name: str, work):
    start = time.perf_counter()
    result = work()
    steps[name] = round(time.perf_counter() - start, 3)
    return result


def extract_all(sources: Path, run_id: str, steps: dict, names) -> None:
    from sinfonia import tasks

    timed(steps, "extract.bootstrap", tasks.bootstrap)
    landed = timed(steps, "extract.land", lambda: tasks.land_sources({"sources_dir": str(sources)}))
    for name in names:
        timed(steps, f"extract.{name}", lambda n=name: tasks.extract_source(n, landed))
    timed(steps, "extract.gate_raw", lambda: tasks.gate("raw_", run_id))


def full(sources: Path, dsn: str, steps: dict) -> None:
    from sinfonia import dbt, tasks
    from sinfonia.ingest.sources import CATALOGUE

    run_id = f"bare-full-{int(time.time())}"
    extract_all(sources, run_id, steps, [s.name for s in CATALOGUE])
    build_gate_publish(dsn, run_id, steps, "transform", [])
    timed(steps, "impact.estimate", tasks.impact)
    build_gate_publish(dsn, run_id, steps, "impact", dbt.selection("impact_estimates", dsn))
    plan = timed(steps, "prioritisation.plan", lambda: tasks.prioritisation_plan({}))
    timed(steps, "prioritisation.dbt_build_candidate", lambda: dbt_cli(
        ["build", *dbt.selection("prioritisation_candidate", dsn), "--vars", plan["dbt_vars"]], dsn))
    timed(steps, "prioritisation.certainty", lambda: tasks.prioritisation_certainty(plan))
    build_gate_publish(dsn, run_id, steps, "prioritisation",
                       [*dbt.selection("prioritisation_publish", dsn), "--vars", plan["dbt_vars"]])
    timed(steps, "prioritisation.record", lambda: tasks.record_prioritisation(plan, run_id))


def weekly(sources: Path, dsn: str, steps: dict) -> None:
    """The weekly path: the extract DAG (every source; files already loaded are skipped) and the
    monitoring DAG's build of the selector weekly_monitoring, gate and publish."""
    from sinfonia import dbt
    from sinfonia.ingest.sources import CATALOGUE

    run_id = f"bare-weekly-{int(time.time())}"
    extract_all(sources, run_id, steps, [s.name for s in CATALOGUE])
    build_gate_publish(dsn, run_id, steps, "monitoring", dbt.selection("weekly_monitoring", dsn))


def main() -> int:
    path, sources = sys.argv[1], Path(sys.argv[2])
    dsn = os.environ["WAREHOUSE_DSN"]
    # The tasks' functions find the warehouse in WAREHOUSE_DSN, as everywhere (warehouse.address).
    steps: dict[str, float] = {}
    {"full": full, "weekly": weekly}[path](sources, dsn, steps)
    print(json.dumps({"total_s": round(time.perf_counter() - START, 3), "steps": steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

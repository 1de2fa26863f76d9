"""The bare work of a refresh, with no Airflow: the baseline of ``orchestration_overhead_*``.

The same steps the DAGs run, in the same order, through the same functions: every source of the
catalogue through its parser and the COPY loader (``sinfonia.tasks.extract_source``), the raw
gate (the same GX suites), ``dbt build`` from dbt's own command line, the marts gate, publish, the
impact estimator and its build, gate and publish, and the prioritisation's plan, build, gate,
publish and record. What it leaves out is only what orchestration adds: Airflow's import, the DAG
runs, task starts, the execution API, Cosmos; its dbt command line also writes dbt's JSON artefacts,
which its parts are read from (about 0.1-0.5 s a build; the DAGs' builds write none). ``make
bench`` runs it in a fresh interpreter, as ``sinfonia run`` runs the DAGs, and divides the
DAG-driven wall time by this one.

    python bench/bare.py full|weekly SOURCES_DIR      (WAREHOUSE_DSN names the database)

Prints one JSON object: seconds per step and in total, and each step's own parts (``parts``): for a
dbt build, dbt's start and parse (the process's wall time less dbt's own elapsed time), its nodes'
elapsed time and the SQL of its models and of its tests (the sums of dbt's ``run_results.json``);
for a gate, its suites (the sum of ``meta.gate_run.seconds``: each suite's fingerprint, and its
validation when it must be validated, Great Expectations' import and context included the first
time) and the rest (recording the results).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

START = time.perf_counter()


PARTS: dict[str, float] = {}


def dbt_cli(args: list[str], dsn: str, label: str, parameters: str | None = None) -> None:
    """``dbt`` from its own command line (a subprocess, as a user would run it), with a
    prioritisation run's ``parameters`` in its environment as the DAGs give them; its parts go to
    ``PARTS`` under ``label``."""
    from sinfonia import config, dbt

    exe = Path(sys.executable).with_name("dbt")
    if args[0] == "build":  # what the DAGs' builds leave out (the unit tests: CI's)
        args = [*args, *dbt.PRODUCTION_FLAGS]
    target = config.state_dir() / "bare-dbt-target"  # never the project's own target/
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args, "--project-dir", str(config.DBT_DIR),
                           "--profiles-dir", str(config.DBT_DIR), "--target-path", str(target), "--quiet"],
                          env={**os.environ, **dbt.env_for(dsn), **dbt.parameters_env(parameters)},
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    kinds: dict[str, float] = {}
    for r in results["results"]:
        kind = r["unique_id"].split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0.0) + r["execution_time"]
        for step in r.get("timing", ()):  # dbt's own split of each node: Jinja compile, then execute
            took = datetime.fromisoformat(step["completed_at"]) - datetime.fromisoformat(step["started_at"])
            kinds[f"{kind}.{step['name']}"] = kinds.get(f"{kind}.{step['name']}", 0.0) + took.total_seconds()
    PARTS[f"{label}.start_and_parse"] = round(wall - results["elapsed_time"], 3)
    PARTS[f"{label}.nodes_elapsed"] = round(results["elapsed_time"], 3)
    PARTS[f"{label}.models_sql_sum"] = round(kinds.get("model", 0.0) + kinds.get("seed", 0.0), 3)
    PARTS[f"{label}.tests_sum"] = round(kinds.get("test", 0.0), 3)
    # A test's SQL reads a table of at most a few thousand rows: its execute time is mostly dbt's
    # per-node work (a transaction, the query, events), its compile time Jinja's.
    PARTS[f"{label}.tests_compile_sum"] = round(kinds.get("test.compile", 0.0), 3)
    PARTS[f"{label}.tests_execute_sum"] = round(kinds.get("test.execute", 0.0), 3)
    PARTS[f"{label}.nodes"] = len(results["results"])


def gate(prefix: str, run_id: str, label: str, **kwargs) -> None:
    """``tasks.gate``, its suites' own validation time (``meta.gate_run``) put apart in ``PARTS``."""
    from sinfonia import db, tasks

    def validated() -> float:
        with db.connect(autocommit=True) as conn:
            return float(conn.execute("select coalesce(sum(seconds), 0) from meta.gate_run where run_id = %s",
                                      (run_id,)).fetchone()[0])

    before, start = validated(), time.perf_counter()
    tasks.gate(prefix, run_id, **kwargs)
    wall, suites = time.perf_counter() - start, validated() - before
    PARTS[f"{label}.suites"] = round(suites, 3)
    PARTS[f"{label}.rest"] = round(wall - suites, 3)


def build_gate_publish(dsn: str, run_id: str, steps: dict, label: str, flags: list[str],
                       parameters: str | None = None) -> None:
    from sinfonia import tasks

    timed(steps, f"{label}.dbt_build", lambda: dbt_cli(["build", *flags], dsn, f"{label}.dbt_build", parameters))
    timed(steps, f"{label}.gate_marts",
          lambda: gate("marts_", run_id, f"{label}.gate_marts", schema_map={"marts": "marts_build"}))
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
    timed(steps, "extract.gate_raw", lambda: gate("raw_", run_id, "extract.gate_raw"))


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
        ["build", *dbt.selection("prioritisation_candidate", dsn)], dsn,
        "prioritisation.dbt_build_candidate", plan["dbt_vars"]))
    timed(steps, "prioritisation.certainty", lambda: tasks.prioritisation_certainty(plan))
    build_gate_publish(dsn, run_id, steps, "prioritisation",
                       dbt.selection("prioritisation_publish", dsn), plan["dbt_vars"])
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
    print(json.dumps({"total_s": round(time.perf_counter() - START, 3), "steps": steps, "parts": PARTS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench``: how fast the refresh is, where the time goes, and how cost grows.

Prints a table and writes ``bench/results.json`` (a list of ``{"name", "value", "unit"}``, with
the names of DESIGN.md §8). Every ratio compares measurements taken in this same run, on this
machine; absolute times are indicative only (shared 2-core machines are noisy).

Runs on its own embedded warehouse and Airflow home under ``.sinfonia/bench`` (or on
``WAREHOUSE_DSN`` when set), one fresh database per measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import loader  # noqa: E402

SINFONIA = Path(sys.executable).with_name("sinfonia")
STATE = REPO / ".sinfonia" / "bench"


def _env(dsn: str) -> dict[str, str]:
    from sinfonia.ingest.pii import DEMO_KEY

    # The sample's equipos export is synthetic: the documented local-only key pseudonymises it.
    return {"SINFONIA_PII_KEY": DEMO_KEY, **os.environ, "WAREHOUSE_DSN": dsn}


def fresh_database(server_dsn: str) -> str:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    info = conninfo_to_dict(server_dsn)
    auth = info.get("user", "") + (f":{info['password']}" if info.get("password") else "")
    return f"postgresql://{auth}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{name}"


def drop_database(server_dsn: str, dsn: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{conninfo_to_dict(dsn)["dbname"]}" with (force)')


LAST_OUTPUT = {"stdout": ""}  # what the last ``sinfonia`` printed (its DAG lines: ``dag_walls``)


def sinfonia(*args: str, dsn: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(SINFONIA), *args], env=_env(dsn), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sinfonia {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    LAST_OUTPUT["stdout"] = proc.stdout
    return elapsed


def dag_walls(stdout: str) -> dict[str, float]:
    """Seconds per DAG of a ``sinfonia run``, from its lines ``  <dag> succeeded in N s``."""
    import re

    return {m[1]: float(m[2]) for m in re.finditer(r"^\s+(sinfonia_\w+) succeeded in ([\d.]+) s$", stdout, re.M)}


def orchestration_parts(path: str, wall: float, tasks_s: dict[str, float], walls: dict[str, float]) -> dict:
    """Where a DAG-driven run's time goes beyond its tasks: ``sinfonia run`` starting (the process,
    Airflow's import, its metadata database, the DAG files) and, per DAG, Airflow between its tasks
    (``dag.test()`` creating the run, scheduling and starting each task, recording its state)."""
    parts = {f"{path}.run_start_and_summary": wall - sum(walls.values())}
    for dag_id, dag_wall in walls.items():
        in_tasks = sum(v for k, v in tasks_s.items() if k.startswith(f"{dag_id}."))
        parts[f"{path}.{dag_id}.tasks"] = in_tasks
        parts[f"{path}.{dag_id}.airflow_between_tasks"] = dag_wall - in_tasks
    return parts


# Fresh-interpreter imports a process of the pipeline pays (best of 3 each): a name, what runs before
# the timed import (not timed), the module.
IMPORTS = (("airflow.sdk", "", "airflow.sdk"), ("great_expectations", "", "great_expectations"),
           # as the gates import it: scipy.stats and altair left until used (gates.DEFERRED_IMPORTS)
           ("great_expectations_in_gates", "from sinfonia import gates; gates._defer_imports()", "great_expectations"),
           ("dbt.cli.main", "", "dbt.cli.main"), ("pandas", "", "pandas"), ("sinfonia.tasks", "", "sinfonia.tasks"),
           ("cosmos", "", "cosmos"))


def import_times() -> dict[str, float]:
    code = ("import sys, time; exec(sys.argv[1]); t = time.perf_counter(); __import__(sys.argv[2]); "
            "print(time.perf_counter() - t)")
    return {name: min(float(subprocess.run([sys.executable, "-c", code, setup, module], capture_output=True, text=True,
                                           check=True).stdout) for _ in range(3)) for name, setup, module in IMPORTS}


def bare(path: str, sources: Path, dsn: str) -> dict:
    """``bench/bare.py``: the same work as the DAGs with no Airflow, in a fresh interpreter."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / "bare.py"), path, str(sources)], env=_env(dsn),
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench/bare.py {path} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"bare {path}: {wall:.1f} s", flush=True)
    return {**result, "wall_s": wall}


def task_breakdown(since: float) -> dict[str, float]:
    """Seconds per task (grouped: the dbt task group as one line) of runs started after ``since``."""
    db = STATE / "airflow" / "airflow.db"
    out: dict[str, float] = {}
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select dag_id, task_id, start_date, end_date from task_instance "
            "where start_date is not null and end_date is not null"
        ).fetchall()
    from datetime import datetime

    for dag_id, task_id, start, end in rows:
        s, e = datetime.fromisoformat(str(start)), datetime.fromisoformat(str(end))
        if s.timestamp() < since:
            continue
        key = f"{dag_id}.{task_id.split('.')[0]}" if task_id.startswith("dbt.") else f"{dag_id}.{task_id}"
        out[key] = out.get(key, 0.0) + (e - s).total_seconds()
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# The least an Airflow 3 DAG file can be: one TaskFlow DAG with one task. Parsed like the project's
# files, it is the floor that Airflow's own import sets under every DAG file on this machine.
MINIMAL_DAG = """
from airflow.sdk import dag, task


@dag(schedule=None)
def minimal():
    @task
    def noop():
        pass

    noop()


minimal()
"""


def certainty_time(n: int = 700) -> float:
    import numpy as np
    import pandas as pd

    from sinfonia import certainty

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"municipality_id": [f"{10000 + k:05d}" for k in range(n)],
                          "directorate_id": [f"D{k % 16:02d}" for k in range(n)]})
    for i in certainty.INDICATORS:
        frame[f"{i}_need"] = rng.uniform(0, 100, n)
        frame[f"{i}_need_previous"] = frame[f"{i}_need"] + rng.normal(0, 10, n)
    start = time.perf_counter()
    certainty.simulate(frame, {i: 1.0 for i in certainty.INDICATORS}, {f"D{d:02d}": 25 for d in range(16)})
    return time.perf_counter() - start


def cpu_reference() -> float:
    """Seconds for a fixed single-core workload in a fresh interpreter, best of 3: recorded so that
    absolute times of runs on different machines can be put side by side (the same full refresh
    took 31 s on one of these shared 2-core machines and 94 s on another)."""
    code = "import time; t = time.perf_counter(); sum(range(10_000_000)); print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(3))


def dag_parse_times() -> dict[str, dict[str, float]]:
    """Seconds per DAG file, best of 3 fresh interpreters each: ``python dags/x.py`` whole (what the
    issue asks), and the file alone with Airflow already imported (what a DAG processor, which
    has Airflow loaded, spends on it); for reference, the bare ``import airflow.sdk`` and a
    minimal one-task DAG file (``MINIMAL_DAG``) measured the same way."""
    from sinfonia import config

    # As the project parses them (and nothing is written under ~/airflow).
    env = {**os.environ, **config.airflow_env()}
    alone = ("import sys, time, runpy; import airflow.sdk; t = time.perf_counter(); "
             "runpy.run_path(sys.argv[1], run_name='__main__'); print(time.perf_counter() - t)")

    def best(args: list[str], own_clock: bool = False) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=True)
            times.append(float(proc.stdout.strip().splitlines()[-1]) if own_clock else time.perf_counter() - start)
        return min(times)

    out = {"import airflow.sdk": {"fresh": best(["-c", "import airflow.sdk"])}}
    minimal = STATE / "minimal_dag.py"
    minimal.write_text(MINIMAL_DAG, encoding="utf-8")
    files = [("minimal one-task DAG", minimal), *((p.name, p) for p in sorted((REPO / "dags").glob("*.py")))]
    for name, path in files:
        out[name] = {"fresh": best([str(path)]), "airflow_loaded": best(["-c", alone, str(path)], True)}
    return out


def print_record(name: str, value: float, unit: str) -> dict:
    print(f"  {name:<34} {value:>12.3f} {unit}", flush=True)
    return {"name": name, "value": round(value, 4), "unit": unit}


def parse_records(record) -> list[dict]:
    """The DAG parse figures (``dag_parse_times``), each made by ``record(name, value, unit)``."""
    print("DAG files (best of 3 fresh interpreters; whole file / with Airflow already imported):", flush=True)
    parse = dag_parse_times()
    for name, seconds in parse.items():
        loaded = f"{seconds['airflow_loaded']:.3f} s" if "airflow_loaded" in seconds else ""
        print(f"    {name:<32} {seconds['fresh']:.2f} s   {loaded}")
    dag_files = {k: v for k, v in parse.items() if k.endswith(".py")}
    parse_max = max(v["fresh"] for v in dag_files.values())
    floor = parse["minimal one-task DAG"]["fresh"]
    return [
        record("dag_parse_max_s", parse_max, "s (python dags/x.py, fresh interpreter)"),
        record("airflow_import_s", parse["import airflow.sdk"]["fresh"], "s (python -c 'import airflow.sdk')"),
        record("dag_parse_floor_s", floor, "s (a minimal one-task TaskFlow DAG file, fresh interpreter)"),
        record("dag_parse_max_over_floor", parse_max / floor, "x (slowest DAG file over the minimal DAG file)"),
        record("dag_parse_max_airflow_loaded_s", max(v["airflow_loaded"] for v in dag_files.values()),
               "s (the DAG file alone, Airflow already imported)"),
        record("dag_parse_floor_airflow_loaded_s", parse["minimal one-task DAG"]["airflow_loaded"],
               "s (the minimal one-task DAG file alone, Airflow already imported)"),
    ]


def install_time() -> float:
    """Seconds of a fresh clone's dependency install (scripts/install.py, what ``make install``
    runs): into a throwaway virtualenv, with empty pip and uv caches, so every package is
    downloaded as on a new machine. The virtualenv's creation is not counted."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sinfonia-install-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
        env = {**os.environ, "UV_CACHE_DIR": str(Path(tmp) / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}
        start = time.perf_counter()
        proc = subprocess.run([str(venv / "bin" / "python"), str(REPO / "scripts" / "install.py"), "--no-project"],
                              env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the install failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def _base_python() -> str:
    """The interpreter the project's virtualenv was made from (``python3 -m venv`` needs one)."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small loader, scales 1x and 10x only")
    parser.add_argument("--only", choices=["impact", "certainty", "refresh", "parse"],
                        help="run one benchmark alone and merge its figures into results.json")
    parser.add_argument("--install", action="store_true",
                        help="also time a fresh clone's dependency install into a throwaway virtualenv "
                        "(downloads every package: slow)")
    args = parser.parse_args()
    if args.only == "impact":
        import impact_calibration

        return impact_calibration.main([])
    if args.only == "certainty":
        from impact_calibration import merge_results

        seconds = certainty_time()
        print(f"prioritisation_certainty_s {seconds:.3f} s")
        merge_results([{"name": "prioritisation_certainty_s", "value": round(seconds, 4),
                        "unit": "s (1,000 draws, 700 eligible municipalities)"}])
        return 0
    if args.only == "parse":
        from impact_calibration import merge_results

        STATE.mkdir(parents=True, exist_ok=True)
        merge_results(parse_records(print_record))
        return 0
    from sinfonia.warehouse import Embedded

    STATE.mkdir(parents=True, exist_ok=True)
    os.environ["SINFONIA_STATE_DIR"] = str(STATE)  # every run, Airflow home and landing zone of the bench
    if os.environ.get("WAREHOUSE_DSN"):
        return measure(os.environ["WAREHOUSE_DSN"], args.quick, args.install, args.only == "refresh")
    server = Embedded(STATE / "warehouse")
    server.start()
    try:
        return measure(server.url("postgres"), args.quick, args.install, args.only == "refresh")
    finally:
        server.stop()  # the bench's own warehouse: nothing is left running


def measure(server_dsn: str, quick: bool, install: bool = False, refresh_only: bool = False) -> int:
    """Every benchmark, or (``refresh_only``) the 1x full refresh, the weekly path and their bare
    baselines alone, merged into results.json."""
    results: list[dict] = []
    notes: list[str] = []

    def record(name: str, value: float, unit: str) -> None:
        results.append(print_record(name, value, unit))

    if not refresh_only:
        # 0. This machine's speed, to compare absolute times across machines (ratios need no such help)
        record("cpu_reference_s", cpu_reference(), "s (best of 3: sum(range(10_000_000)), one core)")
        if install:  # a fresh clone's dependency install, every package downloaded (make bench BENCH_ARGS=--install)
            record("install_s", install_time(), "s (requirements.lock into a fresh virtualenv, cold caches)")
        # The prioritisation's Monte Carlo (sinfonia.certainty) at national size: 700 eligible
        # municipalities in 16 directorates, the DAG's default 1,000 draws.
        record("prioritisation_certainty_s", certainty_time(), "s (1,000 draws, 700 eligible municipalities)")

        # 1. Loader ------------------------------------------------------------------------------
        print("loader (same rows, same server, this run):", flush=True)
        from sinfonia.bootstrap import bootstrap

        dsn = fresh_database(server_dsn)
        bootstrap(dsn)
        lr = loader.run(dsn, n=20_000 if quick else 200_000)
        drop_database(server_dsn, dsn)
        record("loader_rows_per_s", lr["loader_rows_per_s"], "rows/s")
        record("to_sql_rows_per_s", lr["to_sql_rows_per_s"], "rows/s")
        record("bare_copy_rows_per_s", lr["bare_copy_rows_per_s"], "rows/s")
        record("loader_vs_to_sql", lr["loader_vs_to_sql"], "x (loader rows/s over to_sql rows/s)")
        record("loader_vs_copy", lr["loader_vs_copy"], "x (loader time over bare COPY time)")

        # 2. DAG parse ---------------------------------------------------------------------------
        results.extend(parse_records(print_record))

    # 3. Full refresh at 1x, 10x (and 100x) assistances ---------------------------------------------
    # Airflow's metadata database is created once per Airflow home, before any timed run: a fresh
    # clone would otherwise charge `airflow db migrate` to the first (1x) refresh alone.
    started = time.perf_counter()
    migrate = ("import sys; from sinfonia import pipeline; "
               "pipeline.prepare_environment(); pipeline.ensure_airflow_db()")
    subprocess.run([sys.executable, "-c", migrate], check=True, capture_output=True,
                   env=_env(server_dsn))
    print(f"Airflow metadata database ready (once, not timed): {time.perf_counter() - started:.1f} s", flush=True)
    scales = (1,) if refresh_only else (1, 10) if quick else (1, 10, 100)
    walls: dict[int, float] = {}
    for scale in scales:
        sources = STATE / f"sources-x{scale}"
        if not (sources / "MANIFEST.csv").exists():
            shutil.rmtree(sources, ignore_errors=True)
            subprocess.run([str(SINFONIA), "sample", "--out", str(sources), "--scale", str(scale)],
                           check=True, capture_output=True, env=_env(server_dsn))
        dsn = fresh_database(server_dsn)
        started = time.time()
        walls[scale] = sinfonia("run", "--sources", str(sources), dsn=dsn)
        print(f"full refresh at {scale}x assistances: {walls[scale]:.1f} s", flush=True)
        full_tasks = task_breakdown(started)
        for step, seconds in list(full_tasks.items())[:12 if scale == 1 else 5]:
            print(f"    {step:<48} {seconds:6.1f} s")
        if scale == 1:
            record("full_refresh_s", walls[1], "s")
            parts = {**{f"full.{k}": v for k, v in full_tasks.items()},
                     **orchestration_parts("full", walls[1], full_tasks, dag_walls(LAST_OUTPUT["stdout"]))}
            # 4. Incremental: one new ESAP export, then the weekly path (extract → monitoring) -----
            new = _add_export(sources, STATE / "sources-x1-plus")
            started = time.time()
            incremental = sinfonia("run", "--weekly", "--sources", str(new), dsn=dsn)
            record("incremental_s", incremental, "s")
            weekly_tasks = task_breakdown(started)
            for step, seconds in list(weekly_tasks.items())[:6]:
                print(f"    {step:<48} {seconds:6.1f} s")
            parts.update({f"weekly.{k}": v for k, v in weekly_tasks.items()})
            parts.update(orchestration_parts("weekly", incremental, weekly_tasks, dag_walls(LAST_OUTPUT["stdout"])))
            # 4b. What a user waits for on a built warehouse: a year already written, and the sheets
            record("kept_year_s", kept_year(dsn), "s (sinfonia prioritise --year Y of a year already written: kept)")
            one, per_sheet, sheets = ficha_times(dsn)
            record("ficha_one_s", one, "s (sinfonia ficha --municipality CODE: one sheet with its PDF, whole command)")
            record("ficha_per_sheet_s", per_sheet,
                   f"s (sinfonia ficha --directorate D with PDFs, whole command over its {sheets} sheets)")
            # 5. The same work with no Airflow (bench/bare.py), on its own database ---------------
            bare_dsn = fresh_database(server_dsn)
            bare_full = bare("full", sources, bare_dsn)
            bare_weekly = bare("weekly", new, bare_dsn)
            drop_database(server_dsn, bare_dsn)
            record("bare_full_refresh_s", bare_full["wall_s"], "s (the same steps with no Airflow)")
            record("bare_weekly_s", bare_weekly["wall_s"], "s (the same steps with no Airflow)")
            record("orchestration_overhead_full", walls[1] / bare_full["wall_s"],
                   "x (DAG-driven full refresh over the bare work, this run)")
            record("orchestration_overhead_weekly", incremental / bare_weekly["wall_s"],
                   "x (DAG-driven weekly path over the bare work, this run)")
            for step, seconds in sorted(bare_full["steps"].items(), key=lambda kv: -kv[1])[:8]:
                print(f"    bare {step:<43} {seconds:6.1f} s")
            parts.update({f"bare_full.{k}": v for k, v in {**bare_full["steps"], **bare_full["parts"]}.items()})
            parts.update({f"bare_weekly.{k}": v for k, v in {**bare_weekly["steps"], **bare_weekly["parts"]}.items()})
            parts.update({f"import.{k}": v for k, v in import_times().items()})
            results.append({"name": "breakdown", "value": {k: round(v, 3) for k, v in parts.items()},
                            "unit": "s per part (full.* and weekly.*: seconds per task of the DAG-driven runs, "
                                    "dbt's task group as one; *.run_start_and_summary: sinfonia run's own start and "
                                    "summary; *.airflow_between_tasks: a DAG's wall time less its tasks'; bare_*: "
                                    "bench/bare.py's steps and their parts (dbt start and parse, nodes' elapsed "
                                    "time, models' and tests' SQL summed over threads, node count; a gate's "
                                    "suites and the rest); import.*: a fresh interpreter's import)"})
            print_parts(parts)
        drop_database(server_dsn, dsn)
    if refresh_only:
        from impact_calibration import merge_results

        merge_results(results)
        print(f"\nmerged into {HERE / 'results.json'}")
        return 0
    if 100 in walls:
        exponent = math.log(walls[100] / walls[10]) / math.log(10)
        record("scale_exponent", exponent, "(log t100/t10 over log 10)")
    else:
        exponent = math.log(walls[10] / walls[1]) / math.log(10)
        record("scale_exponent", exponent, "(quick: log t10/t1 over log 10)")
        notes.append("quick run: the exponent is from 1x to 10x")
    for scale, wall in walls.items():
        record(f"full_refresh_x{scale}_s", wall, "s")

    # 5. Impact verdicts: false claims with no effect, power with one (in memory, no warehouse) ------
    import impact_calibration

    calibration, _ = impact_calibration.calibrate(
        progress=lambda line: print(f"impact calibration: {line}", flush=True))
    for r in calibration:  # with their Wilson intervals and counts
        results.append(r)
        interval = f" [{r['ci95_low']:.3f}, {r['ci95_high']:.3f}]" if "ci95_low" in r else ""
        print(f"  {r['name']:<34} {r['value']:>12.3f}{interval} {r['unit']}", flush=True)

    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {HERE / 'results.json'}" + (f" ({'; '.join(notes)})" if notes else ""))
    return 0


def print_parts(parts: dict[str, float]) -> None:
    print("  breakdown (s):", flush=True)
    for key, value in parts.items():
        if key.startswith(("bare_", "import.")) or "airflow_between" in key or "run_start" in key:
            print(f"    {key:<64} {value:8.3f}")


def kept_year(dsn: str) -> float:
    """``sinfonia prioritise --year Y`` of the latest year already written (kept, not rebuilt)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        year = conn.execute("select max(prioritisation_year) from marts.mart_prioritisation").fetchone()[0]
    return sinfonia("prioritise", "--year", str(year), dsn=dsn)


def ficha_times(dsn: str) -> tuple[float, float, int]:
    """Seconds of ``sinfonia ficha`` for one municipality, and per sheet for the directorate with
    the most selected municipalities (PDFs included, when Chromium is installed)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        code, directorate, sheets = conn.execute(
            "select min(municipality_id), directorate_id, count(*) from marts.mart_municipality_profile "
            "where is_selected and prioritisation_year = (select max(prioritisation_year) from "
            "marts.mart_municipality_profile) group by directorate_id order by count(*) desc limit 1").fetchone()
    out = STATE / "fichas"
    shutil.rmtree(out, ignore_errors=True)
    one = sinfonia("ficha", "--municipality", code, "--out", str(out / "one"), dsn=dsn)
    batch = sinfonia("ficha", "--directorate", directorate, "--out", str(out / "batch"), dsn=dsn)
    return one, batch / sheets, sheets


def _add_export(sources: Path, target: Path) -> Path:
    """A copy of ``sources`` plus one new ESAP export a week after the last one, restating it
    with a few assistances delivered."""
    import csv
    from datetime import date, timedelta

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(sources, target)
    last = sorted((target / "esap").glob("asistencias_*.csv"))[-1]
    day = date(int(last.stem[-8:-4]), int(last.stem[-4:-2]), int(last.stem[-2:])) + timedelta(days=7)
    with open(last, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, body = rows[0], rows[1:]
    status, real = header.index("Estado"), header.index("Fecha Entrega Real")
    due = header.index("Fecha Entrega Programada")
    quality = header.index("Calificación Calidad")
    changed = 0
    for row in body:
        if row[status] == "En implementación" and row[due] and changed < 25:
            row[status], row[real], row[quality] = "Entregada", day.strftime("%d/%m/%Y"), "4"
            changed += 1
    with open(target / "esap" / f"asistencias_{day:%Y%m%d}.csv", "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows([header, *body])
    return target


if __name__ == "__main__":
    sys.exit(main())

"""Parsing a DAG file imports nothing heavy of the project's: with Airflow already loaded (as in a
DAG processor), a DAG file costs its own few lines, Sinfonía's light modules (``airflow_common``,
``tasks``, ``config``, the catalogue's ``LISTING``) and Airflow's own. No parser module, no table
reader, no warehouse, pandas, psycopg, Great Expectations, openpyxl or dbt: those are imported
when a task runs (issue 32: the marginal parse went from 0.17 s to within 0.1 s by this)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What a DAG file may bring in of the package: the DAG helpers and what they need to lay out tasks.
ALLOWED = {"sinfonia", "sinfonia.airflow_common", "sinfonia.config", "sinfonia.tasks", "sinfonia.ingest",
           "sinfonia.ingest.sources"}
HEAVY = ("pandas", "numpy", "psycopg", "great_expectations", "openpyxl", "dbt", "cosmos.operators", "pyarrow")

# One interpreter: Airflow once, then each DAG file in turn; what each file newly imported.
PROBE = """
import json, runpy, sys
import airflow.sdk

seen, out = set(sys.modules), {}
for path in sys.argv[1:]:
    runpy.run_path(path, run_name="__main__")
    out[path] = sorted(set(sys.modules) - seen)
    seen = set(sys.modules)
print(json.dumps(out))
"""


def test_parsing_the_dag_files_imports_no_parser_warehouse_or_data_library():
    from sinfonia import config

    files = [str(p) for p in sorted((REPO / "dags").glob("*.py"))]
    env = {**os.environ, **config.airflow_env()}
    proc = subprocess.run([sys.executable, "-c", PROBE, *files], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(imported) == set(files)
    for path, modules in imported.items():
        ours = {m for m in modules if m == "sinfonia" or m.startswith("sinfonia.")}
        assert ours <= ALLOWED, f"{Path(path).name} imports {sorted(ours - ALLOWED)} at parse time"
        heavy = [m for m in modules if m.startswith(HEAVY)]
        assert not heavy, f"{Path(path).name} imports {heavy[:10]} at parse time"


def test_the_full_catalogue_is_imported_only_when_asked_for():
    # In a fresh interpreter: the package, its listing and the DAG helpers load no parser module;
    # the first use of CATALOGUE imports them all, checked against LISTING.
    code = """
import sys
from sinfonia.ingest import sources
assert "sinfonia.ingest.sources.contract" not in sys.modules
assert not [n for n in sources.NAMES if f"sinfonia.ingest.sources.{n}" in sys.modules]
assert [s.name for s in sources.CATALOGUE] == list(sources.NAMES)
assert all(f"sinfonia.ingest.sources.{n}" in sys.modules for n in sources.NAMES)
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr[-3000:]

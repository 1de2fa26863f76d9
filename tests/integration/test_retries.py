"""Retries through the real extract DAG in the in-process runner (`sinfonia run`, dag.test()):
a bad file fails its task at the first try; an unreachable warehouse stops the run before any
task, in one line (the run lock is taken first)."""

import os
import sqlite3
import time
from pathlib import Path

import pytest

from sinfonia import config
from tests.conftest import sinfonia
from tests.corpus import idf_book

pytestmark = pytest.mark.integration


def tries(task_id: str) -> tuple[int, str]:
    """Try number and state of the latest run of ``task_id`` in Airflow's metadata database: the
    one the ``sinfonia`` subprocess used (``AIRFLOW_HOME`` when an earlier in-process run of this
    session set it, else the state folder's)."""
    home = Path(os.environ.get("AIRFLOW_HOME") or config.airflow_home())
    with sqlite3.connect(home / "airflow.db") as conn:
        return conn.execute("""select try_number, state from task_instance
            where dag_id = 'sinfonia_extract' and task_id = ? order by start_date desc limit 1""",
                            (task_id,)).fetchone()


def test_a_bad_file_fails_its_extract_task_at_once_and_names_the_file(fresh_dsn, tmp_path):
    idf_book(tmp_path / "sources" / "idf", sheet="Hoja1")
    # A workbook that holds no IDF table under any sheet name, header row or start column.
    bad = next((tmp_path / "sources" / "idf").glob("*.xlsx"))
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Nota", "Este libro no trae resultados"])
    wb.save(bad)
    proc = sinfonia("run", "--sources", str(tmp_path / "sources"), "--until", "extract",
                    env={"WAREHOUSE_DSN": fresh_dsn}, check=False)
    assert proc.returncode != 0
    assert "extract_idf" in proc.stderr and "ResultadosIDF_2023.xlsx" in proc.stderr, proc.stderr[-3000:]
    assert tries("extract_idf") == (1, "failed")  # not retried: the file will not change
    assert tries("extract_divipola") == (1, "success")  # the other sources ran (nothing to load)


def test_an_unreachable_warehouse_stops_the_run_at_once_in_one_line(tmp_path):
    """The run takes the warehouse's run lock before any DAG starts: an unreachable server is
    named at once, before any task runs (transient failures inside a task are retried by the
    tasks' retry policy, tests/dags/test_retries.py)."""
    (tmp_path / "sources" / "divipola").mkdir(parents=True)
    (tmp_path / "sources" / "divipola" / "DIVIPOLA.csv").write_text("cod_dpto,dpto,cod_mpio,nom_mpio\n")
    unreachable = "postgresql://sinfonia@127.0.0.1:9/nowhere?connect_timeout=2"
    start = time.monotonic()
    proc = sinfonia("run", "--sources", str(tmp_path / "sources"), "--until", "extract",
                    env={"WAREHOUSE_DSN": unreachable}, check=False, timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("sinfonia run: error:") and '"127.0.0.1", port 9' in first, first
    assert elapsed < 60

"""Retries through the real extract DAG in the in-process runner (`sinfonia run`, dag.test()):
a bad file fails its task at the first try; an unreachable warehouse is tried three times, a
few seconds apart, then the run fails naming the task."""

import sqlite3
import time

import pytest

from sinfonia import config
from tests.conftest import sinfonia
from tests.corpus import idf_book

pytestmark = pytest.mark.integration


def tries(task_id: str) -> tuple[int, str]:
    """Try number and state of the latest run of ``task_id`` in Airflow's metadata database."""
    with sqlite3.connect(config.airflow_home() / "airflow.db") as conn:
        return conn.execute("""select try_number, state from task_instance
            where dag_id = 'sinfonia_extract' and task_id = ? order by start_date desc limit 1""",
                            (task_id,)).fetchone()


def test_a_bad_file_fails_its_extract_task_at_once_and_names_the_file(fresh_dsn, tmp_path):
    idf_book(tmp_path / "sources" / "idf", sheet="Hoja1")
    proc = sinfonia("run", "--sources", str(tmp_path / "sources"), "--until", "extract",
                    env={"WAREHOUSE_DSN": fresh_dsn}, check=False)
    assert proc.returncode != 0
    assert "extract_idf" in proc.stderr and "ResultadosIDF_2023.xlsx" in proc.stderr, proc.stderr[-3000:]
    assert tries("extract_idf") == (1, "failed")  # not retried: the file will not change
    assert tries("extract_divipola") == (1, "success")  # the other sources ran (nothing to load)


def test_an_unreachable_warehouse_is_retried_seconds_apart_then_fails(tmp_path):
    (tmp_path / "sources").mkdir()
    unreachable = "postgresql://sinfonia@127.0.0.1:9/nowhere?connect_timeout=2"
    start = time.monotonic()
    proc = sinfonia("run", "--sources", str(tmp_path / "sources"), "--until", "extract",
                    env={"WAREHOUSE_DSN": unreachable}, check=False, timeout=300)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and "task bootstrap" in proc.stderr, proc.stderr[-3000:]
    assert tries("bootstrap") == (3, "failed"), proc.stderr[-3000:]
    assert elapsed < 180  # minutes of backoff in a scheduled Airflow; seconds in process

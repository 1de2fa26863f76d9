"""The planning office's seeds as written: a weight with a decimal comma (``"1,5"``) is refused
before dbt runs, quoting the value and naming the file, row and column; and what a failed build
reports is never a value a previous run's stored test failures left (the recipe of issue 34)."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from sinfonia import config, prioritisation
from sinfonia.airflow_common import DbtBuild

pytestmark = pytest.mark.integration

WEIGHTS = "prioritisation_weights.csv"
PROJECT_SEEDS = config.DBT_DIR / "seeds"


def _seeds(tmp_path, weight: str):
    folder = tmp_path / "dbt_project" / "seeds"
    shutil.copytree(PROJECT_SEEDS, folder)
    lines = (folder / WEIGHTS).read_text(encoding="utf-8").splitlines()
    assert lines[2].startswith("idf,1,")
    lines[2] = lines[2].replace("idf,1,", f"idf,{weight},", 1)
    (folder / WEIGHTS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _stale(dsn):
    """What a previous run's failed seed test left: 'weight of mdm is -1'."""
    with psycopg.connect(dsn) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute("create table intermediate.assert_prioritisation_weights_are_valid (problem text)")
        conn.execute("insert into intermediate.assert_prioritisation_weights_are_valid values ('weight of mdm is -1')")


def test_the_project_seeds_are_numbers_as_written():
    assert prioritisation.seed_file_problems() == []


@pytest.mark.parametrize("weight, shown", [('"1,5"', "'1,5' is not a number (write decimals with a point: 1.5)"),
                                           ("uno", "'uno' is not a number"), ('"1.5 "', None), ("2e0", None)])
def test_a_weight_that_is_not_a_number_is_quoted_with_its_file(tmp_path, weight, shown):
    problems = prioritisation.seed_file_problems(_seeds(tmp_path, weight))
    if shown is None:
        assert problems == []
    else:
        assert problems == [f"{WEIGHTS}, row 3, column weight: {shown}"]


def test_the_dbt_task_refuses_a_decimal_comma_and_never_reports_the_previous_runs_value(
        fresh_dsn, tmp_path, monkeypatch):
    _stale(fresh_dsn)
    folder = _seeds(tmp_path, '"1,5"')
    monkeypatch.setattr(config, "DBT_DIR", folder.parent)
    monkeypatch.setenv("WAREHOUSE_DSN", fresh_dsn)
    with pytest.raises(ValueError) as raised:
        DbtBuild(task_id="dbt_build").execute({})
    message = str(raised.value)
    assert f"{WEIGHTS}, row 3, column weight: '1,5' is not a number" in message
    assert "-1" not in message
    # The seeds fixed, the build starts from no stale failure: the previous run's value is gone.
    _seeds(tmp_path / "fixed", "1.5")
    prioritisation.check_seed_files(fresh_dsn, tmp_path / "fixed" / "dbt_project" / "seeds")
    assert prioritisation.seed_problems(fresh_dsn) == []

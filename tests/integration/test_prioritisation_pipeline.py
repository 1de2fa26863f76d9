"""The prioritisation on the small sample, through the real DAGs and the command line."""

import json
from datetime import date

import openpyxl
import psycopg
import pytest

from sinfonia import dbt, prioritisation, publish
from tests.conftest import sample_run, sinfonia
from tests.integration.test_prioritisation_method import assert_matches_reference, assert_no_late_inputs

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(server_dsn, small_sample, state_dir):
    """The small sample run through the full refresh once (extract, transform, prioritisation)."""
    with sample_run(server_dsn, small_sample, "prio") as run:
        yield run


def snapshot_rows(dsn, year):
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select * from marts.mart_prioritisation where prioritisation_year = %s "
                            "order by municipality_id", (year,)).fetchall()
    return [json.dumps(r, default=str) for r in rows]


def test_full_refresh_snapshots_the_latest_year_with_goals(warehouse):
    dsn, proc = warehouse
    with psycopg.connect(dsn) as conn:
        latest = conn.execute("select max(goal_year) from intermediate.int_goals__resolved").fetchone()[0]
        runs = conn.execute("select prioritisation_year, status, dag_run_id, input_versions, rows "
                            "from meta.prioritisation_run").fetchall()
        universe = conn.execute("select count(*) from marts.dim_municipality "
                                "where entity_type in ('municipio', 'isla')").fetchone()[0]
    assert [(y, s) for y, s, *_ in runs] == [(latest, "written")]
    _, _, dag_run_id, versions, rows = runs[0]
    assert dag_run_id.startswith("manual__") and rows == universe
    assert versions["indicators"]["idf"]["max_published_on"] <= f"{latest}-01-15"
    assert versions["load_runs"]["idf"] and versions["publication_id"]
    assert f"Prioritised list {latest}" in proc.stdout and "marts.mart_prioritisation" in proc.stdout


def test_every_year_matches_the_independent_recomputation_and_uses_nothing_published_later(warehouse):
    dsn, _ = warehouse
    with psycopg.connect(dsn) as conn:
        first, last = conn.execute("""select (select min(year) + 1 from marts.fct_municipal_indicator),
            (select max(goal_year) from intermediate.int_goals__resolved)""").fetchone()
    years = range(first, last + 1)  # every year the sample can prioritise (goals exist for the last ones)
    assert len(years) >= 5
    checked = 0
    for year in years:
        prioritisation.run(dsn, year)  # the latest year is kept as the full refresh wrote it
        assert_matches_reference(dsn, year, date(year, 1, 15))
        checked += assert_no_late_inputs(dsn, year)
    assert checked > 100
    with psycopg.connect(dsn) as conn:
        selected = conn.execute("select count(*) from marts.mart_prioritisation where is_selected").fetchone()[0]
        scored = conn.execute("select count(*) from marts.mart_prioritisation where need_score is not null").fetchone()[0]
    assert selected > 0 and scored > 0


def test_cli_snapshots_a_year_as_of_a_date_keeps_it_and_rewrites_it_identically_when_forced(warehouse):
    dsn, _ = warehouse
    env = {"WAREHOUSE_DSN": dsn}
    # 2023 may already be snapshotted as of 15 January (above): --force rewrites it as of June.
    first = sinfonia("prioritise", "--year", "2023", "--as-of", "2023-06-30", "--force", env=env)
    assert "Prioritised list 2023 (as of 2023-06-30, written)" in first.stdout
    rows = snapshot_rows(dsn, 2023)
    assert rows and all('"2023-06-30"' in r for r in rows)
    kept = sinfonia("prioritise", "--year", "2023", env=env)
    assert "(as of 2023-06-30, kept)" in kept.stdout and snapshot_rows(dsn, 2023) == rows
    sinfonia("prioritise", "--year", "2023", "--as-of", "2023-06-30", "--force", env=env)
    assert snapshot_rows(dsn, 2023) == rows
    assert_matches_reference(dsn, 2023, date(2023, 6, 30))


def test_cli_refuses_a_bad_date_with_one_line(warehouse):
    dsn, _ = warehouse
    proc = sinfonia("prioritise", "--year", "2024", "--as-of", "2024-13-01", env={"WAREHOUSE_DSN": dsn}, check=False)
    # argparse's usage, then the one error line naming the option, the value and the form expected
    error = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and "--as-of" in error and "'2024-13-01' is not a date (YYYY-MM-DD)" in error
    assert "Traceback" not in proc.stderr


def test_the_snapshot_survives_a_full_build_and_publication_of_the_marts(warehouse):
    dsn, _ = warehouse
    with psycopg.connect(dsn) as conn:
        years = [r[0] for r in conn.execute("select distinct prioritisation_year from marts.mart_prioritisation")]
    before = {y: snapshot_rows(dsn, y) for y in years}
    dbt.run(["build", "--full-refresh"], dsn)  # the snapshot is incremental and never fully refreshed
    counts = publish.publish(dsn)
    assert "fct_municipal_indicator" in counts and "mart_prioritisation" in counts  # publish: the one writer
    assert {y: snapshot_rows(dsn, y) for y in years} == before


def test_report_on_the_sample_says_it_is_synthetic_everywhere(warehouse, tmp_path):
    dsn, _ = warehouse
    proc = sinfonia("report", "--out", str(tmp_path), env={"WAREHOUSE_DSN": dsn})
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.count("DATOS SINTÉTICOS DE MUESTRA") >= 1 and page.count("<img") >= 3
    [xlsx] = tmp_path.glob("priorizacion_*.xlsx")
    assert str(xlsx) in proc.stdout
    wb = openpyxl.load_workbook(xlsx)
    with psycopg.connect(dsn) as conn:
        directorates = [r[0] for r in conn.execute(
            "select distinct directorate_id from marts.mart_prioritisation where prioritisation_year = %s "
            "order by 1", (int(xlsx.stem.split("_")[1]),))]
    assert wb.sheetnames == ["Nacional", *directorates]
    assert all(ws["A1"].value.startswith("DATOS SINTÉTICOS DE MUESTRA") for ws in wb.worksheets)

"""The assistance fact across two exports, and the marts gate on a broken mart, through the real DAGs.

Run 1 sees only the first export; run 2 adds the second (from which one assistance is dropped).
fct_technical_assistance is incremental on export batches and lives in marts_build between
runs: restated assistances are updated, the dropped one keeps its row, and the state history
keeps both states. A further incremental dbt run leaves rows older than the newest export
untouched (a mark on one survives); a full refresh rebuilds them from every export. Then the marts
gate is fed broken marts (dates out of order, an orphan fact row): it fails naming the
expectations and the published marts stay exactly as they were.
"""

import csv
import shutil
import uuid

import psycopg
import pytest

from sinfonia import dbt, gates, tasks
from tests.conftest import _with_db, sinfonia
from tests.integration.test_pipeline import snapshot

pytestmark = pytest.mark.integration

MARKER = "kept by the incremental run"


def _exports(folder):
    return sorted((folder / "esap").glob("asistencias_*.csv"))


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


@pytest.fixture(scope="module")
def two_runs(server_dsn, small_sample, tmp_path_factory):
    name = f"incr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = _with_db(server_dsn, name)
    folder = tmp_path_factory.mktemp("two_exports")
    shutil.copytree(small_sample, folder, dirs_exist_ok=True)
    first, second, *later = _exports(folder)
    for path in later:
        path.unlink()
    stash = folder.parent / f"{second.name}.later"
    shutil.move(second, stash)

    sinfonia("run", "--sources", str(folder), env={"WAREHOUSE_DSN": dsn})
    rows1 = {r[0]: r for r in _read(first)[1:]}
    header, *rows2 = _read(stash)
    # Drop one assistance from the second export: it must keep its first-export row.
    dropped = next(r[0] for r in rows2 if r[0] in rows1 and rows1[r[0]][9] and rows1[r[0]][10])
    with open(second, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows([header, *[r for r in rows2 if r[0] != dropped]])
    sinfonia("run", "--sources", str(folder), env={"WAREHOUSE_DSN": dsn})
    yield dsn, first, second, rows1, {r[0]: r for r in rows2 if r[0] != dropped}, dropped
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _date(path):
    stem = path.stem.split("_")[1]
    return f"{stem[:4]}-{stem[4:6]}-{stem[6:]}"


def test_restated_assistances_are_updated_and_history_keeps_both_states(two_runs):
    dsn, first, second, rows1, rows2, _ = two_runs
    status = 8  # Estado
    changed = [a for a in rows2 if a in rows1 and rows1[a][status] != rows2[a][status]]
    assert changed, "the sample should restate some assistances with a new state"
    with psycopg.connect(dsn) as conn:
        facts = {r[0]: r[1:] for r in conn.execute(
            "select assistance_id, status, last_export_date::text, exports_seen from marts.fct_technical_assistance")}
        history = {}
        for aid, st, vf, vt, cur in conn.execute(
                "select assistance_id, status, valid_from::text, valid_to::text, is_current "
                "from intermediate.int_assistances__state_history order by assistance_id, state_number"):
            history.setdefault(aid, []).append((st, vf, vt, cur))
    assert set(facts) == set(rows1) | set(rows2)
    for aid in changed:
        assert facts[aid] == (rows2[aid][status], _date(second), 2)
        assert history[aid] == [(rows1[aid][status], _date(first), _date(second), False),
                                (rows2[aid][status], _date(second), None, True)]


def test_an_assistance_missing_from_the_later_export_keeps_its_row(two_runs):
    dsn, first, _, rows1, _, dropped = two_runs
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select status, last_export_date::text, exports_seen "
                           "from marts.fct_technical_assistance where assistance_id = %s", (dropped,)).fetchone()
        states = conn.execute("select count(*), bool_and(is_current) from intermediate.int_assistances__state_history "
                              "where assistance_id = %s", (dropped,)).fetchone()
    assert row == (rows1[dropped][8], _date(first), 1)
    assert states == (1, True)


def _built_team(dsn, aid):
    with psycopg.connect(dsn) as conn:
        return conn.execute("select team_name from marts_build.fct_technical_assistance where assistance_id = %s",
                            (aid,)).fetchone()[0]


def test_incremental_runs_leave_older_rows_and_full_refresh_rebuilds_them(two_runs):
    dsn, _, _, rows1, _, dropped = two_runs
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update marts_build.fct_technical_assistance set team_name = %s where assistance_id = %s",
                     (MARKER, dropped))
    dbt.run(["build", "--select", "fct_technical_assistance", "--quiet"], dsn)
    assert _built_team(dsn, dropped) == MARKER  # not read again: its export is older than the newest
    dbt.run(["build", "--full-refresh", "--select", "fct_technical_assistance", "--quiet"], dsn)
    assert _built_team(dsn, dropped) == rows1[dropped][7]


def test_the_marts_gate_stops_broken_marts_and_names_the_expectations(two_runs, monkeypatch):
    """Broken rows dbt's tests do not see (dates out of order) or that slip into marts_build (an
    orphan): the function behind the DAG's gate_marts task fails naming both expectations, records
    the run in meta.gate_run, and nothing is published."""
    dsn, _, _, _, _, dropped = two_runs
    monkeypatch.setenv("AIRFLOW_CONN_SINFONIA_WAREHOUSE", dsn)  # the tasks' warehouse: an Airflow connection
    before = snapshot(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update marts_build.fct_technical_assistance set action_plan_date = agreed_date - 30 "
                     "where assistance_id = %s", (dropped,))
        conn.execute("""insert into marts_build.fct_technical_assistance (assistance_id, municipality_id,
                        directorate_id, thematic_line_id, status, is_delivered, last_export_date, exports_seen)
                        select 'AT-ORPHAN', '99999', directorate_id, thematic_line_id, 'Programada', false,
                               last_export_date, 1
                        from marts_build.fct_technical_assistance limit 1""")
    with pytest.raises(gates.GateFailed) as failed:
        tasks.gate("marts_", "broken-run", schema_map={"marts": "marts_build"})
    message = str(failed.value)
    assert "every assistance's municipality_id exists in dim_municipality (observed 1)" in message
    assert "lifecycle dates in order: agreed <= action plan <= delivered (observed 1)" in message
    with psycopg.connect(dsn) as conn:
        failed_critical, names = conn.execute(
            """select failed_critical, failed_expectations from meta.gate_run
               where run_id = 'broken-run' and suite = 'marts_fct_technical_assistance'""").fetchone()
    assert failed_critical == 2 and any("lifecycle dates in order" in n for n in names)
    assert snapshot(dsn) == before

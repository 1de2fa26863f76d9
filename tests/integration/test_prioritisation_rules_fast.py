"""The prioritisation run's Python rules against a throwaway database (seconds: hand-made inputs,
no dbt): what a run plans, records and compares, which years have goals, what a drop removes.

The slow modules (test_prioritisation_*) run the method end to end; these pin each rule of
``sinfonia.prioritisation`` at its boundary: the snapshot's rows of the year only, an indicator
published on the as-of date counted and one a day later not, a kept run whose inputs changed
noticed, a year whose goals add up to zero not offered.
"""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest

from sinfonia import config, prioritisation
from sinfonia.bootstrap import bootstrap
from sinfonia.prioritisation import NoGoals, Plan, PrioritisationError, RunResult

pytestmark = pytest.mark.integration

B = config.MARTS_BUILD
INPUTS = """
create schema if not exists marts_build;
create table marts_build.dim_municipality (municipality_id text, entity_type text, directorate_id text, is_pdet boolean);
create table marts_build.fct_municipal_indicator (municipality_id text, indicator text, year integer, value numeric,
    value_label text, published_on date);
create table intermediate.int_goals__resolved (directorate_id text, thematic_line_id text, goal integer,
    goal_year integer);
create table seeds.prioritisation_weights (indicator text, weight numeric);
create table seeds.prioritisation_rules (rule text, value text);
create table marts_build.mart_prioritisation (prioritisation_year integer, municipality_id text, is_eligible boolean,
    is_selected boolean, as_of_date date, national_rank integer);
insert into marts_build.dim_municipality values ('05001', 'municipio', 'D1', true), ('05002', 'municipio', 'D1', false);
insert into marts_build.fct_municipal_indicator values
    ('05001', 'mdm', 2022, 50.5, null, '2024-03-01'),
    ('05002', 'mdm', 2023, 40.0, null, '2024-06-30'),
    ('05002', 'mdm', 2024, 41.0, null, '2024-07-01'),
    ('05001', 'idf', 2021, 60.0, null, '2023-01-01'),
    ('05001', 'other', 2023, 1.0, null, '2023-01-01');
insert into intermediate.int_goals__resolved values ('D1', 'L1', 2, 2023), ('D1', 'L1', 0, 2022),
    ('D1', 'L2', 0, 2022), ('D1', 'L1', 1, 2024);
insert into seeds.prioritisation_weights values (' MDM ', 2), ('idf', 1.5);
insert into seeds.prioritisation_rules values ('eligible_categories', ' 5, 6 ,, '), ('pdet_eligible', 'TRUE'),
    ('imrc_component', 'Exceso'), ('default_as_of', null);
insert into marts_build.mart_prioritisation values
    (2024, '05001', true, true, '2024-06-30', 1), (2024, '05002', true, false, '2024-06-30', 2),
    (2023, '05001', false, false, '2023-06-30', 1);
"""


@pytest.fixture(scope="module")
def template(server_dsn):
    from tests.conftest import throwaway_database

    with throwaway_database(server_dsn, "prio_tpl") as dsn:
        bootstrap(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(INPUTS)
        yield dsn


@pytest.fixture
def dsn(server_dsn, template):
    from tests.conftest import dbname, throwaway_database

    with throwaway_database(server_dsn, "prio", template=dbname(template)) as url:
        yield url


def test_plan_counts_the_years_rows_only_and_keeps_the_parameters(dsn):
    p = prioritisation.plan(dsn, 2024, date(2024, 6, 30), force=1)
    assert p == Plan(2024, "2024-06-30", True, 2)
    assert prioritisation.plan(dsn, "2023").existing_rows == 1
    assert prioritisation.plan(dsn, 2022) == Plan(2022, None, False, 0)


def test_plan_names_every_missing_input(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table seeds.prioritisation_rules")
        conn.execute("drop table marts_build.dim_municipality")
    with pytest.raises(PrioritisationError) as raised:
        prioritisation.plan(dsn, 2024)
    assert str(raised.value) == (
        "prioritisation needs marts_build.dim_municipality, seeds.prioritisation_rules, which the warehouse lacks: "
        "run `sinfonia build` (dbt seeds and marts) first")


def test_plan_of_a_warehouse_without_a_snapshot_yet_counts_none(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table marts_build.mart_prioritisation")
    assert prioritisation.plan(dsn, 2024).existing_rows == 0


@pytest.mark.parametrize("force, existing, status", [(False, 0, "written"), (True, 0, "written"),
                                                     (True, 3, "written"), (False, 1, "kept")])
def test_a_year_already_snapshotted_is_kept_unless_forced(force, existing, status):
    p = Plan(2024, None, force, existing)
    assert p.status == status
    assert p.dbt_vars() == {"prioritisation_year": 2024, "prioritisation_as_of_date": None,
                            "prioritisation_force": force}


def test_the_run_result_says_what_happened():
    base = dict(run_id=7, year=2024, as_of_date=date(2024, 6, 30), rows=3, eligible=2, selected=1)
    assert str(RunResult(status="written", inputs_changed=False, **base)) == (
        "prioritisation 2024 as of 2024-06-30: written; 3 municipalities, 2 eligible, 1 selected (run 7)")
    assert str(RunResult(status="kept", inputs_changed=True, **base)) == (
        "prioritisation 2024 as of 2024-06-30: kept (already snapshotted; --force rewrites it); 3 municipalities, "
        "2 eligible, 1 selected (run 7); note: the inputs changed since this snapshot was written")


def test_parameters_read_the_seeds_as_the_planning_office_writes_them(dsn):
    with psycopg.connect(dsn) as conn:
        assert prioritisation.parameters(conn) == {
            "weights": {"mdm": 2.0, "idf": 1.5, "imrc": 0.0, "ipm": 0.0},
            "eligible_categories": ["5", "6"], "pdet_eligible": True, "imrc_component": "exceso"}
        conn.execute("delete from seeds.prioritisation_rules")
        assert prioritisation.parameters(conn) == {
            "weights": {"mdm": 2.0, "idf": 1.5, "imrc": 0.0, "ipm": 0.0},
            "eligible_categories": [], "pdet_eligible": False, "imrc_component": ""}
        conn.execute("insert into seeds.prioritisation_rules values ('pdet_eligible', 'false'), "
                     "('eligible_categories', 'e,b')")
        params = prioritisation.parameters(conn)
        assert params["pdet_eligible"] is False and params["eligible_categories"] == ["E", "B"]


def test_input_versions_count_what_was_published_by_the_as_of_date_only(dsn):
    with psycopg.connect(dsn) as conn:
        versions = prioritisation.input_versions(conn, 2024, date(2024, 6, 30))
        assert versions["indicators"] == {
            "mdm": {"max_year": 2023, "max_published_on": "2024-06-30", "rows": 2},
            "idf": {"max_year": 2021, "max_published_on": "2023-01-01", "rows": 1}}
        assert len(versions["inputs_md5"]) == 32
        assert "load_runs" in versions and "publication_id" in versions
        later = prioritisation.input_versions(conn, 2024, date(2024, 7, 1))
        assert later["indicators"]["mdm"] == {"max_year": 2024, "max_published_on": "2024-07-01", "rows": 3}
        assert later["inputs_md5"] != versions["inputs_md5"]
        # Each input moves the fingerprint: an indicator value, a municipality, a goal of the year.
        before = versions["inputs_md5"]
        seen = {before}
        for change in ("update marts_build.fct_municipal_indicator set value = 50.6 where value = 50.5",
                       "update marts_build.dim_municipality set is_pdet = false where municipality_id = '05001'",
                       "update intermediate.int_goals__resolved set goal = 3 where goal_year = 2024"):
            conn.execute(change)
            now = prioritisation.input_versions(conn, 2024, date(2024, 6, 30))["inputs_md5"]
            assert now not in seen, change
            seen.add(now)
        # A goal of another year, or an indicator the method does not read, does not.
        for change in ("update intermediate.int_goals__resolved set goal = 9 where goal_year = 2023",
                       "update marts_build.fct_municipal_indicator set value = 2 where indicator = 'other'"):
            conn.execute(change)
            assert prioritisation.input_versions(conn, 2024, date(2024, 6, 30))["inputs_md5"] == now, change


def test_input_versions_name_the_load_runs_and_the_last_publication(dsn):
    with psycopg.connect(dsn) as conn:
        conn.execute("delete from meta.load_run")
        assert prioritisation.input_versions(conn, 2024, date(2024, 6, 30))["load_runs"] == {}
        conn.execute("insert into meta.publication (run_id, tables) values ('a', '{}'), ('b', '{}')")
        last = conn.execute("select max(publication_id) from meta.publication").fetchone()[0]
        assert prioritisation.input_versions(conn, 2024, date(2024, 6, 30))["publication_id"] == last
        conn.execute("drop table meta.publication cascade")
        conn.execute("drop table meta.load_run cascade")
        versions = prioritisation.input_versions(conn, 2024, date(2024, 6, 30))
        assert "publication_id" not in versions and "load_runs" not in versions


def _runs(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute("select prioritisation_year, as_of_date, status, forced, rows, dag_run_id, parameters "
                            "from meta.prioritisation_run order by run_id").fetchall()


def test_record_writes_the_run_and_notices_a_kept_year_whose_inputs_changed(dsn):
    written = prioritisation.record(dsn, Plan(2024, None, False, 0), "dag-1")
    assert (written.year, written.as_of_date, written.status, written.rows, written.eligible, written.selected,
            written.inputs_changed) == (2024, date(2024, 6, 30), "written", 2, 2, 1, False)
    kept = prioritisation.record(dsn, Plan(2024, None, False, 2))
    assert (kept.status, kept.inputs_changed, kept.run_id) == ("kept", False, written.run_id + 1)
    assert not prioritisation.record(dsn, Plan(2024, "2024-06-30", False, 2)).inputs_changed
    assert prioritisation.record(dsn, Plan(2024, "2024-07-01", False, 2)).inputs_changed
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update marts_build.fct_municipal_indicator set value = 41 where value = 40")
    assert prioritisation.record(dsn, Plan(2024, None, False, 2)).inputs_changed
    # Forced, the year is written again: nothing to notice.
    assert not prioritisation.record(dsn, Plan(2024, None, True, 2)).inputs_changed
    runs = _runs(dsn)
    assert [r[:6] for r in runs] == [
        (2024, date(2024, 6, 30), "written", False, 2, "dag-1"), (2024, date(2024, 6, 30), "kept", False, 2, None),
        (2024, date(2024, 6, 30), "kept", False, 2, None), (2024, date(2024, 6, 30), "kept", False, 2, None),
        (2024, date(2024, 6, 30), "kept", False, 2, None), (2024, date(2024, 6, 30), "written", True, 2, None)]
    assert runs[0][6]["weights"]["mdm"] == 2.0


def test_record_compares_with_the_last_written_run_of_the_same_year(dsn):
    prioritisation.record(dsn, Plan(2024, None, False, 0))
    prioritisation.record(dsn, Plan(2023, None, False, 0))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update seeds.prioritisation_weights set weight = 3 where indicator = 'idf'")
    # The weights changed since 2024 was written: noticed on the parameters alone.
    assert prioritisation.record(dsn, Plan(2024, None, False, 2)).inputs_changed
    prioritisation.record(dsn, Plan(2024, None, True, 2))
    assert not prioritisation.record(dsn, Plan(2024, None, False, 2)).inputs_changed
    # A year never written before: nothing to compare with.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into marts_build.mart_prioritisation values (2022, '05001', false, false, '2022-06-30', 1)")
    assert not prioritisation.record(dsn, Plan(2022, None, False, 1)).inputs_changed


def test_record_refuses_a_year_without_rows(dsn):
    with pytest.raises(PrioritisationError, match=r"^prioritisation 2030 produced no rows: marts_build.dim_municipality"):
        prioritisation.record(dsn, Plan(2030, None, False, 0))


def test_seed_problems_name_the_test_and_clearing_them_leaves_none(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table intermediate.assert_prioritisation_weights_are_valid (problem text)")
        conn.execute("insert into intermediate.assert_prioritisation_weights_are_valid values ('weight of mdm is -1')")
        conn.execute("create table intermediate.assert_prioritisation_rules_are_valid (problem text)")
        conn.execute("insert into intermediate.assert_prioritisation_rules_are_valid values ('pdet_eligible is x')")
    assert prioritisation.seed_problems(dsn) == ["prioritisation_weights: weight of mdm is -1",
                                                 "prioritisation_rules: pdet_eligible is x"]
    prioritisation.clear_seed_problems(dsn)
    assert prioritisation.seed_problems(dsn) == []


def test_the_years_with_goals_are_those_whose_goals_add_up_to_more_than_zero(dsn):
    assert prioritisation.goal_years(dsn) == [2023, 2024]
    assert prioritisation.latest_data_year(dsn) == 2024
    prioritisation.require_goals(dsn, 2023)
    with pytest.raises(NoGoals) as raised:
        prioritisation.require_goals(dsn, 2022)
    assert str(raised.value) == ("2022 has no goals (ESAP's metas export; years with goals: 2023, 2024): its snapshot "
                                 "would select no municipality; pass --allow-no-goals to write it anyway")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update intermediate.int_goals__resolved set goal = 0")
    with pytest.raises(NoGoals, match=r"\(ESAP's metas export; no year has goals\)"):
        prioritisation.require_goals(dsn, 2024)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table intermediate.int_goals__resolved")
    assert prioritisation.goal_years(dsn) == []
    assert prioritisation.latest_data_year(dsn) is None


@pytest.mark.parametrize("year, accepted", [(1999, False), (2000, True), (2100, True), (2101, False)])
def test_check_year_accepts_2000_to_2100(year, accepted):
    if accepted:
        prioritisation.check_year(year)
    else:
        with pytest.raises(PrioritisationError, match=rf"^--year {year} is out of range \(2000–2100\)$"):
            prioritisation.check_year(year)


def test_the_summary_shows_the_last_run_and_its_selected_municipalities(dsn):
    assert prioritisation.last_run(dsn) is None and prioritisation.summary(dsn) is None
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table marts.mart_prioritisation as "
                     "select * from marts_build.mart_prioritisation")
    prioritisation.record(dsn, Plan(2023, None, False, 0))
    prioritisation.record(dsn, Plan(2024, None, False, 0))
    assert prioritisation.last_run(dsn) == (2024, date(2024, 6, 30), "written", 1)
    assert prioritisation.summary(dsn) == (
        "\nPrioritised list 2024 (as of 2024-06-30, written): 1 municipalities selected; "
        "select * from marts.mart_prioritisation where prioritisation_year = 2024 order by national_rank")


def test_dropping_a_year_removes_its_rows_everywhere_then_publishes(dsn, monkeypatch, caplog):
    from sinfonia import gates, publish

    calls = []
    monkeypatch.setattr(gates, "run_gate", lambda *a, **kw: calls.append(("gate", a, kw)))
    monkeypatch.setattr(publish, "publish", lambda *a, **kw: calls.append(("publish", a, kw)))
    prioritisation.record(dsn, Plan(2024, None, False, 0))
    prioritisation.record(dsn, Plan(2023, None, False, 0))
    with caplog.at_level("INFO", logger="sinfonia.prioritisation"):
        removed = prioritisation.drop_snapshot(dsn, 2024)
    assert removed == {"marts_build.mart_prioritisation": 2, "meta.prioritisation_run": 1}
    assert f"prioritisation 2024 removed: {removed}" in [r.getMessage() for r in caplog.records]
    assert calls == [("gate", ("marts_", dsn, "drop-prioritisation-2024"), {"schema_map": {"marts": B}}),
                     ("publish", (dsn, "drop-prioritisation-2024"), {})]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select prioritisation_year from marts_build.mart_prioritisation").fetchall() == [(2023,)]
        assert conn.execute("select prioritisation_year from meta.prioritisation_run").fetchall() == [(2023,)]
    calls.clear()
    assert prioritisation.drop_snapshot(dsn, 2024) == {"marts_build.mart_prioritisation": 0, "meta.prioritisation_run": 0}
    assert calls == [], "nothing removed: nothing to gate or publish"
    # json of the parameters is what a run compares: the record's are plain JSON.
    assert json.loads(json.dumps(_runs(dsn)[0][6]))["pdet_eligible"] is True


def test_seed_files_as_written_every_seed_row_and_column_checked(tmp_path):
    """A declared seed without its file, or without numeric columns, is skipped (not the seeds
    after it); a blank cell is skipped (not the columns after it); an exponent is a number in
    either case; a file saved with a byte-order mark (Excel's UTF-8) is read by its header."""
    (tmp_path / "_seeds.yml").write_text(
        "seeds:\n  - name: absent\n    config:\n      column_types: {weight: numeric}\n"
        "  - name: words\n    config:\n      column_types: {note: text}\n"
        "  - name: present\n    config:\n      column_types: {a_weight: numeric, weight: numeric, note: text}\n"
        "  - name: excel\n    config:\n      column_types: {weight: numeric}\n", encoding="utf-8")
    (tmp_path / "words.csv").write_text("note\nx\n", encoding="utf-8")
    (tmp_path / "present.csv").write_text("a_weight,weight,note\n1E2,1.5,a\n,\"2,5\",b\n2e1, ,c\n",
                                          encoding="utf-8")
    (tmp_path / "excel.csv").write_text("weight\nuno\n", encoding="utf-8-sig")
    assert prioritisation.seed_file_problems(tmp_path) == [
        "present.csv, row 3, column weight: '2,5' is not a number (write decimals with a point: 2.5)",
        "excel.csv, row 2, column weight: 'uno' is not a number"]


def _weights_folder(folder, rows: bytes):
    """A seeds folder of one declared numeric seed, ``weights.csv`` written byte for byte."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_seeds.yml").write_text("seeds:\n  - name: weights\n    config:\n      column_types: {weight: numeric}\n",
                                       encoding="utf-8")
    (folder / "weights.csv").write_bytes(b"indicator,weight\n" + rows)
    return folder


def test_check_seed_files_quotes_every_bad_value_and_clears_stale_failures_only_when_the_files_are_good(
        dsn, tmp_path):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table intermediate.assert_prioritisation_weights_are_valid (problem text)")
        conn.execute("insert into intermediate.assert_prioritisation_weights_are_valid values ('weight of mdm is -1')")
    folder = _weights_folder(tmp_path / "seeds", b'mdm,"1,5"\nidf,uno\n')
    with pytest.raises(ValueError) as refused:
        prioritisation.check_seed_files(dsn, folder)
    assert str(refused.value) == (
        "the planning office's seeds are not valid (dbt_project/seeds): "
        "weights.csv, row 2, column weight: '1,5' is not a number (write decimals with a point: 1.5); "
        "weights.csv, row 3, column weight: 'uno' is not a number")
    assert prioritisation.seed_problems(dsn) == ["prioritisation_weights: weight of mdm is -1"], \
        "a refused file clears nothing"
    _weights_folder(tmp_path / "seeds", b"mdm,1.5\nidf,1\n")
    prioritisation.check_seed_files(dsn, folder)
    assert prioritisation.seed_problems(dsn) == []


def test_a_seed_value_is_quoted_as_written_a_line_break_in_it_included(tmp_path):
    """The file is read as written (``newline=""``): a quoted value holding a Windows line break
    is quoted with it, not with the line break Python would translate it to."""
    folder = _weights_folder(tmp_path, b'mdm,"1\r\n5"\r\nidf,2\r\n')
    assert prioritisation.seed_file_problems(folder) == ["weights.csv, row 2, column weight: '1\\r\\n5' is not a number"]


def test_dropping_a_year_holds_the_warehouse_saying_what_for(dsn, monkeypatch):
    from sinfonia import gates, publish, runlock

    monkeypatch.setattr(gates, "run_gate", lambda *a, **kw: None)
    monkeypatch.setattr(publish, "publish", lambda *a, **kw: None)
    held, drop = [], prioritisation._drop_snapshot

    def watched(url, year):
        held.append(runlock.holder(url)[1])
        return drop(url, year)

    monkeypatch.setattr(prioritisation, "_drop_snapshot", watched)
    prioritisation.drop_snapshot(dsn, 2024)
    [holder] = held
    assert holder.endswith(": prioritise --drop --year 2024")
    assert runlock.holder(dsn) == (None, None)


def test_input_versions_name_only_the_loaded_runs_of_each_source_by_period(dsn):
    with psycopg.connect(dsn) as conn:
        conn.execute("delete from meta.load_run")
        ids = [conn.execute(
            "insert into meta.load_run (source, period, files, started_at, status) "
            "values (%s, %s, '{}', now(), %s) returning load_id", row).fetchone()[0]
            for row in (("mdm", "2023", "loaded"), ("mdm", "2022", "loaded"), ("mdm", "2024", "failed"),
                        ("idf", "2023", "loaded"))]
        assert prioritisation.input_versions(conn, 2024, date(2024, 6, 30))["load_runs"] == {
            "idf": {"2023": ids[3]}, "mdm": {"2022": ids[1], "2023": ids[0]}}


def test_a_kept_year_notices_that_its_own_years_goals_changed_not_another_years(dsn):
    written = prioritisation.record(dsn, Plan(2024, None, False, 0))
    assert written.status == "written"
    with psycopg.connect(dsn, autocommit=True) as conn:  # another year's goals: not this year's input
        conn.execute("update intermediate.int_goals__resolved set goal = 9 where goal_year = 2023")
    assert not prioritisation.record(dsn, Plan(2024, None, False, 2)).inputs_changed
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update intermediate.int_goals__resolved set goal = 3 where goal_year = 2024")
    assert prioritisation.record(dsn, Plan(2024, None, False, 2)).inputs_changed


def test_record_logs_what_it_recorded(dsn, caplog):
    with caplog.at_level("INFO", logger="sinfonia.prioritisation"):
        result = prioritisation.record(dsn, Plan(2024, None, False, 0))
    assert [r.getMessage() for r in caplog.records if r.name == "sinfonia.prioritisation"] == [str(result)]

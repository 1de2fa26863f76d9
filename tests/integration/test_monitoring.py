"""The weekly monitoring path end to end (extract → monitoring DAG) on a real PostgreSQL:
recounts from the facts, disclosure control, the restricted schema and the report section."""

import csv
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict

import psycopg
import pytest
from psycopg import sql

from sinfonia import config
from tests.conftest import _with_db

pytestmark = pytest.mark.integration

GROUPS = ("afro", "indigenous", "lgbtiq", "migrant", "conflict_victim", "disability")


def _weekly_run(dsn, sources) -> str:
    code = ("import sys; from sinfonia import pipeline; pipeline.prepare_environment(); "
            "pipeline.run_dags(pipeline.WEEKLY, {'sources_dir': sys.argv[1]})")
    proc = subprocess.run([sys.executable, "-c", code, str(sources)], capture_output=True, text=True,
                          timeout=1200, env={**os.environ, "WAREHOUSE_DSN": dsn})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def weekly_runs(server_dsn, small_sample, state_dir, tmp_path_factory):
    """One database; the small sample through the extract and the weekly monitoring DAGs twice:
    first without its last ESAP export (an empty warehouse: the whole dbt project is built), then
    with it (the narrowed weekly build on top of the first)."""
    name = f"mon_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = _with_db(server_dsn, name)
    folder = tmp_path_factory.mktemp("weekly")
    shutil.copytree(small_sample, folder, dirs_exist_ok=True)
    last = sorted((folder / "esap").glob("asistencias_*.csv"))[-1]
    stash = folder.parent / f"{last.name}.later"
    shutil.move(last, stash)
    first = _weekly_run(dsn, folder)
    shutil.move(stash, last)
    second = _weekly_run(dsn, folder)
    stem = last.stem.split("_")[1]
    yield dsn, first, second, f"{stem[:4]}-{stem[4:6]}-{stem[6:]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def weekly(weekly_runs):
    return weekly_runs[0]


def test_the_first_weekly_run_builds_everything_and_the_next_only_what_the_esap_exports_change(weekly_runs):
    dsn, first, second, last_export = weekly_runs
    assert "dbt build (whole project)" in first and "relations not built yet" in first
    assert "dbt build --selector weekly_monitoring" in second and "(whole project)" not in second
    with psycopg.connect(dsn) as conn:
        newest = conn.execute("select max(last_export_date)::text from marts.fct_technical_assistance").fetchone()[0]
        assert newest == last_export  # the narrowed build published the export the first run did not see
        # Views between the ESAP sources and the marts are rebuilt, none left dropped by a cascade.
        for view in ("intermediate.int_assistances__state_history", "intermediate.int_assistances__latest",
                     "restricted.int_team_members__resolved"):
            assert conn.execute("select to_regclass(%s)", (view,)).fetchone()[0] is not None, view


def rows(conn, query, params=()):
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def people(small_sample):
    """(documents, names) of the original, unpseudonymised sample exports."""
    docs, names = set(), set()
    for path in (small_sample / "esap").glob("equipos_*.csv"):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh, delimiter=";"):
                docs.add(r["Documento"])
                names.add(r["Nombre"])
    return docs, names


def test_weekly_path_publishes_the_monitoring_marts_through_the_gate(weekly):
    with psycopg.connect(weekly) as conn:
        for table in ("mart_directorate_playlist", "mart_coverage", "dim_team", "mart_team_inclusion"):
            query = sql.SQL("select count(*) from {}").format(sql.Identifier("marts", table))
            assert conn.execute(query).fetchone()[0] > 0, table
        suites = {r[0] for r in conn.execute("select distinct suite from meta.gate_result where success")}
        assert {"marts_dim_team", "marts_dim_team_differences", "marts_mart_coverage",
                "marts_mart_directorate_playlist", "marts_mart_team_inclusion", "raw_esap_equipos"} <= suites
        years = conn.execute("select count(distinct year) from marts.mart_directorate_playlist").fetchone()[0]
        assert conn.execute("select count(*) from marts.mart_directorate_playlist").fetchone()[0] == 16 * years
        assert conn.execute("select to_regclass('raw.esap_equipos')").fetchone()[0] is None


def test_playlist_matches_a_recount_from_the_facts(weekly):
    with psycopg.connect(weekly) as conn:
        facts = rows(conn, "select * from marts.fct_technical_assistance")
        playlist = {(r["year"], r["directorate_id"]): r for r in rows(conn, "select * from marts.mart_directorate_playlist")}
    counts = defaultdict(lambda: defaultdict(int))
    for f in facts:
        c = counts[(f["goal_year"], f["directorate_id"])]
        c["delivered"] += f["status"] == "Entregada"
        c["cancelled"] += f["status"] == "Cancelada"
        c["in_progress"] += f["status"] not in ("Entregada", "Cancelada")
        c["on_time"] += bool(f["status"] == "Entregada" and f["delivered_date"] <= f["due_date"])
    assert set(counts) <= set(playlist)
    for key, row in playlist.items():
        c = counts.get(key, defaultdict(int))
        assert (row["delivered"], row["in_progress"], row["cancelled"], row["delivered_on_time"]) == (
            c["delivered"], c["in_progress"], c["cancelled"], c["on_time"]), key
        if c["delivered"]:
            assert abs(float(row["on_time_rate"]) - c["on_time"] / c["delivered"]) < 1e-4, key
        else:
            assert row["on_time_rate"] is None
    assert sum(r["delivered"] for r in playlist.values()) == sum(f["status"] == "Entregada" for f in facts) > 0
    for year in {k[0] for k in playlist}:
        ranked = sorted((r for r in playlist.values() if r["year"] == year), key=lambda r: r["rank"])
        assert [r["rank"] for r in ranked] == list(range(1, 17))
        assert all(a["points"] >= b["points"] for a, b in zip(ranked, ranked[1:], strict=False))


def test_coverage_matches_a_recount_from_the_facts(weekly):
    with psycopg.connect(weekly) as conn:
        facts = rows(conn, "select goal_year, municipality_id, directorate_id, thematic_line_id, status "
                           "from marts.fct_technical_assistance")
        munis = {r["municipality_id"]: r for r in rows(conn, "select * from marts.dim_municipality")}
        coverage = {(r["year"], r["scope"], r["scope_id"]): r for r in rows(conn, "select * from marts.mart_coverage")}
    reached = defaultdict(set)
    for f in facts:
        if f["status"] == "Cancelada":
            continue
        for scope, scope_id in (("national", "CO"), ("directorate", f["directorate_id"]),
                                ("thematic_line", f["thematic_line_id"])):
            reached[(f["goal_year"], scope, scope_id)].add(f["municipality_id"])
    universe = [m for m in munis.values() if m["entity_type"] in ("municipio", "isla")]
    assert set(reached) <= set(coverage)
    for key, row in coverage.items():
        got = reached.get(key, set())
        assert row["municipalities_reached"] == len(got), key
        assert row["departments_reached"] == len({munis[m]["department_id"] for m in got}), key
        assert row["pdet_reached"] == sum(munis[m]["is_pdet"] for m in got), key
        denominator = len(universe) if key[1] != "directorate" else sum(
            m["directorate_id"] == key[2] for m in universe)
        if denominator:
            assert abs(float(row["share_of_municipalities"]) - len(got) / denominator) < 1e-4, key
        in_scope = [m for m in universe if key[1] != "directorate" or m["directorate_id"] == key[2]]
        pdet = sum(m["is_pdet"] for m in in_scope)
        assert row["pdet_in_scope"] == pdet, key
        assert row["share_of_pdet"] is None if not pdet else abs(
            float(row["share_of_pdet"]) - row["pdet_reached"] / pdet) < 1e-4, key
        assert row["category_5_6_reached"] <= row["category_5_6_in_scope"] <= len(in_scope), key


def _true_sets(conn):
    """Per team: column → set of person keys, from the restricted rows (the test is superuser)."""
    members = rows(conn, "select * from restricted.int_team_members__resolved")
    predicates = {"members": lambda p: True, "professionals": lambda p: p["is_professional"],
                  "students": lambda p: p["is_student"]}
    predicates.update({f"group_{g}": (lambda p, g=g: p[f"is_{g}"]) for g in GROUPS})
    sets = defaultdict(lambda: defaultdict(set))
    for p in members:
        for column, pred in predicates.items():
            if pred(p):
                sets[p["team_id"]][column].add(p["person_key"])
    return predicates, sets


def test_no_published_count_of_people_under_5_even_as_a_difference(weekly):
    with psycopg.connect(weekly) as conn:
        predicates, sets = _true_sets(conn)
        count_columns = [r[0] for r in conn.execute(
            """select column_name from information_schema.columns where table_schema = 'marts'
               and table_name = 'dim_team' and data_type in ('integer', 'bigint', 'numeric')
               and column_name not in ('year', 'assistances') order by ordinal_position""")]
        teams = rows(conn, "select * from marts.dim_team where has_roster")
    # Generic: every count column of dim_team must be understood by this check.
    assert set(count_columns) == set(predicates), f"unchecked count columns: {set(count_columns) ^ set(predicates)}"
    # Structural inclusions (b ⊆ a for every person): the pairs whose difference is itself a count.
    everyone = [(t, c) for t in sets for c in sets[t]]
    assert everyone
    nested = [(a, b) for a, b in itertools.permutations(count_columns, 2)
              if all(sets[t][b] <= sets[t][a] for t in sets)]
    assert ("members", "students") in nested and ("professionals", "students") not in nested
    published = 0
    for team in teams:
        truth = sets[team["team_id"]]
        for c in count_columns:
            if team[c] is not None:
                published += 1
                assert team[c] == len(truth[c]) and team[c] >= 5, (team["team_id"], c)
        for a, b in nested:
            if team[a] is not None and team[b] is not None:
                assert len(truth[a] - truth[b]) >= 5, (team["team_id"], a, b)
    assert published > 0


def test_inclusion_suppression_cannot_be_undone_by_subtracting_from_the_national_figure(weekly):
    with psycopg.connect(weekly) as conn:
        pros = rows(conn, """select goal_year, directorate_id, count(distinct person_key) as n,
            count(distinct person_key) filter (where is_underrepresented) as u
            from restricted.int_team_members__resolved where is_professional group by 1, 2""")
        cells = {(r["year"], r["scope_id"]): r for r in rows(conn, "select * from marts.mart_team_inclusion")}
    truth = {(r["goal_year"], r["directorate_id"]): r for r in pros}
    for year in {k[0] for k in truth}:
        nat = cells[(year, "CO")]
        hidden = [truth[k] for k in truth if k[0] == year and cells[k]["is_suppressed"]]
        for k in truth:
            if k[0] == year and not cells[k]["is_suppressed"]:
                u, n = truth[k]["u"], truth[k]["n"]
                assert u >= 5 and n - u >= 5 and abs(float(cells[k]["share_underrepresented"]) - u / n) < 1e-4
        if hidden and not nat["is_suppressed"]:
            assert len(hidden) >= 2
            assert sum(h["u"] for h in hidden) >= 5 and sum(h["n"] - h["u"] for h in hidden) >= 5
    assert any(not c["is_suppressed"] for c in cells.values())


def test_no_published_table_report_or_landed_file_holds_a_document_or_a_name(weekly, small_sample):
    from sinfonia.report.monitoring import section

    docs, names = people(small_sample)
    assert len(docs) > 100 and len(names) > 50
    with psycopg.connect(weekly) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'")]
        published = "\n".join(json.dumps(r[0], ensure_ascii=False) for t in tables
                              for r in conn.execute(
                                  sql.SQL("select row_to_json(x) from {} x").format(sql.Identifier("marts", t))))
        restricted = "\n".join(json.dumps(r[0], ensure_ascii=False) for r in conn.execute(
            "select row_to_json(x) from restricted.esap_equipos x"))
        report = section(conn)
    landed = "\n".join(p.read_text(encoding="utf-8") for p in
                       (config.landing_dir() / "esap_equipos").rglob("*.csv"))
    assert "seudonimizado" in str(list((config.landing_dir() / "esap_equipos").rglob("*.csv")))
    tokens = set(re.findall(r"[0-9]{6,}|[^\W\d_]{3,}(?: [^\W\d_]{3,}){2}", published + report))
    for where, text in (("marts", published), ("report", report), ("restricted", restricted), ("landing", landed)):
        leaked = [d for d in docs if d in text] + [n for n in names if n in text]
        assert not leaked, f"{where} holds {leaked[:3]}"
    assert not (tokens & docs)


def test_person_level_rows_are_not_readable_by_the_analyst_role(weekly):
    with psycopg.connect(weekly, autocommit=True) as conn:
        conn.execute("""do $$ begin
            if not exists (select from pg_roles where rolname = 'sinfonia_analyst') then
                create role sinfonia_analyst nologin;
            end if; end $$""")
        # What the analyst role is meant to have (the production roles may grant it too): marts only.
        conn.execute("grant usage on schema marts to sinfonia_analyst")
        conn.execute("grant select on all tables in schema marts to sinfonia_analyst")
        relations = [r[0] for r in conn.execute(
            """select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'restricted'
               union all
               select format('%I.%I', schemaname, viewname) from pg_views where schemaname = 'restricted'""")]
        assert {"restricted.esap_equipos", "restricted.stg_esap__team_members",
                "restricted.int_team_members__resolved"} <= set(relations)
        for rel in relations:
            assert not conn.execute("select has_table_privilege('sinfonia_analyst', %s, 'select')", (rel,)).fetchone()[0]
        assert not conn.execute("select has_schema_privilege('sinfonia_analyst', 'restricted', 'usage')").fetchone()[0]
        conn.execute("set role sinfonia_analyst")
        assert conn.execute("select count(*) from marts.dim_team").fetchone()[0] > 0
        for rel in relations:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier(*rel.split("."))))
        conn.execute("reset role")


def test_report_section_renders_the_leaderboard_and_coverage_charts_in_spanish(weekly):
    from sinfonia.report.monitoring import section

    with psycopg.connect(weekly) as conn:
        html = section(conn)
        labels = [r[0] for r in conn.execute("select label_name from marts.dim_territorial_directorate")]
        year, leader = conn.execute("""select year, d.label_name from marts.mart_directorate_playlist p
            join marts.dim_territorial_directorate d using (directorate_id)
            where year = (select max(year) from marts.mart_directorate_playlist) and rank = 1""").fetchone()
    assert f"Tabla de posiciones de las disqueras, vigencia {year}" in html
    assert html.count("src=\"data:image/png;base64,") == 4 and '<img alt="" ' not in html  # every chart has alt text
    assert all(label in html for label in labels)
    first_row = html.split("<tbody><tr>", 1)[1].split("</tr>", 1)[0]
    assert first_row.startswith("<td class=num>1</td>") and leader in first_row
    assert "Cobertura" in html and "Inclusión en los equipos" in html

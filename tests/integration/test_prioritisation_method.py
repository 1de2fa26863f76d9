"""The prioritisation method (DESIGN.md §6) on small hand-made cases, in a fresh database.

The tables the dbt models read (the marts of §5 where dbt builds them, ``marts_build``; the
resolved goals; the seeds) are created here with a few hand-made rows, so each case of the method
can be checked on its own; ``prioritisation.run`` builds the dbt selector ``prioritisation``. The
cases that check the plain run for 2025 (or start from it) each get a private copy of one such run
(``prioritised``); the cases about running itself (weights, refusals, keep and force) run it.
"""

from datetime import date

import pandas as pd
import psycopg
import pytest

from sinfonia import prioritisation
from tests.conftest import dbname, throwaway_database
from tests.prioritisation_reference import INDICATORS, recompute

pytestmark = pytest.mark.integration

AS_OF = date(2025, 1, 15)
EARLY, LATE = date(2024, 10, 1), date(2025, 3, 1)  # published before / after the as-of date

# municipality_id, entity_type, directorate_id, is_pdet, category (year 2024)
MUNICIPALITIES = [
    ("00001", "municipio", "D1", False, "6"),
    ("00002", "municipio", "D1", False, "5"),   # identical indicators to 00001: a tie
    ("00003", "municipio", "D1", True, "3"),    # PDET but 3rd category: eligible
    ("00004", "municipio", "D1", False, "3"),   # 3rd category, not PDET: not eligible
    ("00005", "municipio", "D1", False, "6"),   # no IPM: a missing indicator
    ("00006", "municipio", "D2", False, "6"),   # MDM 2023 published after the as-of date
    ("00007", "municipio", "D2", False, "5"),
    ("00008", "area_no_municipalizada", "D2", False, None),  # outside the universe
    ("00009", "isla", "D2", False, "6"),
    ("00010", "municipio", "D1", False, "4"),   # 6th category only from 2026: not in force in 2025
    ("00011", "municipio", "D1", False, "6"),
]
# mdm, idf, imrc_exceso, imrc_deficit, ipm (year 2023 unless said otherwise)
VALUES = {
    "00001": (40.0, 55.0, 30.0, 50.0, 60.0),
    "00002": (40.0, 55.0, 30.0, 50.0, 60.0),
    "00003": (35.0, 50.0, 70.0, 20.0, 80.0),
    "00004": (20.0, 30.0, 90.0, 10.0, 90.0),
    "00005": (45.0, 60.0, 40.0, 45.0, None),
    "00006": (50.0, 65.0, 20.0, 25.0, 40.0),
    "00007": (30.0, 45.0, 60.0, 65.0, 70.0),
    "00008": (10.0, 10.0, 10.0, 10.0, 10.0),
    "00009": (55.0, 70.0, 15.0, 35.0, 30.0),
    "00010": (25.0, 35.0, 80.0, 30.0, 85.0),
    "00011": (60.0, 75.0, 10.0, 5.0, 20.0),
}
GOALS = [("D1", "L1", 1), ("D1", "L2", 1), ("D2", "L1", 10), ("D1", "L1", 99)]  # last is 2024


def build_inputs(dsn: str, weights=None) -> None:
    weights = weights or {i: 1 for i in INDICATORS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("""
            create schema marts_build; create schema intermediate; create schema seeds;
            create table marts_build.dim_municipality (municipality_id text primary key, municipality_name text,
                department_id text, department_name text, entity_type text, directorate_id text,
                is_pdet boolean, pdet_subregion text, category text, capacity_group text);
            create table marts_build.fct_municipal_indicator (municipality_id text, indicator text, year integer,
                value numeric, value_label text, methodology text, published_on date, source text);
            create table marts_build.dim_territorial_directorate (directorate_id text primary key,
                directorate_name text, label_name text);
            insert into marts_build.dim_territorial_directorate values ('D1', 'D1', 'D1'), ('D2', 'D2', 'D2');
            create table intermediate.int_goals__resolved (goal_year integer, directorate_id text,
                thematic_line_id text, goal integer);
            create table seeds.prioritisation_weights (indicator text, weight numeric);
            create table seeds.prioritisation_rules (rule text, value text);
            insert into seeds.prioritisation_rules values ('eligible_categories', '5,6'),
                ('pdet_eligible', 'true'), ('imrc_component', 'max'), ('default_as_of', '01-15');
        """)
        for m, etype, d, pdet, cat in MUNICIPALITIES:
            conn.execute("insert into marts_build.dim_municipality values (%s, %s, '99', 'Depto', %s, %s, %s, null, %s, null)",
                         (m, f"Municipio {m}", etype, d, pdet, cat))
            if cat:
                conn.execute("insert into marts_build.fct_municipal_indicator values (%s, 'category', 2024, null, %s, null, %s, 'CGN')",
                             (m, cat, date(2023, 10, 31)))
        conn.execute("insert into marts_build.fct_municipal_indicator values "
                     "('00010', 'category', 2026, null, '6', null, '2024-10-31', 'CGN')")
        codes = ("mdm", "idf", "imrc_exceso", "imrc_deficit", "ipm")
        for m, vals in VALUES.items():
            for code, v in zip(codes, vals, strict=False):
                if v is not None:
                    conn.execute("insert into marts_build.fct_municipal_indicator values (%s, %s, 2023, %s, null, null, %s, 'x')",
                                 (m, code, v, EARLY))
                    # an older year, always published: never used when a later one is available
                    conn.execute("insert into marts_build.fct_municipal_indicator values (%s, %s, 2021, %s, null, null, %s, 'x')",
                                 (m, code, 99.0 - v, date(2022, 10, 1)))
        conn.execute("update marts_build.fct_municipal_indicator set year = 2022 "
                     "where municipality_id = '00006' and indicator = 'mdm' and year = 2023")
        conn.execute("insert into marts_build.fct_municipal_indicator values ('00006', 'mdm', 2023, 5, null, null, %s, 'x')",
                     (LATE,))
        for d, line, g in GOALS:
            conn.execute("insert into intermediate.int_goals__resolved values (%s, %s, %s, %s)",
                         (2024 if g == 99 else 2025, d, line, g))
        for i, w in weights.items():
            conn.execute("insert into seeds.prioritisation_weights values (%s, %s)", (i, w))


def rows(dsn: str, year: int = 2025) -> dict[str, dict]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("select * from marts_build.mart_prioritisation where prioritisation_year = %s", (year,))
        names = [c.name for c in cur.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cur}


@pytest.fixture
def handmade(fresh_dsn):
    build_inputs(fresh_dsn)
    return fresh_dsn


@pytest.fixture(scope="module")
def _prioritised_2025(server_dsn):
    """The hand-made inputs run through ``prioritisation.run`` for 2025 once: (database, result)."""
    with throwaway_database(server_dsn, "prio_tpl") as dsn:
        build_inputs(dsn)
        yield dsn, prioritisation.run(dsn, 2025)


@pytest.fixture
def prioritised(server_dsn, _prioritised_2025):
    """A private copy of the hand-made inputs after the run for 2025 (the run's result beside it):
    for the cases that check that run, or start from it."""
    template, result = _prioritised_2025
    with throwaway_database(server_dsn, "prio", template=dbname(template)) as dsn:
        yield dsn, result


def test_universe_excludes_non_municipalised_areas_and_keeps_the_island(prioritised):
    handmade, _ = prioritised
    got = rows(handmade)
    assert "00008" not in got and "00009" in got and got["00009"]["is_eligible"]
    assert len(got) == 10


def test_ties_share_the_percentile_and_are_ranked_by_code(prioritised):
    handmade, _ = prioritised
    got = rows(handmade)
    a, b = got["00001"], got["00002"]
    for i in INDICATORS:
        assert a[f"{i}_percentile"] == b[f"{i}_percentile"]
    assert a["need_score"] == b["need_score"]
    assert b["national_rank"] == a["national_rank"] + 1 and b["directorate_rank"] == a["directorate_rank"] + 1


def test_a_missing_indicator_is_listed_and_the_score_averages_the_others(prioritised):
    handmade, _ = prioritised
    m = rows(handmade)["00005"]
    assert m["indicators_missing"] == "ipm" and m["ipm_percentile"] is None and m["ipm_contribution"] is None
    expected = sum(m[f"{i}_percentile"] for i in ("mdm", "idf", "imrc")) / 3
    assert m["need_score"] == pytest.approx(expected, abs=1e-9)
    assert sum(m[f"{i}_contribution"] for i in ("mdm", "idf", "imrc")) == pytest.approx(m["need_score"], abs=1e-9)
    assert rows(handmade)["00001"]["indicators_missing"] == ""


def test_pdet_in_third_category_is_eligible_and_third_category_alone_is_not(prioritised):
    handmade, _ = prioritised
    got = rows(handmade)
    assert got["00003"]["is_eligible"] and got["00003"]["eligibility_reason"] == "PDET"
    assert not got["00004"]["is_eligible"] and "categoría 3" in got["00004"]["eligibility_reason"]
    assert got["00004"]["need_score"] is None and got["00004"]["national_rank"] is None
    assert got["00004"]["mdm_value"] == 20.0  # values are shown, but not scored
    # the category in force is the latest certified year not after the prioritisation year
    assert not got["00010"]["is_eligible"] and got["00010"]["category"] == "4"
    assert rows_for_year(handmade, 2026)["00010"]["is_eligible"]


def rows_for_year(dsn, year):
    prioritisation.run(dsn, year, as_of_date=date(2025, 1, 15))
    return rows(dsn, year)


def test_an_indicator_published_after_the_as_of_date_is_not_used(prioritised):
    handmade, _ = prioritised
    assert rows(handmade)["00006"]["mdm_year"] == 2022 and rows(handmade)["00006"]["mdm_value"] == 50.0
    prioritisation.run(handmade, 2025, as_of_date=date(2025, 6, 1), force=True)
    assert rows(handmade)["00006"]["mdm_year"] == 2023 and rows(handmade)["00006"]["mdm_value"] == 5.0


def test_selection_stops_at_the_goal_and_takes_all_when_the_goal_exceeds_the_eligible(prioritised):
    handmade, result = prioritised
    got = rows(handmade)
    d1 = sorted((r for r in got.values() if r["directorate_id"] == "D1" and r["is_eligible"]),
                key=lambda r: r["directorate_rank"])
    assert [r["is_selected"] for r in d1] == [True, True] + [False] * (len(d1) - 2)
    assert all(r["directorate_goal"] == 2 for r in d1)  # the 2024 goal does not count
    d2 = [r for r in got.values() if r["directorate_id"] == "D2" and r["is_eligible"]]
    assert len(d2) == 3 and all(r["is_selected"] for r in d2) and d2[0]["directorate_goal"] == 10
    assert result.selected == 5 and result.eligible == 8


def test_imrc_is_the_larger_of_excess_and_deficit(prioritised):
    handmade, _ = prioritised
    got = rows(handmade)
    assert got["00001"]["imrc_value"] == 50.0 and got["00003"]["imrc_value"] == 70.0


def test_matches_an_independent_recomputation(prioritised):
    handmade, _ = prioritised
    assert_matches_reference(handmade, 2025, AS_OF)


def assert_matches_reference(dsn, year, as_of, weights=None):
    ref = recompute(dsn, year, as_of, weights)
    got = rows(dsn, year)
    assert set(got) == set(ref.index)
    for m, r in ref.iterrows():
        g = got[m]
        assert g["is_eligible"] == bool(r.is_eligible), m
        for col in ["need_score", *(f"{i}_{k}" for i in INDICATORS for k in ("value", "percentile", "contribution"))]:
            if pd.isna(r[col]):
                assert g[col] is None, (m, col)
            else:
                assert g[col] == pytest.approx(float(r[col]), abs=1e-6), (m, col)
        for col in ("national_rank", "directorate_rank", "tier"):
            assert g[col] == (None if pd.isna(r[col]) else int(r[col])), (m, col)
        assert g["is_selected"] == bool(r.is_selected), m
        assert g["indicators_missing"] == r.indicators_missing, m


def test_weights_come_from_the_seed(handmade):
    with psycopg.connect(handmade, autocommit=True) as conn:
        conn.execute("update seeds.prioritisation_weights set weight = case indicator when 'ipm' then 3 "
                     "when 'mdm' then 0 else 1 end")
    prioritisation.run(handmade, 2025)
    assert_matches_reference(handmade, 2025, AS_OF, {"mdm": 0, "idf": 1, "imrc": 1, "ipm": 3})
    with psycopg.connect(handmade) as conn:
        params = conn.execute("select parameters from meta.prioritisation_run").fetchone()[0]
    assert params["weights"] == {"mdm": 0.0, "idf": 1.0, "imrc": 1.0, "ipm": 3.0}


@pytest.mark.parametrize("update, message", [
    ("update seeds.prioritisation_weights set weight = -1 where indicator = 'idf'", "weight of idf is -1; "),
    ("update seeds.prioritisation_weights set weight = 0", "at least one weight must be positive"),
])
def test_invalid_weights_fail_the_run_with_a_clear_message(handmade, update, message):
    with psycopg.connect(handmade, autocommit=True) as conn:
        conn.execute(update)
    with pytest.raises(prioritisation.PrioritisationError, match=message):
        prioritisation.run(handmade, 2025)
    with psycopg.connect(handmade) as conn:
        assert conn.execute("select to_regclass('marts_build.mart_prioritisation')").fetchone()[0] is None
        assert conn.execute("select to_regclass('meta.prioritisation_run')").fetchone()[0] is None


def test_a_year_is_kept_unless_forced_and_a_forced_rerun_gives_identical_rows(handmade):
    first = prioritisation.run(handmade, 2025)
    before = rows(handmade)
    with psycopg.connect(handmade, autocommit=True) as conn:  # new data arrives later
        conn.execute("update marts_build.fct_municipal_indicator set value = value + 1 where indicator = 'ipm'")
    kept = prioritisation.run(handmade, 2025)
    assert kept.status == "kept" and kept.inputs_changed and rows(handmade) == before
    with psycopg.connect(handmade, autocommit=True) as conn:
        conn.execute("update marts_build.fct_municipal_indicator set value = value - 1 where indicator = 'ipm'")
    again = prioritisation.run(handmade, 2025, force=True)
    assert again.status == "written" and rows(handmade) == before
    with psycopg.connect(handmade) as conn:
        runs = conn.execute("select status, forced, rows, input_versions from meta.prioritisation_run "
                            "order by run_id").fetchall()
    assert [(s, f, n) for s, f, n, _ in runs] == [("written", False, 10), ("kept", False, 10), ("written", True, 10)]
    versions = runs[0][3]
    assert versions["indicators"]["mdm"]["max_published_on"] == str(EARLY)  # the late MDM is not an input
    assert versions["inputs_md5"] == runs[2][3]["inputs_md5"] != runs[1][3]["inputs_md5"]
    assert first.run_id < kept.run_id < again.run_id


def test_no_indicator_used_was_published_after_the_as_of_date(prioritised):
    handmade, _ = prioritised
    assert assert_no_late_inputs(handmade, 2025) > 30


def assert_no_late_inputs(dsn, year):
    with psycopg.connect(dsn) as conn:
        published = {(m, i, y): (p, v) for m, i, y, p, v in conn.execute(
            "select municipality_id, indicator, year, published_on, value::float8 from marts_build.fct_municipal_indicator")}
        used = conn.execute(
            "select municipality_id, as_of_date, mdm_year, idf_year, ipm_year, imrc_year, imrc_value, category_year "
            "from marts_build.mart_prioritisation where prioritisation_year = %s", (year,)).fetchall()
    checked = 0
    for m, as_of, mdm, idf, ipm, imrc, imrc_value, cat in used:
        for code, y in (("mdm", mdm), ("idf", idf), ("ipm", ipm), ("category", cat)):
            if y is not None:
                assert published[(m, code, y)][0] <= as_of, (m, code, y)
                checked += 1
        if imrc is not None:
            sources = [published.get((m, c, imrc)) for c in ("imrc_exceso", "imrc_deficit")]
            assert any(s and s[1] == imrc_value and s[0] <= as_of for s in sources), (m, imrc)
            checked += 1
    return checked


def test_an_indicator_published_on_the_as_of_date_is_used(handmade):
    """The boundary of the point in time (issue 22): published_on <= as_of_date, not <."""
    with psycopg.connect(handmade, autocommit=True) as conn:
        conn.execute("insert into marts_build.fct_municipal_indicator values "
                     "('00009', 'idf', 2024, 33, null, null, %s, 'x'), ('00009', 'ipm', 2024, 44, null, null, %s, 'x')",
                     (AS_OF, date(2025, 1, 16)))
    prioritisation.run(handmade, 2025)
    got = rows(handmade)["00009"]
    assert (got["idf_year"], got["idf_value"]) == (2024, 33.0)  # published on the as-of date: used
    assert (got["ipm_year"], got["ipm_value"]) == (2023, 30.0)  # published the day after: not used
    assert_matches_reference(handmade, 2025, AS_OF)


def test_the_checks_of_the_year_catch_broken_rows(prioritised):
    handmade, _ = prioritised
    from sinfonia import dbt

    with psycopg.connect(handmade, autocommit=True) as conn:
        conn.execute("update intermediate.int_prioritisation__candidate set national_rank = national_rank + 1 "
                     "where municipality_id = '00011'")
        conn.execute("update intermediate.int_prioritisation__candidate set is_selected = true "
                     "where directorate_id = 'D1'")
    result = dbt.run(["test", "--select", "int_prioritisation__candidate,test_type:data"], handmade, check=False)
    failed = {r.node.name for r in result.result if r.status == "fail"}
    assert not result.success
    assert any(name.startswith("ranks_are_contiguous") and "national_rank" in name for name in failed), failed
    assert {"candidate_prioritisation_selects_within_the_goal", "candidate_prioritisation_ranks_only_the_eligible"} <= failed

"""The certainty of the prioritised list, through the real prioritisation DAG on the small sample."""

from __future__ import annotations

import psycopg
import pytest
from openpyxl import load_workbook

from sinfonia import report
from tests.conftest import sample_run, sinfonia

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(server_dsn, small_sample, state_dir):
    with sample_run(server_dsn, small_sample, "certainty") as (dsn, _proc):
        yield dsn


def _certainty(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select municipality_id, published_rank, rank_median, rank_p05, rank_p95, selection_probability, "
            "is_uncertain, computed_at from marts.mart_prioritisation_certainty order by municipality_id").fetchall()


def test_every_eligible_municipality_has_its_certainty_and_the_same_published_rank_as_the_snapshot(warehouse):
    with psycopg.connect(warehouse) as conn:
        year = conn.execute("select max(prioritisation_year) from marts.mart_prioritisation").fetchone()[0]
        rows = conn.execute("""
            select p.municipality_id, p.national_rank, c.published_rank, c.selection_probability, c.is_uncertain,
                   p.is_selected, c.draws
            from marts.mart_prioritisation p
            left join marts.mart_prioritisation_certainty c using (prioritisation_year, municipality_id)
            where p.prioritisation_year = %s and p.is_eligible""", (year,)).fetchall()
        orphans = conn.execute("""select count(*) from marts.mart_prioritisation_certainty c
            where not exists (select 1 from marts.mart_prioritisation p where p.is_eligible
              and (p.prioritisation_year, p.municipality_id) = (c.prioritisation_year, c.municipality_id))""").fetchone()[0]
    assert rows and orphans == 0
    # the Monte Carlo's unperturbed list is the snapshot's (Python and dbt compute §6 alike)
    assert [r[1] for r in rows] == [r[2] for r in rows]
    for _code, _rank, _pub, probability, uncertain, _selected, draws in rows:
        assert 0 <= probability <= 1 and uncertain == (0.2 <= probability <= 0.8) and draws == 1000
    # near certainty for most: the sample's list is not a coin toss
    assert sum(1 for r in rows if r[4]) < len(rows) / 2


def test_the_report_and_workbook_show_how_many_selections_are_uncertain(warehouse, tmp_path):
    uncertain = sum(1 for r in _certainty(warehouse) if r[6])
    written = report.build(warehouse, tmp_path, progress=lambda *_: None)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f"{uncertain} municipios elegibles tienen una selección incierta" in page
    xlsx = next(p for p in written if p.suffix == ".xlsx")
    sheet = load_workbook(xlsx)["Nacional"]
    header = next(r for r in sheet.iter_rows(values_only=True) if r and "Probabilidad de selección (simulación)" in r)
    col = header.index("Selección incierta (probabilidad entre 20 % y 80 %)")
    flagged = [r[col] for r in sheet.iter_rows(values_only=True) if r and r[col] in ("Sí", "No")]
    assert flagged.count("Sí") == uncertain


def test_a_year_kept_keeps_its_certainty_and_a_forced_year_recomputes_it_identically(warehouse):
    with psycopg.connect(warehouse) as conn:
        year = conn.execute("select max(prioritisation_year) from marts.mart_prioritisation").fetchone()[0]
    before = _certainty(warehouse)
    sinfonia("prioritise", "--year", str(year), env={"WAREHOUSE_DSN": warehouse})
    assert _certainty(warehouse) == before  # kept: not even recomputed (same computed_at)
    sinfonia("prioritise", "--year", str(year), "--force", env={"WAREHOUSE_DSN": warehouse})
    after = _certainty(warehouse)
    assert [r[:7] for r in after] == [r[:7] for r in before]  # the seed makes it repeatable
    assert after[0][7] > before[0][7]

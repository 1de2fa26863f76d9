"""The characterisation sheets (``sinfonia ficha``) on the small sample's full refresh."""

from __future__ import annotations

import html
import re
import subprocess

import psycopg
import pytest
from psycopg import sql

from sinfonia.report import ficha, printer
from sinfonia.report.spanish import number, place_name
from tests.conftest import sample_run, sinfonia

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(server_dsn, small_sample, state_dir):
    with sample_run(server_dsn, small_sample, "ficha") as (dsn, _proc):
        yield dsn


def _profile(dsn, where: str = "true", params=()) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        query = sql.SQL("select * from marts.mart_municipality_profile where {}").format(sql.SQL(where))
        cur = conn.execute(query, params)
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_the_profile_mart_has_one_row_per_municipality_of_each_snapshot(warehouse):
    with psycopg.connect(warehouse) as conn:
        snapshot = conn.execute("select count(*) from marts.mart_prioritisation").fetchone()[0]
        profile = conn.execute("select count(*) from marts.mart_municipality_profile").fetchone()[0]
        # recount of the assistance history from the facts, for every municipality of the latest year
        mismatches = conn.execute("""
            select count(*) from marts.mart_municipality_profile p
            left join (select municipality_id, count(*) as n from marts.fct_technical_assistance f
                       where f.goal_year <= (select max(prioritisation_year) from marts.mart_prioritisation)
                       group by 1) f using (municipality_id)
            where p.prioritisation_year = (select max(prioritisation_year) from marts.mart_prioritisation)
              and p.assistances_total <> coalesce(f.n, 0)""").fetchone()[0]
    assert snapshot > 0 and profile == snapshot
    assert mismatches == 0


def test_suggestions_carry_the_values_that_triggered_them(warehouse):
    rows = _profile(warehouse, "jsonb_array_length(suggestions) > 0")
    assert rows, "the sample should trigger at least one suggestion"
    for row in rows[:50]:
        for s in row["suggestions"]:
            assert row[f"{s['indicator']}_value"] == pytest.approx(s["value"], abs=1e-4)
            assert s["peer_percentile"] is not None and s["reason"]
        assert row["suggested_line_ids"]



def test_suggestions_from_the_mdm_dimensions_and_their_values_on_the_sheet(warehouse):
    """The sample's DNP workbooks (2021 on) publish the dimensions: every municipality of the latest
    year has them, the rules on movilización, gobierno abierto and ordenamiento fire, and the sheet
    shows each dimension with the mart's value."""
    rows = _profile(warehouse, "prioritisation_year = (select max(prioritisation_year) "
                               "from marts.mart_municipality_profile)")
    dimensions = [c for c in ficha.INDICATORS if c.startswith("mdm_") and c not in ("mdm_gestion", "mdm_resultados")]
    assert len(dimensions) == 8
    assert rows and all(r[f"{c}_value"] is not None and r[f"{c}_year"] >= 2021 for r in rows for c in dimensions)
    fired = {s["rule_id"] for r in rows for s in r["suggestions"]}
    assert {"movilizacion_baja", "gobierno_abierto_bajo", "ordenamiento_bajo"} <= fired
    row = rows[0]
    with psycopg.connect(warehouse) as conn:
        page = ficha.sheet_html(conn, row, sample=True)
    for code in dimensions:
        label, _ = ficha.INDICATORS[code]
        assert label in page and number(row[f"{code}_value"], 2) in page


def test_directorate_sheets_show_the_marts_numbers_with_every_chart_in_the_pdf(warehouse, tmp_path):
    with psycopg.connect(warehouse) as conn:
        year, directorate = conn.execute(
            "select prioritisation_year, directorate_id from marts.mart_municipality_profile where is_selected "
            "group by 1, 2 order by 1 desc, count(*) desc limit 1").fetchone()
    selected = _profile(warehouse, "prioritisation_year = %s and directorate_id = %s and is_selected",
                        (year, directorate))
    proc = sinfonia("ficha", "--directorate", directorate, "--out", str(tmp_path), env={"WAREHOUSE_DSN": warehouse})
    assert f"{len(selected)} sheet(s) for {year}" in proc.stdout
    pages = sorted(p for p in tmp_path.glob("ficha_*.html"))
    assert [p.name for p in pages] == sorted(f"ficha_{r['municipality_id']}_{year}.html" for r in selected)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    for row in selected:
        page = (tmp_path / f"ficha_{row['municipality_id']}_{year}.html").read_text(encoding="utf-8")
        assert number(row["need_score"], 2) in page
        assert f"puesto nacional {number(row['national_rank'])}" in page
        assert "DATOS SINTÉTICOS DE MUESTRA" in page
        for code in ("mdm", "idf", "ipm"):
            if row[f"{code}_value"] is not None:
                assert number(row[f"{code}_value"], 2) in page
        assert f"{number(row['assistances_total'])} asistencias registradas" in page or not row["assistances_total"]
        assert row["municipality_id"] in index
        charts = len(re.findall(r"<img alt=", page))
        assert charts >= 1
        if printer.chromium():
            pdf = (tmp_path / f"ficha_{row['municipality_id']}_{year}.pdf").read_bytes()
            assert pdf.startswith(b"%PDF")
            assert len(re.findall(rb"/Subtype\s*/Image", pdf)) >= charts


def test_a_sheet_renders_in_headless_chromium(warehouse, tmp_path):
    browser = printer.chromium()
    if not browser:
        pytest.skip("Chromium is not installed (make test installs it as root with apt)")
    code = _profile(warehouse, "is_selected limit 1")[0]["municipality_id"]
    ficha.build(warehouse, tmp_path, municipality=code, pdf=False, progress=lambda *_: None)
    page = next(tmp_path.glob(f"ficha_{code}_*.html"))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400",
                    f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True, timeout=180, check=True)
    from PIL import Image

    image = Image.open(shot).convert("L")
    colours = image.getcolors(maxcolors=1_000_000)
    assert image.size == (1200, 2400)
    assert colours is not None and len(colours) > 50, "the screenshot is blank or nearly so"


@pytest.mark.parametrize("kwargs, message", [
    ({"municipality": "99999"}, "not in the"),
    ({"directorate": "XYZ"}, "expected one of"),
    ({"municipality": "05001", "directorate": "ANT"}, "either"),
    ({"municipality": "05001", "year": 1990}, "no sheet for 1990"),
])
def test_wrong_requests_get_a_clear_error(warehouse, tmp_path, kwargs, message):
    with pytest.raises(ficha.FichaError, match=message):
        ficha.build(warehouse, tmp_path, pdf=False, progress=lambda *_: None, **kwargs)


def test_a_request_that_cannot_be_served_is_answered_before_any_browser_starts(warehouse, tmp_path, monkeypatch):
    started = tmp_path / "started"
    fake = tmp_path / "chromium"  # a browser that would leave a mark and fail
    fake.write_text(f"#!/bin/sh\ntouch {started}\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setattr(ficha, "chromium", lambda: str(fake))
    with pytest.raises(ficha.FichaError, match="not in the"):
        ficha.build(warehouse, tmp_path / "out", municipality="99999", progress=lambda *_: None)
    assert not started.exists()
    with pytest.raises(printer.PrintError, match="Chromium stopped"):  # a servable one meets the broken browser
        ficha.build(warehouse, tmp_path / "out", municipality="05001", progress=lambda *_: None)
    assert started.exists()


def test_a_directorate_batch_writes_every_sheet_it_can_and_names_the_one_it_could_not(warehouse, tmp_path,
                                                                                      monkeypatch):
    """Issue 34: a `$…$` in a municipality's name (matplotlib's mathtext) is drawn as written, and
    one sheet that cannot be written does not stop the batch."""
    with psycopg.connect(warehouse) as conn:
        year, directorate = conn.execute(
            "select prioritisation_year, directorate_id from marts.mart_municipality_profile where is_selected "
            "group by 1, 2 having count(*) >= 3 order by 1 desc, count(*) desc limit 1").fetchone()
    selected = _profile(warehouse, "prioritisation_year = %s and directorate_id = %s and is_selected "
                        "order by municipality_id", (year, directorate))
    named, broken = selected[0]["municipality_id"], selected[1]["municipality_id"]
    with psycopg.connect(warehouse) as conn:
        original = conn.execute("select municipality_name from marts.mart_municipality_profile "
                                "where municipality_id = %s and prioritisation_year = %s", (named, year)).fetchone()[0]
        conn.execute("update marts.mart_municipality_profile set municipality_name = %s "
                     "where municipality_id = %s and prioritisation_year = %s", ("San $\\frac{$ José", named, year))
    real_trends = ficha.trends

    def trends(conn, row):
        if row["municipality_id"] == broken:
            raise RuntimeError("a sheet that cannot be drawn")
        return real_trends(conn, row)

    monkeypatch.setattr(ficha, "trends", trends)
    lines = []
    try:
        with pytest.raises(ficha.FichaError, match=rf"1 of {len(selected)} sheet\(s\) not written .*{broken}"):
            ficha.build(warehouse, tmp_path, directorate=directorate, pdf=False, progress=lines.append)
    finally:
        with psycopg.connect(warehouse) as conn:
            conn.execute("update marts.mart_municipality_profile set municipality_name = %s "
                         "where municipality_id = %s and prioritisation_year = %s", (original, named, year))
    written = sorted(p.name for p in tmp_path.glob("ficha_*.html"))
    assert written == sorted(f"ficha_{r['municipality_id']}_{year}.html" for r in selected if r["municipality_id"] != broken)
    page = (tmp_path / f"ficha_{named}_{year}.html").read_text(encoding="utf-8")
    assert html.escape(place_name("San $\\frac{$ José")) in page and len(re.findall(r"<img alt=", page)) >= 1
    assert any(broken in line and "NOT WRITTEN" in line for line in lines)
    assert broken not in (tmp_path / "index.html").read_text(encoding="utf-8")

"""The maps of the report and of the characterisation sheets (issue 33), on the small sample's full
refresh: coordinates in dim_municipality, every map drawn in headless Chromium and in the sheet's
PDF with one mark per municipality with coordinates, legends that count what the marts count, and
a municipality without coordinates named under the map."""

from __future__ import annotations

import html
import json
import re
import subprocess
import zlib
from pathlib import Path

import psycopg
import pytest

from sinfonia import report
from sinfonia.report import ficha, printer, territory
from tests.conftest import sample_run

pytestmark = pytest.mark.integration

# Appended to a copy of the page (the test's instrument, not the page's: the maps need no script):
# what the browser lays out for each map.
PROBE = """<script>window.addEventListener('load', () => {
  const maps = [...document.querySelectorAll('figure.mapa')].map(f => {
    const svg = f.querySelector('svg'); const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('.marca')];
    return {id: f.id, width: box.width, height: box.height,
            shown: marks.filter(m => { const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0
                     && r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1
                     && r.bottom <= box.bottom + 1; }).length,
            fills: [...new Set(marks.map(m => getComputedStyle(m).fill))].length,
            legend: Object.fromEntries([...f.querySelectorAll('.leyenda li[data-group]')]
                                       .map(li => [li.dataset.group, +li.dataset.count])),
            unplaced: (f.querySelector('.sin-ubicacion') || {}).textContent || ''};
  });
  const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(maps);
  document.body.appendChild(out);
});</script>"""


@pytest.fixture(scope="module")
def _built(server_dsn, small_sample, state_dir):
    with sample_run(server_dsn, small_sample, "maps") as (dsn, _proc):
        yield dsn


@pytest.fixture
def warehouse(_built):
    """The sample warehouse with one selected municipality's coordinates removed (as an edition
    without them would leave it): (dsn, that municipality's code)."""
    with psycopg.connect(_built, autocommit=True) as conn:
        code = conn.execute("select municipality_id from marts.mart_prioritisation where is_selected "
                            "order by prioritisation_year desc, municipality_id limit 1").fetchone()[0]
        saved = conn.execute("select latitude, longitude, coordinates_edition from marts.dim_municipality "
                             "where municipality_id = %s", (code,)).fetchone()
        conn.execute("update marts.dim_municipality set latitude = null, longitude = null, "
                     "coordinates_edition = null where municipality_id = %s", (code,))
    yield _built, code
    with psycopg.connect(_built, autocommit=True) as conn:  # the copy is shared by this module's tests
        conn.execute("update marts.dim_municipality set latitude = %s, longitude = %s, coordinates_edition = %s "
                     "where municipality_id = %s", (*saved, code))


def _probe(page: Path, profile: Path) -> dict[str, dict]:
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    browser = printer.chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (make test installs it as root with apt)")
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page did not finish loading in Chromium: {proc.stderr[-1500:]}"
    return {m["id"]: m for m in json.loads(html.unescape(found.group(1)))}


def _one(dsn, query, params=()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_dim_municipality_has_the_sample_coordinates_and_their_edition(_built):
    [(entities, located, editions, lat_min, lat_max, lon_min, lon_max)] = _one(_built, """
        select count(*), count(latitude), array_agg(distinct coordinates_edition), min(latitude), max(latitude),
               min(longitude), max(longitude) from marts.dim_municipality""")
    assert located == entities > 100
    assert editions == ["current"]  # the sample's Socrata pages: the undated copy of the day
    assert -4.3 <= lat_min < lat_max <= 16.0 and -82.0 <= lon_min < lon_max <= -66.8
    # the raw layer keeps the text as published, decimal comma included; staging cast it
    [(raw,)] = _one(_built, "select latitude from raw.divipola where municipality_code = '05001'")
    [(cast,)] = _one(_built, "select latitude from marts.dim_municipality where municipality_id = '05001'")
    assert "," in raw and float(raw.replace(",", ".")) == float(cast)


def test_report_maps_are_drawn_in_chromium_with_the_marts_counts(warehouse, tmp_path):
    dsn, missing = warehouse
    report.build(dsn, tmp_path, progress=lambda m: None)
    page = tmp_path / "index.html"
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "DATOS SINTÉTICOS DE MUESTRA</text>" in text  # banner inside each map
    seen = _probe(page, tmp_path / "profile")
    assert {"mapa-lista", "mapa-quintil", "mapa-cobertura", "mapa-pendientes"} <= set(seen)
    [(year,)] = _one(dsn, "select max(prioritisation_year) filter (where directorate_goal > 0) "
                          "from marts.mart_prioritisation")
    [(listed, located, selected, eligible, uncertain)] = _one(dsn, """
        select count(*), count(d.latitude), count(*) filter (where p.is_selected),
               count(*) filter (where p.is_eligible and not p.is_selected),
               count(*) filter (where p.is_selected and c.is_uncertain)
        from marts.mart_prioritisation p join marts.dim_municipality d using (municipality_id)
        left join marts.mart_prioritisation_certainty c using (prioritisation_year, municipality_id)
        where p.prioritisation_year = %s""", (year,))
    for map_id in ("mapa-lista", "mapa-quintil"):
        drawn = seen[map_id]
        assert drawn["width"] > 200 and drawn["height"] > 200, drawn  # laid out, not collapsed
        assert drawn["shown"] == located == listed - 1, (map_id, drawn["shown"], located)
        assert f"({missing})" in drawn["unplaced"], drawn["unplaced"]  # listed under the map, not dropped
    assert seen["mapa-lista"]["legend"] == {"no_elegible": listed - selected - eligible, "elegible": eligible,
                                            "seleccionado": selected, "anillo": uncertain}
    assert seen["mapa-lista"]["fills"] == 3
    tiers = dict(_one(dsn, "select coalesce('q' || tier, 'sin_quintil'), count(*) from marts.mart_prioritisation "
                           "where prioritisation_year = %s group by 1", (year,)))
    assert {k: v for k, v in seen["mapa-quintil"]["legend"].items() if v} == tiers

    shown_year = _coverage_year(dsn, year)
    reached = dict(_one(dsn, "select scope_id, municipalities_reached from marts.mart_coverage "
                             "where scope = 'directorate' and year = %s", (shown_year,)))
    legend = seen["mapa-cobertura"]["legend"]
    assert {k: v for k, v in legend.items() if k != "no_alcanzado" and v} == {k: v for k, v in reached.items() if v}
    [(national,)] = _one(dsn, "select municipalities_reached from marts.mart_coverage where scope = 'national' "
                              "and year = %s", (shown_year,))
    assert sum(v for k, v in legend.items() if k != "no_alcanzado") == national
    [(open_municipalities,)] = _one(dsn, "select count(distinct municipality_id) from marts.mart_open_work "
                                         "where is_latest_week")
    assert sum(seen["mapa-pendientes"]["legend"].values()) == open_municipalities
    [(overdue,)] = _one(dsn, "select count(distinct municipality_id) from marts.mart_open_work "
                             "where is_latest_week and flag = 'overdue'")
    assert seen["mapa-pendientes"]["legend"]["overdue"] == overdue


def _coverage_year(dsn, year):
    with psycopg.connect(dsn) as conn:
        return territory.coverage_year(conn, year)


def _fills(pdf: bytes) -> dict[tuple[float, float, float], int]:
    """Painted areas per fill colour in a PDF's content streams (Chromium writes them deflated)."""
    counts: dict[tuple[float, float, float], int] = {}
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:
            continue  # fonts and images
        # numbers only before "rg": a pattern of any non-blank runs backtracks for minutes on the long
        # hexadecimal text strings of the sheet's tables
        colour = None
        for rg, _paint in re.findall(r"(?:^|(?<=\s))([\d.]+ [\d.]+ [\d.]+) rg\b|^(f\*?|B\*?|b\*?)$",
                                    content, re.M):
            if rg:
                colour = tuple(float(x) for x in rg.split())
            elif colour is not None:
                counts[colour] = counts.get(colour, 0) + 1
    return counts


def _painted(counts, hex_colour: str) -> int:
    rgb = tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return sum(n for c, n in counts.items() if all(abs(a - b) < 0.002 for a, b in zip(c, rgb, strict=True)))


def test_each_sheet_pdf_draws_its_directorate_with_its_peers(warehouse, tmp_path):
    dsn, missing = warehouse
    if printer.chromium() is None:
        pytest.skip("Chromium is not installed (make test installs it as root with apt)")
    [(year, code, directorate, group)] = _one(dsn, """
        select prioritisation_year, municipality_id, directorate_id, capacity_group from marts.mart_municipality_profile
        where is_selected and municipality_id <> %s and capacity_group is not null
        order by prioritisation_year desc, municipality_id limit 1""", (missing,))
    ficha.build(dsn, tmp_path, municipality=code, year=year, progress=lambda *_: None)
    [(others, peers, located_others, located_peers)] = _one(dsn, """
        select count(*) filter (where capacity_group is distinct from %(g)s and municipality_id <> %(c)s),
               count(*) filter (where capacity_group = %(g)s and municipality_id <> %(c)s),
               count(latitude) filter (where capacity_group is distinct from %(g)s and municipality_id <> %(c)s),
               count(latitude) filter (where capacity_group = %(g)s and municipality_id <> %(c)s)
        from marts.dim_municipality where directorate_id = %(d)s and entity_type <> 'area_no_municipalizada'""",
                                                             {"g": group, "c": code, "d": directorate})
    page = (tmp_path / f"ficha_{code}_{year}.html").read_text(encoding="utf-8")
    legend = {k: int(v) for k, v in re.findall(r'<li data-group="(\w+)" data-count="(\d+)"', page)}
    assert legend == {"otros": others, "pares": peers, "este": 1}
    assert len(re.findall(r'class="marca"', page)) == located_others + located_peers + 1
    counts = _fills((tmp_path / f"ficha_{code}_{year}.pdf").read_bytes())
    colours = territory.SHEET_COLOURS
    # one painted mark per municipality with coordinates, plus the legend's swatch of its group
    assert _painted(counts, colours["este"]) == 1 + 1
    assert _painted(counts, colours["pares"]) == located_peers + 1
    assert _painted(counts, colours["otros"]) == located_others + 1
    assert sum(counts.values()) > located_others + located_peers  # the map is drawn, not blank


def test_a_sheet_of_a_municipality_without_coordinates_names_it_under_its_map(warehouse, tmp_path):
    dsn, missing = warehouse
    [(year,)] = _one(dsn, "select max(prioritisation_year) from marts.mart_municipality_profile "
                          "where municipality_id = %s", (missing,))
    ficha.build(dsn, tmp_path, municipality=missing, year=year, pdf=False, progress=lambda *_: None)
    page = (tmp_path / f"ficha_{missing}_{year}.html").read_text(encoding="utf-8")
    assert re.search(r'<p class="sin-ubicacion" data-count="1">.*\(' + missing + r"\)", page)
    assert f'data-code="{missing}"' not in page  # no mark at a made-up place

"""The report for the planning office: HTML rendered in headless Chromium, the XLSX list."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import psycopg
import pytest

from sinfonia import prioritisation, report
from sinfonia.bootstrap import bootstrap
from sinfonia.sample import SAMPLE_ORIGIN_PREFIX
from tests.conftest import dbname, throwaway_database
from tests.integration.test_prioritisation_method import build_inputs

pytestmark = pytest.mark.integration

HEADINGS = ("Priorización anual 2025", "Puntaje de necesidad por dirección territorial",
            "Seleccionados frente a la meta", "Aporte de cada indicador en los primeros de la lista")
# Appended to a copy of the page: once everything has loaded, it writes what the browser sees.
PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                 shown: i.getBoundingClientRect().width}));
  const headings = [...document.querySelectorAll('h1, h2, h3')].map(h => h.textContent.trim());
  const numbers = [...document.querySelectorAll('td.num')].map(td => getComputedStyle(td).textAlign);
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify({images, headings, numbers}); document.body.appendChild(out);
});</script>"""


def mark_as_sample(dsn: str, sample: bool) -> None:
    bootstrap(dsn)
    origin = (SAMPLE_ORIGIN_PREFIX if sample else "") + "https://www.dnp.gov.co (IDF 2023)"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into meta.landed_file (sha256, source, file_name, origin, size_bytes, stored_path) "
                     "values ('abc', 'idf', 'x.xlsx', %s, 1, 'idf/abc/x.xlsx')", (origin,))
        conn.execute("insert into meta.load_run (source, period, files, started_at, status) "
                     "values ('idf', '2023', '{abc}', now(), 'loaded')")


@pytest.fixture(scope="module")
def _published_prioritisation(server_dsn):
    from sinfonia import publish

    with throwaway_database(server_dsn, "report_tpl") as dsn:
        build_inputs(dsn)
        bootstrap(dsn)  # meta.*, where the publication is recorded
        prioritisation.run(dsn, 2025)  # into marts_build, as dbt builds it
        publish.publish(dsn, "report-test")  # the report reads what analysts read: marts
        yield dsn


@pytest.fixture
def snapshot(server_dsn, _published_prioritisation):
    """A private copy of the hand-made inputs prioritised for 2025 and published (made once)."""
    with throwaway_database(server_dsn, "report", template=dbname(_published_prioritisation)) as dsn:
        yield dsn


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; `make test` installs it "
                "when running as root)")


def render_in_browser(page: Path, profile: Path) -> dict:
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page did not finish loading in Chromium: {proc.stderr[-1500:]}"
    import html

    return json.loads(html.unescape(found.group(1)))


def test_report_renders_in_a_browser_with_its_charts_visible(snapshot, tmp_path):
    mark_as_sample(snapshot, sample=True)
    written = report.build(snapshot, tmp_path / "informe", progress=lambda m: None)
    page = tmp_path / "informe" / "index.html"
    assert written[0] == page and page.exists()
    seen = render_in_browser(page, tmp_path / "chromium-profile")
    assert len(seen["images"]) >= 3
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0 and image["shown"] > 0, image
        assert len(image["alt"]) > 40, image["alt"]  # alt text that says what the chart shows
    assert seen["numbers"] and set(seen["numbers"]) == {"right"}
    for heading in HEADINGS:
        assert heading in seen["headings"], (heading, seen["headings"])
    assert "DATOS SINTÉTICOS DE MUESTRA" in page.read_text(encoding="utf-8")


def test_xlsx_has_a_national_sheet_then_one_per_directorate_in_rank_order_with_the_sample_banner(
        snapshot, tmp_path):
    mark_as_sample(snapshot, sample=True)
    report.build(snapshot, tmp_path, progress=lambda m: None)
    wb = openpyxl.load_workbook(tmp_path / "priorizacion_2025.xlsx")
    assert wb.sheetnames == ["Nacional", "D1", "D2"]
    for ws in wb.worksheets:
        assert ws["A1"].value.startswith("DATOS SINTÉTICOS DE MUESTRA")
    ws = wb["D1"]
    header = [c.value for c in ws[3]]
    data = [dict(zip(header, [c.value for c in row], strict=False)) for row in ws.iter_rows(min_row=4)]
    with psycopg.connect(snapshot) as conn:
        expected = conn.execute("select municipality_id, is_selected from marts.mart_prioritisation "
                                "where directorate_id = 'D1' order by directorate_rank nulls last, municipality_id").fetchall()
    assert [(r["Código DANE"], r["Seleccionado"] == "Sí") for r in data] == expected
    assert [r["Posición en la dirección"] for r in data if r["Elegible"] == "Sí"] == [1, 2, 3, 4, 5]


def test_real_data_carries_no_sample_banner(snapshot, tmp_path):
    mark_as_sample(snapshot, sample=False)
    report.build(snapshot, tmp_path, progress=lambda m: None)
    assert "DATOS SINTÉTICOS" not in (tmp_path / "index.html").read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(tmp_path / "priorizacion_2025.xlsx")
    assert all("SINTÉTICOS" not in str(ws["A1"].value) for ws in wb.worksheets)


def test_report_without_a_snapshot_says_how_to_make_one(fresh_dsn, tmp_path):
    messages = []
    written = report.build(fresh_dsn, tmp_path, progress=messages.append)
    assert written == [tmp_path / "index.html"]
    assert "sinfonia prioritise" in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert any("XLSX list was not written" in m for m in messages)


def rename(dsn: str, names: dict[str, tuple[str, str]]) -> None:
    """Give snapshot rows the names the warehouse would hold (initcap of DIVIPOLA's capitals)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for municipality_id, (municipality, department) in names.items():
            conn.execute("update marts.mart_prioritisation set municipality_name = %s, department_name = %s "
                         "where municipality_id = %s", (municipality, department, municipality_id))


def sheet_rows(ws, header_row: int = 2) -> list[dict]:
    header = [c.value for c in ws[header_row]]
    return [dict(zip(header, [c.value for c in row], strict=False)) for row in ws.iter_rows(min_row=header_row + 1)]


def test_top_table_lists_the_highest_need_first_in_national_rank_order(snapshot):
    """Issue 22: the HTML table of the top of the list, in the order of the mart's national rank."""
    from sinfonia.report import prioritisation as section_module

    with psycopg.connect(snapshot) as conn:
        page = section_module.section(conn)
        expected = conn.execute("select national_rank, municipality_id from marts.mart_prioritisation "
                                "where prioritisation_year = 2025 and national_rank is not null "
                                "order by national_rank limit %s", (section_module.TOP,)).fetchall()
    table = page.split('<table class="top-necesidad">', 1)[1].split("</table>", 1)[0]
    ranks = [int(r) for r in re.findall(r"<tr><td class=num>(\d+)</td>", table)]
    names = re.findall(r"<tr><td class=num>\d+</td><td>([^<]*)</td>", table)
    assert len(expected) >= 5
    assert ranks == [rank for rank, _ in expected]  # 1, 2, 3, ...: highest need first
    assert names == [f"Municipio {m}" for _, m in expected]


def test_names_are_cased_as_spanish_writes_them_in_the_page_and_the_workbook(snapshot, tmp_path):
    rename(snapshot, {"00001": ("San Pedro De Los Milagros", "Valle Del Cauca"),
                      "00002": ("Providencia", "Archipiélago De San Andrés, Providencia Y Santa Catalina"),
                      "00003": ("Bogotá, D.C.", "Bogotá, D.C.")})
    report.build(snapshot, tmp_path, progress=lambda m: None)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Valle del Cauca" in page and "Valle Del Cauca" not in page
    assert "Archipiélago de San Andrés, Providencia y Santa Catalina" in page
    wb = openpyxl.load_workbook(tmp_path / "priorizacion_2025.xlsx")
    rows = {r["Código DANE"]: r for r in sheet_rows(wb["Nacional"])}
    assert (rows["00001"]["Municipio"], rows["00001"]["Departamento"]) == ("San Pedro de los Milagros",
                                                                           "Valle del Cauca")
    assert rows["00002"]["Departamento"] == "Archipiélago de San Andrés, Providencia y Santa Catalina"
    assert rows["00003"]["Municipio"] == "Bogotá, D.C."


def test_page_numbers_are_in_colombian_format_and_directorate_codes_are_explained(snapshot, tmp_path):
    with psycopg.connect(snapshot, autocommit=True) as conn:
        conn.execute("update marts.mart_prioritisation set need_score = 1234.56 where municipality_id = '00007'")
        conn.execute("create table if not exists marts.dim_territorial_directorate (directorate_id text, "
                     "directorate_name text, label_name text)")
        conn.execute("delete from marts.dim_territorial_directorate")
        conn.execute("insert into marts.dim_territorial_directorate (directorate_id, directorate_name, label_name) values "
                     "('D1', 'Dirección Territorial Uno', 'Disquera Uno'), ('D2', 'Dirección Territorial Dos', "
                     "'Disquera Dos')")
    report.build(snapshot, tmp_path, progress=lambda m: None)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    table = page.split('<table class="top-necesidad">', 1)[1].split("</table>", 1)[0]
    scores = re.findall(r"<td class=num>([^<]*)</td><td class=num>[^<]*</td><td>(?:Sí|No)</td>", table)
    assert "1.234,6" in scores  # thousands point, decimal comma
    assert all(re.fullmatch(r"\d{1,3}(\.\d{3})*,\d", s) for s in scores), scores
    assert not re.search(r"<td class=num>\d+\.\d</td>", page)  # no "98.1"
    assert "<strong>D1</strong>: Dirección Territorial Uno" in page
    assert '<abbr title="Dirección Territorial Dos">D2</abbr>' in page


def test_workbook_is_fit_to_hand_out_formats_widths_filters_and_numeric_categories(snapshot, tmp_path):
    rename(snapshot, {"00001": ("Villa De San Diego De Ubaté", "Archipiélago De San Andrés, Providencia Y Santa Catalina")})
    with psycopg.connect(snapshot, autocommit=True) as conn:
        conn.execute("update marts.mart_prioritisation set category = 'E' where municipality_id = '00004'")
        conn.execute("update marts.mart_prioritisation set need_score = 98.53747714808044 "
                     "where municipality_id = '00001'")
    report.build(snapshot, tmp_path, progress=lambda m: None)
    wb = openpyxl.load_workbook(tmp_path / "priorizacion_2025.xlsx")
    national = wb["Nacional"]
    header = [c.value for c in national[2]]
    data = sheet_rows(national)
    with psycopg.connect(snapshot) as conn:
        expected = [r[0] for r in conn.execute(
            "select municipality_id from marts.mart_prioritisation where prioritisation_year = 2025 "
            "order by national_rank nulls last, municipality_id")]
    assert [r["Código DANE"] for r in data] == expected  # every municipality, in national rank order
    assert national.auto_filter.ref == f"A2:{national.cell(2, len(header)).column_letter}{len(data) + 2}"
    assert national.freeze_panes == "A3"
    column = {h: k + 1 for k, h in enumerate(header)}
    by_id = {r[column["Código DANE"] - 1].value: r for r in national.iter_rows(min_row=3)}
    score = by_id["00001"][column["Puntaje de necesidad"] - 1]
    assert score.value == pytest.approx(98.53747714808044) and score.number_format == "#,##0.0"
    assert by_id["00001"][column["MDM valor"] - 1].number_format == "#,##0.00"
    assert by_id["00001"][column["MDM año"] - 1].number_format == "0"  # 2023, not 2.023
    assert by_id["00001"][column["Fecha de corte"] - 1].number_format == "DD/MM/YYYY"
    categories = {m: by_id[m][column["Categoría"] - 1].value for m in ("00001", "00003", "00004")}
    assert categories == {"00001": 6, "00003": 3, "00004": "E"}  # numbers, and E as text
    for name in ("Municipio", "Departamento"):  # widths fit the longest name (they were cut at 12)
        letter = national.cell(2, column[name]).column_letter
        assert national.column_dimensions[letter].width >= len(by_id["00001"][column[name] - 1].value)
    for ws in wb.worksheets[1:]:
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A2:")
        assert all(ws.column_dimensions[c.column_letter].width >= 8 for c in ws[2])

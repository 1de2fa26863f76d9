"""The report for the planning office: HTML rendered in headless Chromium, the XLSX list."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import psycopg
import pytest

from sinfonia import db, prioritisation, report
from sinfonia.sample import SAMPLE_ORIGIN_PREFIX
from tests.integration.test_prioritisation_method import build_inputs

pytestmark = pytest.mark.integration

HEADINGS = ("Priorización anual 2025", "Puntaje de necesidad por dirección territorial",
            "Seleccionados frente a la meta", "Aporte de cada indicador en los primeros de la lista")
# Appended to a copy of the page: once everything has loaded, it writes what the browser sees.
PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                 shown: i.getBoundingClientRect().width}));
  const headings = [...document.querySelectorAll('h1, h2, h3')].map(h => h.textContent.trim());
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify({images, headings}); document.body.appendChild(out);
});</script>"""


def mark_as_sample(dsn: str, sample: bool) -> None:
    db.bootstrap(dsn)
    origin = (SAMPLE_ORIGIN_PREFIX if sample else "") + "https://www.dnp.gov.co (IDF 2023)"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into meta.landed_file (sha256, source, file_name, origin, size_bytes, stored_path) "
                     "values ('abc', 'idf', 'x.xlsx', %s, 1, 'idf/abc/x.xlsx')", (origin,))
        conn.execute("insert into meta.load_run (source, period, files, started_at, status) "
                     "values ('idf', '2023', '{abc}', now(), 'loaded')")


@pytest.fixture
def snapshot(fresh_dsn):
    build_inputs(fresh_dsn)
    prioritisation.run(fresh_dsn, 2025)
    return fresh_dsn


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
    for heading in HEADINGS:
        assert heading in seen["headings"], (heading, seen["headings"])
    assert "DATOS SINTÉTICOS DE MUESTRA" in page.read_text(encoding="utf-8")


def test_xlsx_has_one_sheet_per_directorate_in_rank_order_with_the_sample_banner(snapshot, tmp_path):
    mark_as_sample(snapshot, sample=True)
    report.build(snapshot, tmp_path, progress=lambda m: None)
    wb = openpyxl.load_workbook(tmp_path / "priorizacion_2025.xlsx")
    assert wb.sheetnames == ["D1", "D2"]
    for ws in wb.worksheets:
        assert ws["A1"].value.startswith("DATOS SINTÉTICOS DE MUESTRA")
    ws = wb["D1"]
    header = [c.value for c in ws[3]]
    data = [dict(zip(header, [c.value for c in row])) for row in ws.iter_rows(min_row=4)]
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

"""``sinfonia extract SOURCE --from URL`` against a real local HTTP server: page or download, land, load."""

from __future__ import annotations

import psycopg
import pytest

from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.locations import LOCATIONS, guess_expect, location
from sinfonia.ingest.tables.cells import DEPARTMENTS
from tests.conftest import sinfonia
from tests.corpus import idf_book
from tests.unit.test_http import socrata
from tests.webserver import LocalWeb, send

pytestmark = pytest.mark.integration

FAST = {"SINFONIA_HTTP_RETRIES": "1", "SINFONIA_HTTP_TIMEOUT": "5"}


def divipola_records(n_departments: int = 25, per_department: int = 100) -> list[dict]:
    """2,500 well-formed DIVIPOLA records (synthetic municipality codes under real department codes:
    the code parser refuses a department DANE does not have), in a shuffled order."""
    departments = sorted(DEPARTMENTS)[:n_departments]
    records = [
        {"cod_dpto": d, "dpto": f"DEPTO {d}", "cod_mpio": f"{d}{m:03d}", "nom_mpio": f"MPIO {d}-{m}",
         "tipo_municipio": "Municipio"}
        for d in departments for m in range(1, per_department + 1)
    ]
    return records[1::2] + records[::2]


@pytest.fixture
def web():
    with LocalWeb() as server:
        yield server


def test_divipola_from_a_socrata_url_is_paged_landed_and_loaded(fresh_dsn, web):
    url = web.route("/resource/gdxc-w37w.json", socrata(divipola_records()))
    proc = sinfonia("extract", "divipola", "--from", url, env={"WAREHOUSE_DSN": fresh_dsn, **FAST}, check=False)
    assert "divipola current: read 2500, loaded 2500, quarantined 0" in proc.stdout, proc.stdout
    # through the extract DAG: its raw gate judges the load (2,500 made-up entities in one edition)
    assert proc.returncode == 1 and "raw_divipola: every edition holds between 1 and 1,200 entities" in proc.stderr
    assert web.hits["/resource/gdxc-w37w.json"] == 3  # 1000 + 1000 + 500: the short page ends it
    with psycopg.connect(fresh_dsn) as conn:
        landed = conn.execute("select file_name, origin from meta.landed_file order by 1").fetchall()
        assert [f for f, _ in landed] == [f"gdxc-w37w-page-000{i}.json" for i in (1, 2, 3)]
        assert {o for _, o in landed} == {url}
        assert conn.execute("select count(distinct municipality_code) from raw.divipola").fetchone()[0] == 2500


def test_a_workbook_from_a_url_keeps_the_url_as_origin(fresh_dsn, web, tmp_path):
    data = idf_book(tmp_path).read_bytes()
    url = web.route("/files/ResultadosIDF_2023.xlsx", lambda h, n: send(h, b"busy", status=503) if n == 1 else send(h, data))
    proc = sinfonia("extract", "idf", "--from", url, env={"WAREHOUSE_DSN": fresh_dsn, **FAST}, check=False)
    assert "idf 2023-nueva: read 3, loaded 3, quarantined 0" in proc.stdout, proc.stdout
    assert proc.returncode == 1 and "raw_idf: every IDF code exists in DIVIPOLA" in proc.stderr  # the raw gate
    assert "HTTP 503" in proc.stdout  # the retry is logged
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select file_name, origin from meta.landed_file").fetchall() == [("ResultadosIDF_2023.xlsx", url)]


def test_an_html_page_served_for_a_workbook_is_one_line_naming_the_url(fresh_dsn, web):
    url = web.route("/files/anexo.xlsx", lambda h, n: send(h, b"<html><body>Acceso denegado</body></html>",
                                                           content_type="text/html"))
    proc = sinfonia("extract", "idf", "--from", url, env={"WAREHOUSE_DSN": fresh_dsn, **FAST}, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "HTML page" in lines[0], proc.stderr
    bootstrap(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from meta.load_run").fetchone()[0] == 0


def test_without_network_the_error_is_one_line_naming_the_url(fresh_dsn):
    url = "http://127.0.0.1:9/resource/gdxc-w37w.json"  # nothing listens on the discard port
    proc = sinfonia("extract", "divipola", "--from", url,
                    env={"WAREHOUSE_DSN": fresh_dsn, "SINFONIA_HTTP_RETRIES": "0"}, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "connection failed" in lines[0], proc.stderr


def test_the_registry_holds_the_documented_locations():
    assert location("divipola").url.endswith("/resource/gdxc-w37w.json") and location("divipola").kind == "socrata"
    assert "nkjx-rsq7" in LOCATIONS["mdm"].url
    assert LOCATIONS["ipm"].url.endswith("anexo-censal-pobreza-municipal-2018.xlsx") and len(LOCATIONS["ipm"].sha256) == 64
    assert LOCATIONS["imrc"].url.endswith("IMRC-BASE-DE-DATOS-2024.xlsx")
    assert guess_expect("https://x/a.xlsx?download=1") == "xlsx" and guess_expect("https://x/page") is None
    with pytest.raises(LookupError, match="pass a URL or a path"):
        location("pdet")


def test_year_sets_the_period_of_a_source_that_takes_one(fresh_dsn, tmp_path):
    from tests.corpus import pdet_book

    path = pdet_book(tmp_path, [["Catatumbo", 54, "Norte de Santander", 54810, "Tibú"]])
    proc = sinfonia("extract", "pdet", "--from", str(path), "--year", "2024", env={"WAREHOUSE_DSN": fresh_dsn},
                    check=False)
    assert "pdet 2024: read 1, loaded 1, quarantined 0" in proc.stdout, proc.stdout
    assert proc.returncode == 1 and "raw_pdet: every PDET code exists in DIVIPOLA" in proc.stderr  # the raw gate
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select period from meta.landed_file").fetchone()[0] == "2024"
        assert conn.execute("select distinct _period from raw.pdet").fetchall() == [("2024",)]

"""MDM, IPM, IMRC and CGN categories loaded into a real PostgreSQL: reconciled, idempotent."""

import shutil

import openpyxl
import psycopg
import pytest
from psycopg import sql

from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.extract import extract_folder
from sinfonia.ingest.sources import contract

pytestmark = pytest.mark.integration

SOURCES = {"mdm": ("mdm",), "ipm": ("ipm", "ipm_privations"), "imrc": ("imrc",), "cgn_categories": ("cgn_categories",)}


@pytest.fixture
def damaged(small_sample, tmp_path):
    """The small sample with one bad cell per source: each must end in quarantine, not in raw."""
    folder = tmp_path / "s"
    for sub in ("mdm", "ipm", "imrc", "cgn"):
        shutil.copytree(small_sample / sub, folder / sub)
    page = sorted((folder / "mdm").glob("*.json"))[0]
    page.write_text(page.read_text(encoding="utf-8").replace('"dato": "', '"dato": "ND', 1), encoding="utf-8")
    path = folder / "ipm" / "anexo-censal-pobreza-municipal-2018.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["4_IPM Mpio dominios"]["D9"] = "Sin dato"  # the first municipality's total
    wb.save(path)
    path = folder / "imrc" / "IMRC-BASE-DE-DATOS-2024.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Exceso de Lluvias"]
    ws.cell(row=3, column=ws.max_column, value="en revisión")
    wb.save(path)
    path = folder / "cgn" / "HISTORICOS.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["HISTORIA-CAT-MUNIC"]["F8"] = "Séptima"
    wb.save(path)
    return folder


def test_every_new_source_reconciles_and_reloads_without_duplicates(fresh_dsn, damaged):
    bootstrap(fresh_dsn)
    first = {s: extract_folder(s, damaged, fresh_dsn) for s in SOURCES}
    assert all(extract_folder(s, damaged, fresh_dsn) == [] for s in SOURCES)  # same bytes: skipped
    second = {s: extract_folder(s, damaged, fresh_dsn, force=True) for s in SOURCES}
    with psycopg.connect(fresh_dsn) as conn:
        for source, tables in SOURCES.items():
            assert first[source] and [str(r) for r in first[source]] == [str(r) for r in second[source]]
            quarantined = sum(r.rows_quarantined for r in first[source])
            assert quarantined == 1, source  # exactly the damaged cell
            for table in tables:
                query = sql.SQL("select count(*) from {}").format(sql.Identifier("raw", table))
                loaded = conn.execute(query).fetchone()[0]
                assert loaded == sum(r.rows_loaded for r in second[source] if r.source == table), table
        bad = conn.execute("select count(*) from meta.load_run where rows_read <> rows_loaded + rows_quarantined").fetchone()[0]
        reasons = dict(conn.execute("select source, reason from meta.quarantine"))
        nd = conn.execute("select count(*) from raw.mdm where value like 'ND%'").fetchone()[0]
    assert bad == 0 and nd == 0
    assert set(reasons) == set(SOURCES)
    # one wording per rule (sinfonia.ingest.sources.contract): text where a number is published
    assert reasons["mdm"] == reasons["ipm"] == contract.NOT_A_NUMBER == "expected a number"
    assert "Sin población expuesta" in reasons["imrc"] and "E or ESP (especial), 1–6 or SIN" in reasons["cgn_categories"]
